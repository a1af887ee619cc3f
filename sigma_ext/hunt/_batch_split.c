/* Batch documents split into their records natively (sigma_ext/hunt/batch_split.py).
 *
 * split(data, keys, refused, longest, partial=False, line=1)
 *     -> (records, lines, ends, consumed, line) or None
 *
 * data is a whole input's text (UTF-8, checked by the caller): one or more JSON objects, one
 * after another, each holding a batch, an array of objects under one of keys (a tuple of bytes)
 * at its top level, and no key of refused (batches whose records the Python reader takes from
 * inside their elements). records is the text of every element of every batch, in order, each with
 * its line breaks ('\r', '\n') made spaces and a '\n' after it: the text batches.read_documents
 * hands on for it. lines holds, per record, the line it starts on (1-based), and ends where its
 * text ends in records (past its '\n'), both uint32. consumed is the length of data read (all of
 * it), and line the line there; line is the line data starts on.
 *
 * With partial, data is a piece of a longer text, starting at a document: the documents are
 * split up to the first one not split (cut by the piece's end, or refused), and consumed and
 * line say where it starts, for the caller to read on from there (or give the whole text to
 * the Python reader, when that document is not cut but refused).
 *
 * None when the text is not plainly of that shape, and batches.read_documents must read it:
 * anything but whitespace between the documents, a document with no batch, a key with an
 * escape or a control character, a scalar with a control character or a byte that is not ASCII
 * (Python's \\s: the reader's end of a scalar), a batch element that is not an object, a trailing comma, text that ends early, a
 * record longer than longest bytes, and an element with anything outside its strings that no
 * JSON value but true, false, null and numbers holds (NaN, Infinity: Python's decoder reads
 * them, the hunt's line reader does not). What is accepted is read exactly as the Python reader
 * reads it: values are delimited by their brackets and strings (a backslash escapes the next
 * character), the scalars of other keys by the next ',', ']', '}' or whitespace.
 * tests/test_batch_split.py proves both readers give the same records. Runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const unsigned char *p, *end;
    uint32_t line;
} Text;

static int is_space(unsigned char c) {
    /* batches._WHITESPACE */
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void skip_space(Text *t) {
    while (t->p < t->end && is_space(*t->p)) {
        if (*t->p == '\n') t->line++;
        t->p++;
    }
}

/* bytes a string's loop stops at: '"', '\\', and the control characters (a '\n' to count) */
static unsigned char in_string[256];
/* bytes the loop over an object or array stops at: brackets, '"', '\n', and any byte
 * that is not plain */
static unsigned char in_nested[256];
/* whether a byte outside strings can be part of true, false, null or a number, punctuation or
 * whitespace */
static unsigned char plain[256];

static void make_tables(void) {
    for (int c = 0; c < 256; c++) {
        plain[c] = (c >= '0' && c <= '9') || (c && strchr("{}[],: \t\r\n+-.eEtrufalsn", c));
        in_string[c] = c == '"' || c == '\\' || c < 0x20;
        in_nested[c] = !plain[c] || strchr("\"{}[]\n", c) != NULL;
    }
    in_nested[0] = 1;
}

/* past the string whose '"' is at t->p; 0 when the text ends inside it; *odd is set when it
 * holds an escape or a control character */
static int skip_string(Text *t, int *odd) {
    const unsigned char *p = t->p + 1, *end = t->end;
    for (;;) {
        while (p < end && !in_string[*p]) p++;
        if (p >= end) return 0;
        unsigned char c = *p;
        if (c == '"') {
            t->p = p + 1;
            return 1;
        }
        if (odd) *odd = 1;
        if (c == '\\') {
            p++;
            if (p < end && *p == '\n') t->line++;
        } else if (c == '\n') {
            t->line++;
        }
        p++;
    }
}

/* past the object or array at t->p (brackets matched, strings skipped); 0 when the text ends
 * first; *plain_only stays 1 while every byte outside its strings is plain */
static int skip_nested(Text *t, int *plain_only) {
    int depth = 0;
    const unsigned char *end = t->end;
    for (;;) {
        const unsigned char *p = t->p;
        while (p < end && !in_nested[*p]) p++;
        t->p = p;
        if (p >= end) return 0;
        unsigned char c = *p;
        if (c == '"') {
            if (!skip_string(t, NULL)) return 0;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '\n') {
            t->line++;
        } else if (plain_only) {
            *plain_only = 0;
        }
        t->p++;
        if (depth == 0) return 1;
    }
}

/* past a value of a key that is no batch (batches._value_end); 0 when the text ends first */
static int skip_value(Text *t) {
    if (t->p >= t->end) return 0;
    unsigned char c = *t->p;
    if (c == '"') return skip_string(t, NULL);
    if (c == '{' || c == '[') return skip_nested(t, NULL);
    const unsigned char *start = t->p;
    while (t->p < t->end && *t->p != ',' && *t->p != ']' && *t->p != '}' && !is_space(*t->p)) {
        if (*t->p < 0x20 || *t->p >= 0x80) return 0;
        t->p++;
    }
    return t->p > start && t->p < t->end;
}

typedef struct {
    unsigned char *out;
    size_t used;
    uint32_t *lines, *ends;
    size_t count, cap;
    Py_ssize_t longest;
} Split;

/* the elements of the batch whose '[' is at t->p; 0 when refused */
static int elements(Text *t, Split *s) {
    t->p++;
    skip_space(t);
    if (t->p < t->end && *t->p == ']') {
        t->p++;
        return 1;
    }
    for (;;) {
        skip_space(t);
        if (t->p >= t->end || *t->p != '{') return 0;
        const unsigned char *start = t->p;
        uint32_t line = t->line;
        int plain_only = 1;
        if (!skip_nested(t, &plain_only) || !plain_only) return 0;
        size_t n = (size_t)(t->p - start);
        if ((Py_ssize_t)n > s->longest) return 0;
        if (s->count == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 256;
            uint32_t *grown = realloc(s->lines, cap * sizeof(uint32_t));
            if (!grown) return -1;
            s->lines = grown;
            grown = realloc(s->ends, cap * sizeof(uint32_t));
            if (!grown) return -1;
            s->ends = grown;
            s->cap = cap;
        }
        s->lines[s->count++] = line;
        unsigned char *to = s->out + s->used;
        memcpy(to, start, n);
        for (int k = 0; k < 2; k++) { /* line breaks made spaces */
            unsigned char *at = to, *stop = to + n;
            while ((at = memchr(at, k ? '\n' : '\r', (size_t)(stop - at)))) *at++ = ' ';
        }
        s->used += n;
        s->out[s->used++] = '\n';
        s->ends[s->count - 1] = (uint32_t)s->used;
        skip_space(t);
        if (t->p >= t->end) return 0;
        if (*t->p == ']') {
            t->p++;
            return 1;
        }
        if (*t->p != ',') return 0;
        t->p++;
        skip_space(t);
        if (t->p < t->end && *t->p == ']') return 0; /* a trailing comma */
    }
}

static int in(const unsigned char *key, size_t n, PyObject *keys) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        PyObject *k = PyTuple_GET_ITEM(keys, i);
        if ((size_t)PyBytes_GET_SIZE(k) == n && memcmp(PyBytes_AS_STRING(k), key, n) == 0)
            return 1;
    }
    return 0;
}

/* one top-level document at t->p; 0 when refused */
static int document(Text *t, Split *s, PyObject *keys, PyObject *refused) {
    if (*t->p != '{') return 0;
    t->p++;
    int batches = 0;
    skip_space(t);
    if (t->p < t->end && *t->p == '}') return 0; /* {}: a record, not a batch */
    for (;;) {
        skip_space(t);
        if (t->p >= t->end || *t->p != '"') return 0;
        const unsigned char *key = t->p + 1;
        int odd = 0;
        if (!skip_string(t, &odd) || odd) return 0;
        size_t n = (size_t)(t->p - 1 - key);
        if (in(key, n, refused)) return 0;
        skip_space(t);
        if (t->p >= t->end || *t->p != ':') return 0;
        t->p++;
        skip_space(t);
        if (t->p >= t->end) return 0;
        if (*t->p == '[' && in(key, n, keys)) {
            int done = elements(t, s);
            if (done <= 0) return done;
            batches++;
        } else if (!skip_value(t)) {
            return 0;
        }
        skip_space(t);
        if (t->p >= t->end) return 0;
        if (*t->p == '}') {
            t->p++;
            return batches > 0;
        }
        if (*t->p != ',') return 0;
        t->p++;
    }
}

static PyObject *split(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer buf;
    PyObject *keys, *refused;
    Py_ssize_t longest;
    int partial = 0;
    unsigned int first_line = 1;
    if (!PyArg_ParseTuple(args, "y*O!O!n|pI", &buf, &PyTuple_Type, &keys, &PyTuple_Type,
                          &refused, &longest, &partial, &first_line))
        return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys) + PyTuple_GET_SIZE(refused); i++) {
        Py_ssize_t k = i - PyTuple_GET_SIZE(keys);
        if (!PyBytes_Check(k < 0 ? PyTuple_GET_ITEM(keys, i) : PyTuple_GET_ITEM(refused, k))) {
            PyBuffer_Release(&buf);
            PyErr_SetString(PyExc_TypeError, "keys must be tuples of bytes");
            return NULL;
        }
    }
    Text t = {buf.buf, (const unsigned char *)buf.buf + buf.len, first_line};
    Split s = {malloc((size_t)buf.len + 1), 0, NULL, NULL, 0, 0, longest};
    int ok = s.out != NULL;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS;
        int documents = 0;
        for (;;) {
            skip_space(&t);
            if (t.p >= t.end) break;
            const unsigned char *start = t.p;
            uint32_t line = t.line;
            size_t used = s.used, count = s.count;
            ok = document(&t, &s, keys, refused);
            if (ok == 0 && partial) { /* stop before it: the caller reads on, or refuses */
                t.p = start;
                t.line = line;
                s.used = used;
                s.count = count;
                ok = 1;
            }
            if (ok <= 0 || t.p == start) break;
            documents++;
        }
        if (ok > 0 && !documents && !partial) ok = 0;
        Py_END_ALLOW_THREADS;
    }
    PyBuffer_Release(&buf);
    PyObject *result = NULL;
    if (ok < 0 || !s.out) {
        PyErr_NoMemory();
    } else if (ok == 0) {
        result = Py_NewRef(Py_None);
    } else {
        Py_ssize_t n = (Py_ssize_t)(s.count * sizeof(uint32_t));
        result = Py_BuildValue("(y#y#y#nI)", (const char *)s.out, (Py_ssize_t)s.used,
                               s.lines ? (const char *)s.lines : "", n,
                               s.ends ? (const char *)s.ends : "", n,
                               (Py_ssize_t)(t.p - (const unsigned char *)buf.buf), t.line);
    }
    free(s.out);
    free(s.lines);
    free(s.ends);
    return result;
}

static PyMethodDef module_methods[] = {
    {"split", split, METH_VARARGS,
     "split(data, keys, refused, longest, partial=False, line=1) -> (records, their lines and "
     "ends as uint32, bytes consumed, the line there) or None: the "
     "records of "
     "batch documents of the plain shape"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_batch_split", "Batch documents split into records natively.", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__batch_split(void) {
    make_tables();
    return PyModule_Create(&module);
}
