/* Lines classified by a DFA (sigma_ext/hunt/fast/line_dfa.py builds it).

   Automaton(classes, table, flags, accel, start): the automaton, checked and laid out for the
   scan once. Each byte goes through classes (256 bytes: its class) and table (uint16 per
   (state, class), native order, state 0 dead), from state start. flags holds per state the
   expressions it ends (low nibble) and those a later state can still end (high nibble). accel
   holds per state four bytes: n (1 to 3, else 0) and the ASCII bytes other than '\n' that
   leave the state; the scan skips to the next of them eight bytes at a time. What it cannot
   hold raises ValueError.

   Automaton.scan(buffer, pick) -> (lines, counts, picks)

   Reads the lines of buffer. A line ends at '\n' (or the buffer's end); the automaton reads it
   without its '\n' and trailing '\r's, then a '\n' for its end (what `$` matches: no other
   class holds it). A line's outcome is every expression some prefix of it matched (the
   automaton stops once no later state can add to it); 17 when it is empty, 16 when it holds a
   byte over 0x7f (the automaton reads ASCII text: the caller judges such lines another way).
   counts: the lines per outcome (18 integers, native int64, as bytes). picks: for every line
   whose outcome's bit is set in pick, four native int64 (outcome, its 0-based number in the
   buffer, start, stop: stop is past its '\n'), in line order.

   The GIL is released while lines are read; the buffer is held until then. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define OUTCOMES 18
#define NON_ASCII 16
#define EMPTY 17

typedef struct {
    int64_t *items;
    size_t len, cap;
} Picks;

static int pick_line(Picks *p, int64_t outcome, int64_t number, int64_t start, int64_t stop) {
    if (p->len + 4 > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        int64_t *items = realloc(p->items, cap * sizeof(int64_t));
        if (items == NULL) return -1;
        p->items = items;
        p->cap = cap;
    }
    p->items[p->len++] = outcome;
    p->items[p->len++] = number;
    p->items[p->len++] = start;
    p->items[p->len++] = stop;
    return 0;
}

static const uint64_t ONES = 0x0101010101010101ULL;
static const uint64_t HIGHS = 0x8080808080808080ULL;

/* The lowest byte of v that is zero marks its 0x80 bit (bits above it may be set too). */
static inline uint64_t zero_bytes(uint64_t v) { return (v - ONES) & ~v & HIGHS; }

static inline const unsigned char *next_of(const unsigned char *q, const unsigned char *e,
                                           const unsigned char *set) {
    int n = set[0];
    uint64_t a = ONES * set[1], b = ONES * set[n > 1 ? 2 : 1], c = ONES * set[n > 2 ? 3 : 1];
    while (e - q >= 8) {
        uint64_t w;
        memcpy(&w, q, 8);
        uint64_t hit = zero_bytes(w ^ a) | zero_bytes(w ^ b) | zero_bytes(w ^ c);
        if (hit) {
#if PY_LITTLE_ENDIAN
            return q + (__builtin_ctzll(hit) >> 3);
#else
            break;
#endif
        }
        q += 8;
    }
    while (q < e && *q != set[1] && *q != set[n > 1 ? 2 : 1] && *q != set[n > 2 ? 3 : 1]) q++;
    return q;
}

static inline int ascii(const unsigned char *p, const unsigned char *e) {
    uint64_t any = 0;
    while (e - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        any |= w;
        p += 8;
    }
    while (p < e) any |= *p++;
    return (any & HIGHS) == 0;
}

typedef struct {
    PyObject_HEAD
    unsigned char classes[256];
    unsigned char *flags, *accel;
    uint32_t *cells, *rows;
    /* cells, per (state, class): bits 0-19 the next state's row (state * width), bits 20-30
       the next state, bit 31 set when that state ends an expression, is accelerated or cannot
       end every expression: the tight loop reads one cell per byte and leaves it only there */
    int start;
} Automaton;

#define ROW_BITS 20
#define STATE_MASK 0x7FFU
#define SPECIAL 0x80000000U

static int outcome_of(const Automaton *d, const unsigned char *p, const unsigned char *e) {
    while (e > p && e[-1] == '\r') e--;
    unsigned state = (unsigned)d->start;
    unsigned seen = 0;
    int ended = 0;
    for (;;) {
        /* a special state (the start is read as one) */
        unsigned char f = d->flags[state];
        seen |= f & 0x0FU;
        if (ended || !((f >> 4) & ~seen)) return (int)seen;
        const unsigned char *set = d->accel + 4 * (size_t)state;
        if (set[0]) p = next_of(p, e, set);
        uint32_t row = d->rows[state], cell;
        for (;;) {
            if (p == e) {
                /* the line's end, read as '\n' (what `$` matches; no class holds it) */
                cell = d->cells[row + d->classes['\n']];
                ended = 1;
                break;
            }
            cell = d->cells[row + d->classes[*p++]];
            if (cell & SPECIAL) break;
            row = cell & ((1U << ROW_BITS) - 1);
        }
        state = (cell >> ROW_BITS) & STATE_MASK;
    }
}

static void Automaton_dealloc(Automaton *self) {
    free(self->flags);
    free(self->accel);
    free(self->cells);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Automaton_init(Automaton *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"classes", "table", "flags", "accel", "start", NULL};
    Py_buffer classes, table, flags, accel;
    int start;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*y*y*y*i", names, &classes, &table, &flags,
                                     &accel, &start))
        return -1;
    free(self->flags);
    free(self->accel);
    free(self->cells);
    self->flags = self->accel = NULL;
    self->cells = self->rows = NULL;
    int result = -1;
    Py_ssize_t states = flags.len;
    Py_ssize_t width = 0;
    const char *problem = NULL;
    if (classes.len != 256) problem = "classes: 256 bytes";
    for (Py_ssize_t i = 0; problem == NULL && i < 256; i++)
        if (((const unsigned char *)classes.buf)[i] >= width)
            width = ((const unsigned char *)classes.buf)[i] + 1;
    if (problem == NULL && (states < 1 || table.len != states * width * 2))
        problem = "table: a uint16 per state and class";
    if (problem == NULL && accel.len != 4 * states) problem = "accel: four bytes per state";
    if (problem == NULL && (start < 0 || start >= states)) problem = "start: a state";
    if (problem == NULL && (states > (Py_ssize_t)STATE_MASK + 1 ||
                            states * width > ((Py_ssize_t)1 << ROW_BITS)))
        problem = "table: too many states";
    for (Py_ssize_t i = 0; problem == NULL && i < states; i++) {
        const unsigned char *set = (const unsigned char *)accel.buf + 4 * i;
        if (set[0] > 3) problem = "accel: at most three bytes";
        for (int k = 1; problem == NULL && k <= set[0]; k++)
            if (set[k] > 0x7f || set[k] == '\n') problem = "accel: ASCII bytes but '\\n'";
    }
    if (problem == NULL) {
        self->cells = malloc(sizeof(uint32_t) * (size_t)(states * width + states));
        self->flags = malloc((size_t)states);
        self->accel = malloc((size_t)(4 * states));
        if (self->cells == NULL || self->flags == NULL || self->accel == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    const unsigned char *flag = flags.buf, *sets = accel.buf;
    unsigned every = 0;
    for (Py_ssize_t i = 0; problem == NULL && i < states; i++) every |= flag[i] & 0x0FU;
    for (Py_ssize_t i = 0; problem == NULL && i < states * width; i++) {
        uint16_t next;
        memcpy(&next, (const char *)table.buf + 2 * i, 2);
        if (next >= states) {
            problem = "table: a state out of range";
            break;
        }
        int special = (flag[next] & 0x0FU) || sets[4 * next] || (flag[next] >> 4) != every;
        self->cells[i] =
            (uint32_t)(next * width) | ((uint32_t)next << ROW_BITS) | (special ? SPECIAL : 0);
    }
    if (problem != NULL) {
        PyErr_SetString(PyExc_ValueError, problem);
        goto done;
    }
    self->rows = self->cells + states * width;
    for (Py_ssize_t i = 0; i < states; i++) self->rows[i] = (uint32_t)(i * width);
    memcpy(self->classes, classes.buf, 256);
    memcpy(self->flags, flags.buf, (size_t)states);
    memcpy(self->accel, accel.buf, (size_t)(4 * states));
    self->start = start;
    result = 0;
done:
    if (result < 0) {
        free(self->flags);
        free(self->accel);
        free(self->cells);
        self->flags = self->accel = NULL;
        self->cells = self->rows = NULL;
    }
    PyBuffer_Release(&classes);
    PyBuffer_Release(&table);
    PyBuffer_Release(&flags);
    PyBuffer_Release(&accel);
    return result;
}

static PyObject *Automaton_scan(Automaton *self, PyObject *args) {
    Py_buffer buffer;
    unsigned long pick;
    if (self->cells == NULL) {
        PyErr_SetString(PyExc_ValueError, "the automaton was not built");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*k", &buffer, &pick)) return NULL;
    PyObject *result = NULL;
    int64_t counts[OUTCOMES] = {0};
    Picks picks = {NULL, 0, 0};
    int failed = 0;
    const unsigned char *base = buffer.buf, *end = base + buffer.len, *p = base;
    long long lines = 0;
    Py_BEGIN_ALLOW_THREADS
    /* the lines are ASCII text when the buffer is (most logs): checked at once, not a line at
       a time */
    const int clean = ascii(p, end);
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *e = nl ? nl : end;
        int outcome = e == p                      ? EMPTY
                      : !clean && !ascii(p, e) ? NON_ASCII
                                               : outcome_of(self, p, e);
        counts[outcome]++;
        const unsigned char *next = nl ? nl + 1 : end;
        if ((pick >> outcome) & 1UL) {
            if (pick_line(&picks, outcome, lines, p - base, next - base) < 0) {
                failed = 1;
                break;
            }
        }
        lines++;
        p = next;
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
    } else {
        PyObject *count_bytes = PyBytes_FromStringAndSize((const char *)counts, sizeof counts);
        PyObject *pick_bytes =
            PyBytes_FromStringAndSize((const char *)picks.items, (Py_ssize_t)(picks.len * 8));
        if (count_bytes && pick_bytes)
            result = Py_BuildValue("LOO", lines, count_bytes, pick_bytes);
        Py_XDECREF(count_bytes);
        Py_XDECREF(pick_bytes);
    }
    free(picks.items);
    PyBuffer_Release(&buffer);
    return result;
}

static PyMethodDef Automaton_methods[] = {
    {"scan", (PyCFunction)Automaton_scan, METH_VARARGS,
     "scan(buffer, pick) -> (lines, counts, picks) (see the module's source)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sigma_ext.hunt.fast._line_dfa.Automaton",
    .tp_basicsize = sizeof(Automaton),
    .tp_dealloc = (destructor)Automaton_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A DFA over lines, laid out for the scan (see the module's source).",
    .tp_methods = Automaton_methods,
    .tp_init = (initproc)Automaton_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_line_dfa", NULL, -1, NULL,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__line_dfa(void) {
    if (PyType_Ready(&AutomatonType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&AutomatonType);
    if (PyModule_AddObject(m, "Automaton", (PyObject *)&AutomatonType) < 0) {
        Py_DECREF(&AutomatonType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
