/* The fast hunt's native line prefilter (sigma_ext.hunt.fast.prefilter describes it).
 *
 * Prefilter(spec).scan(buffer) reads whole lines (split on '\n') and sets aside those it can
 * prove no rule fires on: a line is *dismissed* only when it is strict JSON (RFC 8259, ASCII or
 * valid UTF-8, at most MAX_DEPTH deep, numbers of at most MAX_NUMBER characters), starts with
 * the source's first keys (the prefix), and no rule's necessary condition holds on the values
 * at the paths the conditions test (read exactly: a key with an escape on a tested path, a
 * repeated tested key, an array or a scalar where a tested path goes on, or a key spelling a
 * dotted run of a tested path makes the line go on). Every other line is *passed on* verbatim,
 * with its number, to be judged as before. The spec is compiled from the rules in Python; this
 * file knows no rule, no field and no source.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* A rule's |re values are tested with the C library's POSIX regular expressions where they are
 * glibc's (REG_STARTEND, and a search the same on every text the judge searches, see
 * sigma_ext.hunt.fast.posix_regex); elsewhere such a test is unknown. */
#if defined(__GLIBC__)
#define SX_REGEX 1
#include <regex.h>
#else
#define SX_REGEX 0
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* Where the compiler can build a function for SSSE3 (x86 GCC and Clang), a string holding only
 * plain ASCII and \" escapes (a JSON document carried in a string: EKS's and AKS's audit events)
 * is decoded 16 bytes at a time, its backslashes dropped by a byte shuffle; used when the CPU
 * has SSSE3 (sx_ssse3, read at import), else the SSE2 loop decodes it an escape at a time. */
#if defined(__SSE2__) && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SX_SHUFFLE 1
#include <tmmintrin.h>
#else
#define SX_SHUFFLE 0
#endif

/* The hot readers are inlined where they are called (a call costs more than a short key). */
#if defined(__GNUC__)
#define SX_INLINE static inline __attribute__((always_inline))
#else
#define SX_INLINE static inline
#endif

#define MAX_DEPTH 64
#define MAX_NODES 30000 /* a node's slot table numbers its children in a short */
_Static_assert(MAX_NODES <= SHRT_MAX, "a child's number must fit the slot table's short");
#define MAX_BANKS 16
#define MAX_NUMBER 64
/* A key's slot among KEY_SLOTS, from its length and first and last characters: where a node's
 * children and the dotted keys are looked up (a key whose slot holds none is none of them). */
#define KEY_SLOTS 64
#define KEY_NONE (-1)
#define KEY_SOME (-2)
#define DOTTED_BITS 1024
static inline unsigned key_hash(const unsigned char *key, Py_ssize_t len) {
    unsigned first = len ? key[0] : 0, last = len ? key[len - 1] : 0;
    return (unsigned)len * 0x9E3779B1u ^ first * 0x85EBCA77u ^ last * 0xC2B2AE3Du;
}
#define KEY_SLOT(h) (((h) >> 8) & (KEY_SLOTS - 1))
#define DOTTED_BIT(h) (((h) >> 16) & (DOTTED_BITS - 1))

enum { V_ABSENT = 0, V_NULL, V_STRING, V_NUMBER, V_OTHER, V_LIST, V_BOOL };
/* A_PRESENT: the key is there, whatever its value (null too), and A_OBJECT: its value is an
 * object: a recogniser's tests; A_LT to A_GTE: a number compared with the integer (|lt, |lte,
 * |gt, |gte) */
enum { A_GLOB = 0, A_INT, A_NULL, A_BOOL, A_REGEX, A_PRESENT, A_LT, A_LTE, A_GT, A_GTE, A_OBJECT };
#define COMPARED(kind) ((kind) >= A_LT && (kind) <= A_GTE)

typedef struct {
    int state;
    const unsigned char *p;
    Py_ssize_t n;
    int escaped;
} Value;

typedef struct {
    int kind;
    long long number;
    char *text; /* lower case; '\x01' is '*', '\x02' is '?'; A_REGEX: a POSIX ERE */
    Py_ssize_t len;
    int first; /* the character a matching text starts with (-1: any) */
    int plain; /* A_GLOB without a wildcard: a text matches when it is the same, in any case */
    int ri;    /* A_REGEX: the ERE's index among the Prefilter's (-1: not compiled, unknown) */
} Alt;

typedef struct {
    int node;
    int nalt;
    Alt *alts;
    int id; /* the judge's tests: the same test of several rules shares its id (-1: none) */
    int hid; /* the conjunctions' tests: the same test of several conjunctions shares its id */
} Test;

typedef struct {
    int ntest;
    Test *tests;
} Conj;

/* A rule judged exactly (the judge): its condition as a program over three-valued tests
 * (OP_TEST: tests[arg]; OP_UNKNOWN; OP_AND / OP_OR: of arg values; OP_NOT), given in postfix
 * and kept as a prefix tree (prefix_tree: a child that decides its AND or OR skips the rest),
 * its necessary conjunctions (indices into the prefilter's), the bit its verdict sets, and
 * whether its hit carries the event's values (a correlation base rule: the line's text is
 * handed back with its verdict). */
enum { OP_TEST = 0, OP_UNKNOWN, OP_AND, OP_OR, OP_NOT, OP_EVERY };
enum { T_FALSE = 0, T_TRUE = 1, T_UNKNOWN = 2 };

/* An every-element detection (OP_EVERY): it holds when its program holds on each value of its
 * fields, every test reading that one value (vacuously when there is none). */
typedef struct {
    int nfields;
    int *fields;
    int nops;
    int *ops; /* the prefix tree: (op, arg, size) per node */
    int ntests;
    Test *tests;
} Every;

typedef struct {
    int bit;
    int carried;
    int nops;
    int *ops; /* the prefix tree: (op, arg, size) per node */
    int ntests;
    Test *tests;
    int nconj;
    int *conj;
    int nevery;
    Every *every;
} Rule;

typedef struct {
    char *key;
    Py_ssize_t len;
    int is_field;
    int listed; /* a field the source documents as an array of values: read whole */
    int array; /* the source documents an array here: each element is read at the node */
    int multi; /* a field below an array: its values are listed */
    int nchild;
    int *children;
    /* [key_slot of a key]: the child with that slot (KEY_NONE: none; KEY_SOME: several, each
     * tried) */
    short child_at[KEY_SLOTS];
} Node;

/* An envelope carrying an event of the source as a JSON string (at a path of one or two keys):
 * recognised from its top-level keys only when every key is allowed (if any are listed), none
 * is forbidden, the required ones are present, each keyed string is one of its values, and each
 * prefixed key is absent or a string starting with its prefix. */
typedef struct {
    int depth;
    char *carrier[2];
    Py_ssize_t carrier_len[2];
    int nallowed, nforbidden, nrequired, noneof, nprefixed;
    char **allowed, **forbidden, **required, **oneof_key, **prefixed_key, **prefixed;
    Py_ssize_t *allowed_len, *forbidden_len, *required_len, *oneof_key_len, *prefixed_key_len,
        *prefixed_len;
    int *oneof_count;
    char ***oneof;
    Py_ssize_t **oneof_len;
} Envelope;

typedef struct {
    PyObject_HEAD
    int nnodes; /* node 0 is the line's top-level object */
    Node *nodes;
    int nconj;
    Conj *conj;
    int ndotted;
    char **dotted; /* by length */
    Py_ssize_t *dotted_len;
    Py_ssize_t dotted_longest;
    int *dotted_from; /* [length]: the first of the dotted keys at least that long */
    uint64_t dotted_bits[DOTTED_BITS / 64]; /* the DOTTED_BIT of each dotted key */
    int nprefix;
    char **prefix_key;
    Py_ssize_t *prefix_key_len;
    char **prefix_value;
    Py_ssize_t *prefix_value_len;
    int nenvelopes;
    Envelope *envelopes;
    int guarded; /* 1: rules[0] is the guard, which must hold (is known true) for a line to be
                  * set aside: the source's recogniser, and no source before it recognising the
                  * line (a source known by its recogniser, not by its first keys) */
    int nrules; /* guarded: no judge, a line some conjunction holds on is passed on */
    Rule *rules;
    uint64_t carried; /* the bits of the rules whose hits carry the event's values */
    int nvalues;
    int *value_nodes; /* the field nodes whose values a carried line's hit keeps (carried_values) */
    int ntestids; /* the judge's distinct tests */
    int nholdids; /* the conjunctions' distinct tests */
    /* The rules' EREs, compiled once per bank: a scan takes a bank of its own (glibc's regexec
     * holds a lock per regex_t, so two threads searching one regex_t take turns). */
    int nregex;
    char **regex;
    int *regex_ok; /* whether each compiles (one that does not leaves its tests unknown) */
    struct Bank *banks[MAX_BANKS]; /* compiled at the first scan taking it */
    int busy[MAX_BANKS];
} Prefilter;

#define MAX_MULTI 32

/* The values of a field below an array, as the reference flattens them (nulls left out). */
typedef struct {
    int count;
    int overflow;
    Value v[MAX_MULTI];
} Multi;

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    const Prefilter *f;
    Value *values;
    int *seen; /* the object a tested key was last read in */
    Multi *multi;
    int *serial; /* objects read so far in the chunk: an object's number tells its keys apart */
    int in_array; /* reading an element of an array at a node */
    int *touched; /* the field nodes given a value (or values) on this line */
    int *ntouched;
    Value spare;
} Parse;

/* ---- JSON reading ---- */

static inline void skip_ws(Parse *ps) {
    while (ps->p < ps->end) {
        unsigned char c = *ps->p;
        if (c > ' ' || (c != ' ' && c != '\t' && c != '\r' && c != '\n')) break;
        ps->p++;
    }
}

/* After a member or an element: 1 past a ',' (another follows), 0 past close (the object
   or array ends), -1 for anything else. */
static inline int next_member(Parse *ps, char close) {
    skip_ws(ps);
    if (ps->p >= ps->end) return -1;
    if (*ps->p == ',') {
        ps->p++;
        skip_ws(ps);
        return 1;
    }
    if (*ps->p == close) {
        ps->p++;
        return 0;
    }
    return -1;
}

static inline int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One UTF-8 sequence at p (first byte >= 0x80), strictly: its length, or 0. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return (end - p >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;
        if (c == 0xF4 && p[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

/* A string at ps->p (its opening quote): its raw content and whether it holds an escape or a
 * non-ASCII character; -1 when it is not strict JSON. */
SX_INLINE int read_string(Parse *ps, const unsigned char **start, Py_ssize_t *len, int *escaped) {
    const unsigned char *p = ps->p + 1, *end = ps->end;
    int esc = 0;
    *start = p;
    for (;;) {
#if defined(__SSE2__)
        while (end - p >= 16) {
            __m128i chunk = _mm_loadu_si128((const __m128i *)p);
            __m128i quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8('"'));
            __m128i slash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'));
            /* signed: below 0x20 or from 0x80 on */
            __m128i odd = _mm_cmplt_epi8(chunk, _mm_set1_epi8(0x20));
            unsigned quotes = (unsigned)_mm_movemask_epi8(quote);
            unsigned others = (unsigned)_mm_movemask_epi8(_mm_or_si128(slash, odd));
            if (quotes | others) {
                /* the closing quote before anything else: the string ends there */
                if (quotes && (!others || __builtin_ctz(quotes) < __builtin_ctz(others))) {
                    p += __builtin_ctz(quotes);
                    *len = p - *start;
                    *escaped = esc;
                    ps->p = p + 1;
                    return 0;
                }
                p += __builtin_ctz(quotes | others);
                break;
            }
            p += 16;
        }
#endif
        if (p >= end) return -1;
        unsigned char c = *p;
        if (c == '"') {
            *len = p - *start;
            *escaped = esc;
            ps->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            esc = 1;
            if (end - p < 2) return -1;
            unsigned char e = p[1];
            if (e == 'u') {
                if (end - p < 6) return -1;
                for (int i = 2; i < 6; i++)
                    if (hexval(p[i]) < 0) return -1;
                p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p += 2;
            } else {
                return -1;
            }
            continue;
        }
        if (c < 0x20) return -1;
        if (c >= 0x80) {
            int n = utf8_len(p, end);
            if (!n) return -1;
            esc = 1; /* not plain ASCII: tests on it say "maybe" */
            p += n;
            continue;
        }
        p++;
    }
}

static int read_number(Parse *ps) {
    const unsigned char *p = ps->p, *end = ps->end, *start = ps->p;
    if (p < end && *p == '-') p++;
    if (p >= end) return -1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return -1;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p - start > MAX_NUMBER) return -1;
    ps->p = p;
    return 0;
}

static int read_value(Parse *ps, int node, int depth);

/* Whether n bytes are the same (a loop: the keys compared are short). */
SX_INLINE int same_bytes(const char *a, const unsigned char *b, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (a[i] != (char)b[i]) return 0;
    return 1;
}

SX_INLINE int child_of(const Prefilter *f, int node, const unsigned char *key, Py_ssize_t len,
                       unsigned hash) {
    const Node *n = &f->nodes[node];
    int at = n->child_at[KEY_SLOT(hash)];
    if (at == KEY_NONE) return -1;
    if (at >= 0) {
        const Node *c = &f->nodes[at];
        return c->len == len && same_bytes(c->key, key, len) ? at : -1;
    }
    for (int i = 0; i < n->nchild; i++) {
        const Node *c = &f->nodes[n->children[i]];
        /* (the first byte before memcmp: most keys of a child's length are other keys) */
        if (c->len == len && (!len || c->key[0] == (char)key[0]) &&
            memcmp(c->key, key, (size_t)len) == 0)
            return n->children[i];
    }
    return -1;
}

SX_INLINE int dotted_key(const Prefilter *f, const unsigned char *key, Py_ssize_t len,
                         unsigned hash) {
    /* most keys have no dotted key of their length and first and last characters; the others
     * are told apart by those characters before they are compared */
    unsigned bit = DOTTED_BIT(hash);
    if (len > f->dotted_longest || !(f->dotted_bits[bit >> 6] >> (bit & 63) & 1)) return 0;
    for (int i = f->dotted_from[len]; i < f->dotted_from[len + 1]; i++) {
        const char *d = f->dotted[i];
        if (d[0] == (char)key[0] && d[len - 1] == (char)key[len - 1] &&
            memcmp(d, key, (size_t)len) == 0)
            return 1;
    }
    return 0;
}

/* An object at ps->p; node: its place among the tested paths (-1: on none). */
static int read_object(Parse *ps, int node, int depth) {
    if (depth > MAX_DEPTH) return -1;
    int me = ps->serial ? ++*ps->serial : 0; /* (an envelope's keys are read on no node) */
    ps->in_array = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (ps->p >= ps->end || *ps->p != '"') return -1;
        const unsigned char *key;
        Py_ssize_t len;
        int escaped;
        if (read_string(ps, &key, &len, &escaped) < 0) return -1;
        unsigned hash = key_hash(key, len);
        if (dotted_key(ps->f, key, len, hash)) return -1;
        int child = -1;
        if (node >= 0) {
            if (escaped) return -1; /* may spell a tested key */
            child = child_of(ps->f, node, key, len, hash);
            if (child >= 0) {
                if (ps->seen[child] == me) return -1; /* a repeated tested key */
                ps->seen[child] = me;
            }
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') return -1;
        ps->p++;
        skip_ws(ps);
        if (read_value(ps, child, depth + 1) < 0) return -1;
        int more = next_member(ps, '}');
        if (more < 0) return -1;
        if (more) continue;
        return 0;
    }
}

static int read_array(Parse *ps, int depth) {
    if (depth > MAX_DEPTH) return -1;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (read_value(ps, -1, depth + 1) < 0) return -1;
        int more = next_member(ps, ']');
        if (more < 0) return -1;
        if (more) continue;
        return 0;
    }
}

static int literal(Parse *ps, const char *word, size_t len) {
    if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0) return -1;
    ps->p += len;
    return 0;
}

/* A value at ps->p; node: the tested path it stands at (-1: none). */
/* Where a value read at a field node goes: its one Value, or the next of its values (a field
 * below an array); NULL when the node is no field. A full list of values overflows. */
static Value *slot(Parse *ps, const Node *n, int node) {
    if (!n || !n->is_field) return NULL;
    if (!n->multi) {
        if (ps->values[node].state == V_ABSENT) ps->touched[(*ps->ntouched)++] = node;
        return &ps->values[node];
    }
    Multi *m = &ps->multi[node];
    if (!m->count && !m->overflow) ps->touched[(*ps->ntouched)++] = node;
    if (m->count == MAX_MULTI) {
        m->overflow = 1;
        return &ps->spare;
    }
    return &m->v[m->count++];
}

static int read_value(Parse *ps, int node, int depth) {
    if (ps->p >= ps->end) return -1;
    const Node *n = node >= 0 ? &ps->f->nodes[node] : NULL;
    const unsigned char *start = ps->p;
    Value *v;
    switch (*ps->p) {
    case '{':
        if ((v = slot(ps, n, node))) v->state = V_OTHER;
        return read_object(ps, (n && n->nchild) ? node : -1, depth);
    case '[':
        if (n && n->is_field && n->listed && !n->multi && !n->nchild) {
            /* kept whole, its elements read by the judge */
            v = slot(ps, n, node);
            if (read_array(ps, depth) < 0) return -1;
            v->state = V_LIST;
            v->p = start;
            v->n = ps->p - start;
            return 0;
        }
        if (n && n->array && !ps->in_array && (!n->is_field || n->multi)) {
            /* each element read at the node */
            if (depth > MAX_DEPTH) return -1;
            ps->p++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                return 0;
            }
            for (;;) {
                if (ps->p >= ps->end || *ps->p == '[') return -1; /* nested: left to the scan */
                ps->in_array = 1;
                int rc = read_value(ps, node, depth + 1);
                ps->in_array = 0;
                if (rc < 0) return -1;
                int more = next_member(ps, ']');
                if (more < 0) return -1;
                if (!more) return 0;
            }
        }
        if (n) return -1; /* the reference reads every element */
        return read_array(ps, depth);
    case '"': {
        const unsigned char *s;
        Py_ssize_t len;
        int escaped;
        ps->in_array = 0;
        if (read_string(ps, &s, &len, &escaped) < 0) return -1;
        if (n && n->nchild) return -1; /* a scalar where a tested path goes on */
        if ((v = slot(ps, n, node))) {
            v->state = V_STRING;
            v->p = s;
            v->n = len;
            v->escaped = escaped;
        }
        return 0;
    }
    case 't':
    case 'f':
    case 'n': {
        int rc = *ps->p == 't'   ? literal(ps, "true", 4)
                 : *ps->p == 'f' ? literal(ps, "false", 5)
                                 : literal(ps, "null", 4);
        if (rc < 0) return -1;
        if (n && n->nchild && *start != 'n') return -1;
        if (*start == 'n' && n && n->multi) return 0; /* a null is no value */
        if ((v = slot(ps, n, node))) {
            v->state = *start == 'n' ? V_NULL : V_BOOL;
            v->n = *start == 't';
        }
        return 0;
    }
    default:
        if (read_number(ps) < 0) return -1;
        if (n && n->nchild) return -1;
        if ((v = slot(ps, n, node))) {
            v->state = V_NUMBER;
            v->p = start;
            v->n = ps->p - start;
        }
        return 0;
    }
}

/* ---- the tests ---- */

static inline unsigned char lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Whether ASCII text matches a lower-case glob ('\x01' any run, '\x02' one character). */
static int glob_match(const char *g, Py_ssize_t gn, const unsigned char *t, Py_ssize_t tn) {
    Py_ssize_t gi = 0, ti = 0, star = -1, mark = 0;
    while (ti < tn) {
        if (gi < gn && g[gi] == '\x01') {
            star = gi++;
            mark = ti;
        } else if (gi < gn && (g[gi] == '\x02' || (unsigned char)g[gi] == lower(t[ti]))) {
            gi++;
            ti++;
        } else if (star >= 0) {
            gi = star + 1;
            ti = ++mark;
        } else {
            return 0;
        }
    }
    while (gi < gn && g[gi] == '\x01') gi++;
    return gi == gn;
}

/* Whether ASCII text matches an A_GLOB value: glob_match, with the cheaper exact comparison for
 * a value without a wildcard and its first character checked before either. */
static inline int glob_exact(const Alt *a, const unsigned char *t, Py_ssize_t tn) {
    if (a->plain) {
        if (tn != a->len) return 0;
        for (Py_ssize_t i = 0; i < tn; i++)
            if ((unsigned char)a->text[i] != lower(t[i])) return 0;
        return 1;
    }
    if (a->first >= 0 && (!tn || lower(t[0]) != a->first)) return 0;
    return glob_match(a->text, a->len, t, tn);
}

/* A bank: the rules' EREs compiled, and the verdicts of the last texts searched (a value
 * searched again, an image on many pods say, is not searched twice). A scan has its bank to
 * itself. */
#define CACHE_SLOTS 1024
#define CACHE_TEXT 96
/* The longest value searched: glibc's regexec costs some 40 ns a byte (a 1 MB image took 0.1 s
 * a line, ten times Python's re and far more than DuckDB's RE2); a longer one is unknown to
 * the judge, and its line goes on to the scan. Every valid image reference is shorter (a name
 * of at most 255 characters, a tag of 128, a digest), and a search costs at most some 20 us. */
#define REGEX_LONGEST 512
typedef struct {
    uint64_t hash;
    int ri;
    int len; /* -1: empty */
    int result;
    unsigned char text[CACHE_TEXT];
} Cached;

typedef struct Bank {
    int n;
#if SX_REGEX
    regex_t *re;
#endif
    Cached *cache;
} Bank;

/* The bank of the scan this thread runs (NULL: none, regex tests unknown), and which of its
 * EREs compiled. */
static _Thread_local Bank *sx_bank;
static _Thread_local const int *sx_ok;

/* T_TRUE or T_FALSE: whether a compiled ERE finds a match in n bytes (T_UNKNOWN on an error). */
#if SX_REGEX
static int regex_search(const regex_t *re, const unsigned char *p, Py_ssize_t n) {
    regmatch_t range[1];
    range[0].rm_so = 0;
    range[0].rm_eo = (regoff_t)n;
    int found = regexec(re, (const char *)p, 1, range, REG_STARTEND);
    if (found == 0) return T_TRUE;
    return found == REG_NOMATCH ? T_FALSE : T_UNKNOWN;
}
#endif

/* Whether an A_REGEX value finds a match in a string with no escape and no character outside
 * ASCII (the only texts it is asked about). */
static int regex_exact(const Alt *a, const Value *v) {
    Bank *bank = sx_bank;
    if (a->ri < 0 || !bank || !sx_ok[a->ri] || v->n > REGEX_LONGEST) return T_UNKNOWN;
#if SX_REGEX
    Cached *slot = NULL;
    uint64_t hash = 14695981039346656037ULL ^ (uint64_t)a->ri;
    if (v->n <= CACHE_TEXT) {
        for (Py_ssize_t i = 0; i < v->n; i++) hash = (hash ^ v->p[i]) * 1099511628211ULL;
        slot = &bank->cache[hash & (CACHE_SLOTS - 1)];
        if (slot->hash == hash && slot->ri == a->ri && slot->len == v->n &&
            !memcmp(slot->text, v->p, (size_t)v->n))
            return slot->result;
    }
    int found = regex_search(&bank->re[a->ri], v->p, v->n);
    if (slot && found != T_UNKNOWN) {
        slot->hash = hash;
        slot->ri = a->ri;
        slot->len = (int)v->n;
        slot->result = found;
        memcpy(slot->text, v->p, (size_t)v->n);
    }
    return found;
#else
    return T_UNKNOWN;
#endif
}

static void free_bank(Bank *bank) {
    if (!bank) return;
#if SX_REGEX
    for (int i = 0; bank->re && i < bank->n; i++) regfree(&bank->re[i]);
    free(bank->re);
#endif
    free(bank->cache);
    free(bank);
}

/* n EREs compiled into a bank (ok[i], when given, set to whether the i-th compiled: one that
 * does not is never searched), or NULL when out of memory (or without glibc). */
static Bank *compiled_bank(char **eres, int n, int *ok) {
#if SX_REGEX
    Bank *bank = calloc(1, sizeof(Bank));
    if (!bank) return NULL;
    bank->re = calloc((size_t)n + 1, sizeof(regex_t));
    bank->cache = calloc(CACHE_SLOTS, sizeof(Cached));
    if (!bank->re || !bank->cache) {
        free_bank(bank);
        return NULL;
    }
    for (int i = 0; i < CACHE_SLOTS; i++) bank->cache[i].len = -1;
    for (int i = 0; i < n; i++) {
        int done = regcomp(&bank->re[i], eres[i], REG_EXTENDED | REG_NOSUB) == 0;
        if (ok) ok[i] = done;
        if (!done && regcomp(&bank->re[i], "^$", REG_EXTENDED | REG_NOSUB) != 0) {
            free_bank(bank);
            return NULL;
        }
        bank->n = i + 1;
    }
    return bank;
#else
    (void)eres;
    (void)n;
    (void)ok;
    return NULL;
#endif
}

static void free_alt(Alt *a) { free(a->text); }

/* Whether a number's text is an integer of at most 15 digits, and which. */
static int plain_integer(const unsigned char *p, Py_ssize_t n, long long *out) {
    Py_ssize_t i = 0;
    int negative = 0;
    if (n && p[0] == '-') {
        negative = 1;
        i = 1;
    }
    if (n - i < 1 || n - i > 15) return 0;
    long long value = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        value = value * 10 + (p[i] - '0');
    }
    *out = negative ? -value : value;
    return 1;
}

/* Whether the reference may find the value equal to one of the test's values. */
static int test_holds(const Test *t, const Value *v) {
    for (int i = 0; i < t->nalt; i++) {
        const Alt *a = &t->alts[i];
        if (a->kind >= A_PRESENT) return 1;
        switch (v->state) {
        case V_ABSENT:
        case V_NULL:
            if (a->kind == A_NULL) return 1;
            break;
        case V_STRING:
            if (a->kind == A_INT || a->kind == A_BOOL || (a->kind != A_NULL && v->escaped))
                return 1;
            if (a->kind == A_REGEX && regex_exact(a, v) != T_FALSE) return 1;
            if (a->kind == A_GLOB && glob_exact(a, v->p, v->n)) return 1;
            break;
        case V_NUMBER: {
            long long number;
            if (a->kind == A_GLOB || a->kind == A_BOOL || a->kind == A_REGEX) return 1;
            if (a->kind == A_INT &&
                (!plain_integer(v->p, v->n, &number) || number == a->number))
                return 1;
            break;
        }
        case V_LIST:
            return 1;
        default: /* true, false, an object */
            if (a->kind != A_NULL) return 1;
        }
    }
    return 0;
}

static int prefix_holds(const Prefilter *f, const unsigned char *p, const unsigned char *end) {
    Parse ps = {.p = p, .end = end, .f = f};
    if (ps.p >= end || *ps.p != '{') return 0;
    ps.p++;
    for (int i = 0; i < f->nprefix; i++) {
        skip_ws(&ps);
        if (i) {
            if (ps.p >= end || *ps.p != ',') return 0;
            ps.p++;
            skip_ws(&ps);
        }
        Py_ssize_t kl = f->prefix_key_len[i], vl = f->prefix_value_len[i];
        if (end - ps.p < kl + 2 || *ps.p != '"' || !same_bytes(f->prefix_key[i], ps.p + 1, kl) ||
            ps.p[kl + 1] != '"')
            return 0;
        ps.p += kl + 2;
        skip_ws(&ps);
        if (ps.p >= end || *ps.p != ':') return 0;
        ps.p++;
        skip_ws(&ps);
        int last = i == f->nprefix - 1;
        Py_ssize_t need = vl + 1 + (last ? 0 : 1);
        if (end - ps.p < need || *ps.p != '"' || !same_bytes(f->prefix_value[i], ps.p + 1, vl))
            return 0;
        if (!last && ps.p[vl + 1] != '"') return 0;
        ps.p += need;
    }
    return 1;
}

/* What the reference finds for one test value on the value read: T_TRUE, T_FALSE, or T_UNKNOWN
 * where this file does not read the value as the reference does (an escape or a non-ASCII
 * character, a number against a string, a string against a number, true, false, an object). */
static int alt_exact(const Alt *a, const Value *v) {
    if (a->kind == A_PRESENT) return v->state == V_ABSENT ? T_FALSE : T_TRUE;
    /* (an object is all a plain node reads as V_OTHER: an array there passes the line on) */
    if (a->kind == A_OBJECT) return v->state == V_OTHER ? T_TRUE : T_FALSE;
    switch (v->state) {
    case V_ABSENT:
    case V_NULL: /* the reference leaves nulls out: no value */
        return a->kind == A_NULL ? T_TRUE : T_FALSE;
    case V_STRING: /* (a number's text compares as the number) */
        if (a->kind == A_NULL) return T_FALSE;
        if (a->kind == A_INT || a->kind == A_BOOL || COMPARED(a->kind) || v->escaped)
            return T_UNKNOWN;
        if (a->kind == A_REGEX) return regex_exact(a, v);
        return glob_exact(a, v->p, v->n) ? T_TRUE : T_FALSE;
    case V_NUMBER: {
        long long number;
        if (a->kind == A_NULL) return T_FALSE;
        if ((a->kind != A_INT && !COMPARED(a->kind)) || !plain_integer(v->p, v->n, &number))
            return T_UNKNOWN;
        switch (a->kind) {
        case A_LT:
            return number < a->number ? T_TRUE : T_FALSE;
        case A_LTE:
            return number <= a->number ? T_TRUE : T_FALSE;
        case A_GT:
            return number > a->number ? T_TRUE : T_FALSE;
        case A_GTE:
            return number >= a->number ? T_TRUE : T_FALSE;
        default:
            return number == a->number ? T_TRUE : T_FALSE;
        }
    }
    case V_BOOL:
        if (a->kind == A_NULL) return T_FALSE;
        if (a->kind == A_BOOL) return (v->n != 0) == (a->number != 0) ? T_TRUE : T_FALSE;
        return T_UNKNOWN;
    default:
        return a->kind == A_NULL ? T_FALSE : T_UNKNOWN;
    }
}

/* Past an array or object already read as strict JSON (its strings may hold brackets). */
static int skip_nested(Parse *ps) {
    int depth = 0;
    while (ps->p < ps->end) {
        unsigned char c = *ps->p;
        if (c == '"') {
            const unsigned char *text;
            Py_ssize_t len;
            int escaped;
            if (read_string(ps, &text, &len, &escaped) < 0) return -1;
            continue;
        }
        if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth == 0) {
                ps->p++;
                return 0;
            }
        }
        ps->p++;
    }
    return -1;
}

/* A test of an array of values (V_LIST), as the reference reads one: it holds when an element
 * equals a value; null when no element is a value (nulls are none); an array or an object in
 * it leaves the test unknown unless an element decides it. */
static int list_exact(const Test *t, const Value *v) {
    Parse ps = {.p = v->p + 1, .end = v->p + v->n};
    int unknown = 0, valued = 0, nulls = 0;
    for (int i = 0; i < t->nalt; i++) nulls |= t->alts[i].kind == A_NULL;
    skip_ws(&ps);
    while (ps.p < ps.end && *ps.p != ']') {
        Value e = {V_OTHER, ps.p, 0, 0};
        const unsigned char *start = ps.p;
        switch (*ps.p) {
        case '"':
            e.state = V_STRING;
            if (read_string(&ps, &e.p, &e.n, &e.escaped) < 0) return T_UNKNOWN;
            break;
        case 'n':
            e.state = V_NULL;
            ps.p += 4;
            break;
        case 't':
            ps.p += 4;
            break;
        case 'f':
            ps.p += 5;
            break;
        case '[':
        case '{':
            unknown = 1;
            if (skip_nested(&ps) < 0) return T_UNKNOWN;
            break;
        default:
            e.state = V_NUMBER;
            if (read_number(&ps) < 0) return T_UNKNOWN;
            e.n = ps.p - start;
        }
        if (e.state != V_NULL) valued = 1;
        if (e.state == V_STRING || e.state == V_NUMBER || (e.state == V_OTHER && *start != '[')) {
            for (int i = 0; i < t->nalt; i++) {
                if (t->alts[i].kind == A_NULL) continue;
                int r = alt_exact(&t->alts[i], &e);
                if (r == T_TRUE) return T_TRUE;
                if (r == T_UNKNOWN) unknown = 1;
            }
        }
        if (next_member(&ps, ']') <= 0) break;
    }
    if (nulls && !valued) return T_TRUE;
    return unknown ? T_UNKNOWN : T_FALSE;
}

/* What a line's parse and judgement use, made once per scan. */
typedef struct {
    const Prefilter *f;
    Value *values; /* V_ABSENT but at the touched nodes */
    int *seen; /* 0, or the number of an object read before */
    Multi *multi; /* empty but at the touched nodes */
    int *touched;
    int ntouched;
    int serial;
    int line; /* lines judged so far in the chunk */
    int *found; /* [test id]: the line its result is of */
    unsigned char *result;
    int *hfound; /* [hold id]: the line its test_holds is of */
    unsigned char *hresult;
    unsigned char *holds; /* a flag per conjunction */
} Work;

/* A test of the values of a field below an array: one equals a value; null when there is
 * none; unknown past MAX_MULTI values unless one decides it. */
static int multi_exact(const Test *t, const Multi *m) {
    int unknown = m->overflow;
    for (int k = 0; k < m->count; k++)
        for (int i = 0; i < t->nalt; i++) {
            if (t->alts[i].kind == A_NULL) continue;
            int r = alt_exact(&t->alts[i], &m->v[k]);
            if (r == T_TRUE) return T_TRUE;
            if (r == T_UNKNOWN) unknown = 1;
        }
    for (int i = 0; i < t->nalt; i++)
        if (t->alts[i].kind == A_NULL && !m->count && !m->overflow) return T_TRUE;
    return unknown ? T_UNKNOWN : T_FALSE;
}

/* A test of one value (not null), as an every-element detection pins each of its values. */
static int pinned_exact(const Test *t, const Value *v) {
    int unknown = 0;
    for (int i = 0; i < t->nalt; i++) {
        if (t->alts[i].kind == A_NULL) continue;
        int r = alt_exact(&t->alts[i], v);
        if (r == T_TRUE) return T_TRUE;
        if (r == T_UNKNOWN) unknown = 1;
    }
    return unknown ? T_UNKNOWN : T_FALSE;
}

static int test_uncached(const Test *t, const Work *w) {
    if (w->f->nodes[t->node].multi) return multi_exact(t, &w->multi[t->node]);
    const Value *v = &w->values[t->node];
    int unknown = 0;
    if (v->state == V_LIST) return list_exact(t, v);
    for (int i = 0; i < t->nalt; i++) {
        int r = alt_exact(&t->alts[i], v);
        if (r == T_TRUE) return T_TRUE;
        if (r == T_UNKNOWN) unknown = 1;
    }
    return unknown ? T_UNKNOWN : T_FALSE;
}

/* A test's value on the line, found once however many rules hold it. */
static int test_exact(const Test *t, const Work *w) {
    if (t->id < 0) return test_uncached(t, w);
    if (w->found[t->id] != w->line) {
        w->found[t->id] = w->line;
        w->result[t->id] = (unsigned char)test_uncached(t, w);
    }
    return w->result[t->id];
}

static int every_exact(const Every *e, const Work *w);

/* A program's value in three-valued (Kleene) logic: known whenever the known tests decide it.
 * tree: the prefix tree (prefix_tree), evaluated from its node at; an AND stops at its first
 * false child and an OR at its first true one (Kleene's AND is false when any part is, whatever
 * the others are, and the tests change nothing). pinned: the one value every test reads (an
 * every-element detection's), else the line's. */
static int program_exact(const int *tree, int at, const Test *tests, const Every *every,
                         const Work *w, const Value *pinned) {
    int op = tree[3 * at], arg = tree[3 * at + 1];
    switch (op) {
    case OP_TEST:
        return pinned ? pinned_exact(&tests[arg], pinned) : test_exact(&tests[arg], w);
    case OP_UNKNOWN:
        return T_UNKNOWN;
    case OP_EVERY:
        return every_exact(&every[arg], w);
    case OP_NOT: {
        int r = program_exact(tree, at + 1, tests, every, w, pinned);
        return r == T_UNKNOWN ? r : r ^ 1;
    }
    default: { /* OP_AND, OP_OR over the arg children that follow */
        int absorbing = op == OP_AND ? T_FALSE : T_TRUE, result = !absorbing;
        int child = at + 1;
        for (int k = 0; k < arg; k++) {
            int r = program_exact(tree, child, tests, every, w, pinned);
            if (r == absorbing) return absorbing;
            if (r == T_UNKNOWN) result = T_UNKNOWN;
            child += tree[3 * child + 2];
        }
        return result;
    }
    }
}

static int every_exact(const Every *e, const Work *w) {
    int result = T_TRUE;
    for (int i = 0; i < e->nfields; i++) {
        int node = e->fields[i];
        const Value *one = NULL;
        int count = 0;
        if (w->f->nodes[node].multi) {
            const Multi *m = &w->multi[node];
            if (m->overflow) result = T_UNKNOWN;
            one = m->v;
            count = m->count;
        } else {
            const Value *v = &w->values[node];
            if (v->state == V_ABSENT || v->state == V_NULL) continue;
            if (v->state == V_LIST) {
                result = T_UNKNOWN;
                continue;
            }
            one = v;
            count = 1;
        }
        for (int k = 0; k < count; k++) {
            int r = program_exact(e->ops, 0, e->tests, NULL, w, &one[k]);
            if (r == T_FALSE) return T_FALSE;
            if (r == T_UNKNOWN) result = T_UNKNOWN;
        }
    }
    return result;
}

/* How the line (no '\n') is judged: -1 passed on; else the bits of the rules that fire on it
 * (0: dismissed), when every rule's verdict is known. */
static int judged(const Prefilter *f, const unsigned char *p, Py_ssize_t n, Work *w,
                  uint64_t *bits) {
    /* JSON whitespace after the object (a CRLF line end) */
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    if (n < 2 || p[0] != '{' || p[n - 1] != '}') return -1;
    if (!prefix_holds(f, p, p + n)) return -1;
    /* what the line before left: only the nodes it gave values (a line reads few) */
    for (int i = 0; i < w->ntouched; i++) {
        int node = w->touched[i];
        w->values[node].state = V_ABSENT;
        w->multi[node].count = w->multi[node].overflow = 0;
    }
    w->ntouched = 0;
    w->line++;
    Parse ps = {.p = p, .end = p + n, .f = f, .values = w->values, .seen = w->seen,
                .multi = w->multi, .serial = &w->serial, .touched = w->touched,
                .ntouched = &w->ntouched};
    if (read_object(&ps, 0, 1) < 0 || ps.p != ps.end) return -1;
    if (f->guarded) {
        const Rule *g = &f->rules[0];
        if (program_exact(g->ops, 0, g->tests, g->every, w, NULL) != T_TRUE) return -1;
    }
    int any = 0;
    for (int c = 0; c < f->nconj; c++) {
        const Conj *conj = &f->conj[c];
        int all = 1;
        for (int i = 0; i < conj->ntest && all; i++) {
            const Test *t = &conj->tests[i];
            if (w->hfound[t->hid] != w->line) {
                w->hfound[t->hid] = w->line;
                w->hresult[t->hid] = (unsigned char)test_holds(t, &w->values[t->node]);
            }
            all = w->hresult[t->hid];
        }
        w->holds[c] = (unsigned char)all;
        any |= all;
    }
    *bits = 0;
    if (!any) return 0;
    if (f->nrules == f->guarded) return -1;
    for (int k = f->guarded; k < f->nrules; k++) {
        const Rule *r = &f->rules[k];
        int may = 0;
        for (int i = 0; i < r->nconj && !may; i++) may = w->holds[r->conj[i]];
        if (!may) continue; /* its necessary condition fails: it does not fire */
        int verdict = program_exact(r->ops, 0, r->tests, r->every, w, NULL);
        if (verdict == T_UNKNOWN) return -1;
        if (verdict == T_TRUE) *bits |= (uint64_t)1 << r->bit;
    }
    return 0;
}

/* ---- envelopes ---- */

static int listed(char **keys, Py_ssize_t *lens, int n, const unsigned char *k, Py_ssize_t kl) {
    for (int i = 0; i < n; i++)
        if (lens[i] == kl && same_bytes(keys[i], k, kl)) return i;
    return -1;
}

#define MAX_TESTED_KEYS 64

/* One UTF-8 encoded code point into out; its length. */
static inline int put_utf8(unsigned cp, unsigned char *out) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static inline int hex4(const unsigned char *p) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

#if defined(__SSE2__)
/* Of the 64 bytes at p, as bits: the quotes, the backslashes, and the control and non-ASCII
 * bytes. */
static inline void special_bits(const unsigned char *p, uint64_t *quotes, uint64_t *slashes,
                                uint64_t *odd) {
    *quotes = *slashes = *odd = 0;
    for (int k = 0; k < 4; k++) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8('"'));
        __m128i slash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'));
        __m128i other = _mm_cmplt_epi8(chunk, _mm_set1_epi8(0x20)); /* signed: also >= 0x80 */
        *quotes |= (uint64_t)(unsigned)_mm_movemask_epi8(quote) << (16 * k);
        *slashes |= (uint64_t)(unsigned)_mm_movemask_epi8(slash) << (16 * k);
        *odd |= (uint64_t)(unsigned)_mm_movemask_epi8(other) << (16 * k);
    }
}
#endif

#if SX_SHUFFLE
static int sx_ssse3;
#define SX_SSSE3 sx_ssse3
/* For each set of the 8 bytes of a half block to drop (bit i: byte i): the indices of those
 * kept, in order (then 0x80: a zero byte), and how many are kept. */
static unsigned char keep_index[256][8];
static unsigned char keep_count[256];

static void shuffle_tables(void) {
    for (int m = 0; m < 256; m++) {
        int n = 0;
        for (int i = 0; i < 8; i++)
            if (!(m >> i & 1)) keep_index[m][n++] = (unsigned char)i;
        keep_count[m] = (unsigned char)n;
        while (n < 8) keep_index[m][n++] = 0x80;
    }
    __builtin_cpu_init();
    sx_ssse3 = __builtin_cpu_supports("ssse3");
}

/* Decodes from *pp into *oo the 16-byte blocks that hold only plain ASCII characters and \"
 * escapes (the backslash dropped; the quote of the last may be the next block's first byte),
 * up to the first block that holds anything else (a closing quote, another escape, a control
 * or non-ASCII byte), which it leaves for the caller; *pp starts and stays where a character
 * starts. out has room for 16 bytes past what it writes. */
__attribute__((target("ssse3"))) static void quoted_blocks(const unsigned char **pp,
                                                           const unsigned char *end,
                                                           unsigned char **oo) {
    const unsigned char *p = *pp;
    unsigned char *o = *oo;
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 17) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)p);
        unsigned q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, quote));
        unsigned b = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, slash));
        /* signed: below 0x20 or from 0x80 on */
        unsigned odd = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(chunk, space));
        /* the backslashes a quote follows (the last's quote: the next block's first byte) */
        unsigned pairs = b & ((q >> 1) | (p[16] == '"' ? 0x8000u : 0u));
        if (odd || b != pairs || q != ((pairs << 1) & 0xFFFFu)) break;
        if (!b) {
            _mm_storeu_si128((__m128i *)o, chunk);
            o += 16;
        } else {
            __m128i low = _mm_loadl_epi64((const __m128i *)keep_index[b & 0xFF]);
            __m128i high = _mm_loadl_epi64((const __m128i *)keep_index[b >> 8]);
            _mm_storel_epi64((__m128i *)o, _mm_shuffle_epi8(chunk, low));
            o += keep_count[b & 0xFF];
            _mm_storel_epi64((__m128i *)o, _mm_shuffle_epi8(_mm_srli_si128(chunk, 8), high));
            o += keep_count[b >> 8];
        }
        p += 16;
        if (pairs & 0x8000u) { /* the last backslash's quote, the next block's first byte */
            *o++ = '"';
            p++;
        }
    }
    *pp = p;
    *oo = o;
}
#endif

#if !SX_SHUFFLE
#define SX_SSSE3 0
#endif

/* A string at ps->p (its opening quote), checked as read_string checks it and decoded into out
 * (room for the rest of the line); -1 when it is not strict JSON or holds a character a line
 * cannot (a control character, a lone surrogate). */
SX_INLINE int read_unescaped(Parse *ps, unsigned char *out, Py_ssize_t *len, int shuffle) {
    const unsigned char *p = ps->p + 1, *end = ps->end;
    unsigned char *o = out;
    for (;;) {
#if SX_SHUFFLE
        if (shuffle) quoted_blocks(&p, end, &o);
#else
        (void)shuffle;
#endif
#if defined(__SSE2__)
        /* 64 bytes at a time while 16 more follow (each copy below loads 16 bytes): the plain
         * bytes before each byte the block's bits mark are copied, and each \" (a backslash
         * before a quote, read from the bits) written, without reading the block again; anything
         * else stops at the byte, handled below. The block starts where an escape or a character
         * ends, so its first backslash starts an escape, and so does each after a \" (the quote
         * of a \" is no stop). */
        while (end - p >= 64 + 16) {
            const unsigned char *block = p;
            uint64_t quotes, slashes, odd;
            special_bits(block, &quotes, &slashes, &odd);
            uint64_t pairs = slashes & (quotes >> 1);
            uint64_t special = (quotes | slashes | odd) & ~(pairs << 1);
            int stopped = 0;
            while (special) {
                int k = __builtin_ctzll(special);
                const unsigned char *at = block + k;
                special &= special - 1;
                while (at - p > 16) {
                    _mm_storeu_si128((__m128i *)o, _mm_loadu_si128((const __m128i *)p));
                    p += 16;
                    o += 16;
                }
                _mm_storeu_si128((__m128i *)o, _mm_loadu_si128((const __m128i *)p));
                o += at - p;
                p = at;
                if (!(pairs >> k & 1)) {
                    stopped = 1;
                    break;
                }
                *o++ = '"';
                p += 2;
            }
            if (stopped) break;
            while (block + 64 - p > 0) { /* the rest of the block: plain */
                _mm_storeu_si128((__m128i *)o, _mm_loadu_si128((const __m128i *)p));
                Py_ssize_t step = block + 64 - p < 16 ? block + 64 - p : 16;
                p += step;
                o += step;
            }
        }
        while (end - p >= 16) {
            __m128i chunk = _mm_loadu_si128((const __m128i *)p);
            __m128i quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8('"'));
            __m128i slash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'));
            __m128i odd = _mm_cmplt_epi8(chunk, _mm_set1_epi8(0x20));
            int mask = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, slash), odd));
            _mm_storeu_si128((__m128i *)o, chunk); /* out has room: it is as long as the line */
            if (mask) {
                int run = __builtin_ctz((unsigned)mask);
                p += run;
                o += run;
                break;
            }
            p += 16;
            o += 16;
        }
#endif
        if (p >= end) return -1;
        unsigned char c = *p;
        if (c == '"') {
            *len = o - out;
            ps->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            if (end - p < 2) return -1;
            switch (p[1]) {
            case '"': *o++ = '"'; p += 2; continue;
            case '\\': *o++ = '\\'; p += 2; continue;
            case '/': *o++ = '/'; p += 2; continue;
            case 't': *o++ = '\t'; p += 2; continue;
            case 'n': *o++ = '\n'; p += 2; continue;
            case 'r': *o++ = '\r'; p += 2; continue;
            case 'u': break;
            default: return -1; /* \b, \f (control characters) or not JSON */
            }
            if (end - p < 6) return -1;
            int cp = hex4(p + 2);
            if (cp < 0x20) return -1;
            p += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return -1;
                int low = hex4(p + 2);
                if (low < 0xDC00 || low > 0xDFFF) return -1;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            o += put_utf8((unsigned)cp, o);
            continue;
        }
        if (c < 0x20) return -1;
        if (c >= 0x80) {
            int n = utf8_len(p, end);
            if (!n) return -1;
            memcpy(o, p, (size_t)n);
            o += n;
            p += n;
            continue;
        }
        *o++ = c;
        p++;
    }
}

/* The text an envelope the line is carries, decoded into out; -1 when it is none. */
static int envelope_string(const Prefilter *f, const Envelope *e, const unsigned char *p,
                           Py_ssize_t n, unsigned char *out, Py_ssize_t *carried_len) {
    Parse ps = {.p = p, .end = p + n, .f = f};
    unsigned char seen_required[MAX_TESTED_KEYS] = {0};
    unsigned char seen_oneof[MAX_TESTED_KEYS] = {0};
    unsigned char seen_prefixed[MAX_TESTED_KEYS] = {0};
    int found = 0;
    if (n < 2 || p[0] != '{' || p[n - 1] != '}') return -1;
    ps.p++;
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') return -1;
    for (;;) {
        const unsigned char *key, *value;
        Py_ssize_t kl, vl;
        int escaped, vescaped;
        if (ps.p >= ps.end || *ps.p != '"') return -1;
        if (read_string(&ps, &key, &kl, &escaped) < 0 || escaped) return -1;
        if (e->nallowed && listed(e->allowed, e->allowed_len, e->nallowed, key, kl) < 0) return -1;
        if (listed(e->forbidden, e->forbidden_len, e->nforbidden, key, kl) >= 0) return -1;
        int required = listed(e->required, e->required_len, e->nrequired, key, kl);
        int oneof = listed(e->oneof_key, e->oneof_key_len, e->noneof, key, kl);
        int prefixed = listed(e->prefixed_key, e->prefixed_key_len, e->nprefixed, key, kl);
        int carrier = e->carrier_len[0] == kl && same_bytes(e->carrier[0], key, kl);
        skip_ws(&ps);
        if (ps.p >= ps.end || *ps.p != ':') return -1;
        ps.p++;
        skip_ws(&ps);
        if (ps.p >= ps.end) return -1;
        /* a repeated key the recogniser reads: the first counts, left to the scan */
        if (required >= 0 && seen_required[required]++) return -1;
        if (oneof >= 0 && seen_oneof[oneof]++) return -1;
        if (prefixed >= 0 && seen_prefixed[prefixed]++) return -1;
        if (carrier && found) return -1;
        if (carrier && e->depth == 1) {
            if (*ps.p != '"' || read_unescaped(&ps, out, carried_len, SX_SSSE3) < 0) return -1;
            found = 1;
        } else if (oneof >= 0 || prefixed >= 0) {
            if (*ps.p != '"') return -1;
            if (read_string(&ps, &value, &vl, &vescaped) < 0) return -1;
            if (oneof >= 0) {
                if (vescaped || listed(e->oneof[oneof], e->oneof_len[oneof],
                                       e->oneof_count[oneof], value, vl) < 0)
                    return -1;
            }
            if (prefixed >= 0) {
                Py_ssize_t pl = e->prefixed_len[prefixed];
                if (vescaped || vl < pl || memcmp(value, e->prefixed[prefixed], (size_t)pl))
                    return -1;
            }
        } else if (carrier) {
            /* an object holding the carried string under the second key */
            if (*ps.p != '{') return -1;
            ps.p++;
            skip_ws(&ps);
            if (ps.p < ps.end && *ps.p == '}') return -1;
            for (;;) {
                const unsigned char *inner_key;
                Py_ssize_t ikl;
                int iesc;
                if (ps.p >= ps.end || *ps.p != '"') return -1;
                if (read_string(&ps, &inner_key, &ikl, &iesc) < 0 || iesc) return -1;
                int second = e->carrier_len[1] == ikl &&
                             memcmp(e->carrier[1], inner_key, (size_t)ikl) == 0;
                skip_ws(&ps);
                if (ps.p >= ps.end || *ps.p != ':') return -1;
                ps.p++;
                skip_ws(&ps);
                if (second) {
                    if (found || ps.p >= ps.end || *ps.p != '"') return -1;
                    if (read_unescaped(&ps, out, carried_len, SX_SSSE3) < 0) return -1;
                    found = 1;
                } else if (read_value(&ps, -1, 3) < 0) {
                    return -1;
                }
                int more = next_member(&ps, '}');
                if (more < 0) return -1;
                if (more) continue;
                break;
            }
            if (!found) return -1;
        } else if (read_value(&ps, -1, 2) < 0) {
            return -1;
        }
        int more = next_member(&ps, '}');
        if (more < 0) return -1;
        if (more) continue;
        break;
    }
    if (ps.p != ps.end || !found) return -1;
    for (int i = 0; i < e->nrequired; i++)
        if (!seen_required[i]) return -1;
    for (int i = 0; i < e->noneof; i++)
        if (!seen_oneof[i]) return -1;
    return 0;
}

/* Where a line goes: -1 passed on, 0 the source's own event, 1 + k one carried by envelope k;
 * *bits: the rules that fire on the event (0: none, dismissed). scratch has room for the line. */
static int classify(const Prefilter *f, const unsigned char *p, Py_ssize_t n, Work *w,
                    unsigned char *scratch, uint64_t *bits) {
    if (judged(f, p, n, w, bits) == 0) return 0;
    if (!f->nenvelopes || prefix_holds(f, p, p + n)) return -1;
    for (int k = 0; k < f->nenvelopes; k++) {
        Py_ssize_t inner = 0;
        if (envelope_string(f, &f->envelopes[k], p, n, scratch, &inner) < 0) continue;
        /* the first envelope that recognises the line is the one that counts */
        return judged(f, scratch, inner, w, bits) == 0 ? 1 + k : -1;
    }
    return -1;
}

/* A growing byte buffer (its bytes handed to Python at the end of a scan). */
typedef struct {
    char *data;
    size_t used, cap;
} Bytes;

static int put_bytes(Bytes *b, const void *p, size_t n) {
    if (b->used + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->used + n) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->used, p, n);
    b->used += n;
    return 0;
}

/* What the hit of a line a carried rule fires on keeps of its event (the line just judged,
 * its values still in w): the kind of line (0: the source's own event, 1 + k: one envelope k
 * carries), then per value node a tag: 0 no value (absent or null), 1 a string read exactly
 * (no escape, ASCII), its length (uint32) and bytes, 2 anything else (read from the text). */
static int carried_values(const Prefilter *f, const Work *w, int how, Bytes *out) {
    unsigned char kind = (unsigned char)how;
    if (put_bytes(out, &kind, 1) < 0) return -1;
    for (int i = 0; i < f->nvalues; i++) {
        int node = f->value_nodes[i];
        const Value *v = &w->values[node];
        unsigned char tag = 2;
        if (f->nodes[node].multi || f->nodes[node].listed) tag = 2;
        else if (v->state == V_ABSENT || v->state == V_NULL) tag = 0;
        else if (v->state == V_STRING && !v->escaped) tag = 1;
        if (put_bytes(out, &tag, 1) < 0) return -1;
        if (tag == 1) {
            uint32_t len = (uint32_t)v->n;
            if (put_bytes(out, &len, 4) < 0 || put_bytes(out, v->p, (size_t)v->n) < 0) return -1;
        }
    }
    return 0;
}

/* ---- the Python type ---- */

static void free_list(char **items, Py_ssize_t *lens, int n) {
    for (int i = 0; i < n && items; i++) free(items[i]);
    free(items);
    free(lens);
}

static void free_tests(Test *tests, int n) {
    for (int i = 0; i < n && tests; i++) {
        for (int a = 0; a < tests[i].nalt; a++) free_alt(&tests[i].alts[a]);
        free(tests[i].alts);
    }
    free(tests);
}

static void free_spec(Prefilter *self) {
    for (int i = 0; i < self->nnodes; i++) {
        free(self->nodes[i].key);
        free(self->nodes[i].children);
    }
    free(self->nodes);
    for (int c = 0; c < self->nconj; c++) {
        for (int i = 0; i < self->conj[c].ntest; i++) {
            for (int a = 0; a < self->conj[c].tests[i].nalt; a++)
                free_alt(&self->conj[c].tests[i].alts[a]);
            free(self->conj[c].tests[i].alts);
        }
        free(self->conj[c].tests);
    }
    free(self->conj);
    for (int i = 0; i < self->ndotted; i++) free(self->dotted[i]);
    free(self->dotted);
    free(self->dotted_len);
    free(self->dotted_from);
    for (int i = 0; i < self->nprefix; i++) {
        free(self->prefix_key[i]);
        free(self->prefix_value[i]);
    }
    free(self->prefix_key);
    free(self->prefix_key_len);
    free(self->prefix_value);
    free(self->prefix_value_len);
    for (int k = 0; k < self->nenvelopes; k++) {
        Envelope *e = &self->envelopes[k];
        free(e->carrier[0]);
        free(e->carrier[1]);
        free_list(e->allowed, e->allowed_len, e->nallowed);
        free_list(e->forbidden, e->forbidden_len, e->nforbidden);
        free_list(e->required, e->required_len, e->nrequired);
        free_list(e->prefixed_key, e->prefixed_key_len, e->nprefixed);
        free_list(e->prefixed, e->prefixed_len, e->nprefixed);
        for (int i = 0; i < e->noneof; i++) free_list(e->oneof[i], e->oneof_len[i], e->oneof_count[i]);
        free_list(e->oneof_key, e->oneof_key_len, e->noneof);
        free(e->oneof);
        free(e->oneof_len);
        free(e->oneof_count);
    }
    free(self->envelopes);
    for (int k = 0; k < self->nrules; k++) {
        Rule *r = &self->rules[k];
        free(r->ops);
        free(r->conj);
        free_tests(r->tests, r->ntests);
        for (int i = 0; i < r->nevery && r->every; i++) {
            free(r->every[i].fields);
            free(r->every[i].ops);
            free_tests(r->every[i].tests, r->every[i].ntests);
        }
        free(r->every);
    }
    free(self->rules);
    free(self->value_nodes);
    for (int b = 0; b < MAX_BANKS; b++) {
        free_bank(self->banks[b]);
        self->banks[b] = NULL;
    }
    for (int i = 0; i < self->nregex; i++) free(self->regex[i]);
    free(self->regex);
    free(self->regex_ok);
    self->regex = NULL;
    self->regex_ok = NULL;
    self->nregex = 0;
}

static void Prefilter_dealloc(Prefilter *self) {
    free_spec(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static char *copy_bytes(PyObject *obj, Py_ssize_t *len) {
    char *data;
    if (PyBytes_AsStringAndSize(obj, &data, len) < 0) return NULL;
    char *out = malloc((size_t)*len + 1);
    if (!out) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(out, data, (size_t)*len);
    out[*len] = 0;
    return out;
}

/* A list of bytes, copied; -1 on error. */
static int byte_list(PyObject *list, char ***items, Py_ssize_t **lens, int *n) {
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "a list of bytes expected");
        return -1;
    }
    Py_ssize_t count = PyList_GET_SIZE(list);
    *items = calloc((size_t)count + 1, sizeof(char *));
    *lens = calloc((size_t)count + 1, sizeof(Py_ssize_t));
    if (!*items || !*lens) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        *n = (int)i + 1;
        if (!((*items)[i] = copy_bytes(PyList_GET_ITEM(list, i), &(*lens)[i]))) return -1;
    }
    *n = (int)count;
    return 0;
}

/* An envelope: (carrier keys, allowed, forbidden, required, [(key, [values])], [(key, prefix)]) */
static int read_envelope(PyObject *spec, Envelope *e) {
    PyObject *carrier, *allowed, *forbidden, *required, *oneof, *prefixed;
    if (!PyArg_ParseTuple(spec, "O!O!O!O!O!O!", &PyList_Type, &carrier, &PyList_Type, &allowed,
                          &PyList_Type, &forbidden, &PyList_Type, &required, &PyList_Type, &oneof,
                          &PyList_Type, &prefixed))
        return -1;
    Py_ssize_t depth = PyList_GET_SIZE(carrier);
    if (depth < 1 || depth > 2) {
        PyErr_SetString(PyExc_ValueError, "a carrier of one or two keys");
        return -1;
    }
    e->depth = (int)depth;
    for (Py_ssize_t i = 0; i < depth; i++)
        if (!(e->carrier[i] = copy_bytes(PyList_GET_ITEM(carrier, i), &e->carrier_len[i])))
            return -1;
    if (byte_list(allowed, &e->allowed, &e->allowed_len, &e->nallowed) < 0 ||
        byte_list(forbidden, &e->forbidden, &e->forbidden_len, &e->nforbidden) < 0 ||
        byte_list(required, &e->required, &e->required_len, &e->nrequired) < 0)
        return -1;
    Py_ssize_t no = PyList_GET_SIZE(oneof), np = PyList_GET_SIZE(prefixed);
    if (no > MAX_TESTED_KEYS || np > MAX_TESTED_KEYS || e->nrequired > MAX_TESTED_KEYS) {
        PyErr_SetString(PyExc_ValueError, "too many keys tested");
        return -1;
    }
    e->oneof_key = calloc((size_t)no + 1, sizeof(char *));
    e->oneof_key_len = calloc((size_t)no + 1, sizeof(Py_ssize_t));
    e->oneof = calloc((size_t)no + 1, sizeof(char **));
    e->oneof_len = calloc((size_t)no + 1, sizeof(Py_ssize_t *));
    e->oneof_count = calloc((size_t)no + 1, sizeof(int));
    e->prefixed_key = calloc((size_t)np + 1, sizeof(char *));
    e->prefixed_key_len = calloc((size_t)np + 1, sizeof(Py_ssize_t));
    e->prefixed = calloc((size_t)np + 1, sizeof(char *));
    e->prefixed_len = calloc((size_t)np + 1, sizeof(Py_ssize_t));
    if (!e->oneof_key || !e->oneof_key_len || !e->oneof || !e->oneof_len || !e->oneof_count ||
        !e->prefixed_key || !e->prefixed_key_len || !e->prefixed || !e->prefixed_len) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < no; i++) {
        PyObject *key, *values;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(oneof, i), "SO!", &key, &PyList_Type, &values))
            return -1;
        e->noneof = (int)i + 1;
        if (!(e->oneof_key[i] = copy_bytes(key, &e->oneof_key_len[i]))) return -1;
        if (byte_list(values, &e->oneof[i], &e->oneof_len[i], &e->oneof_count[i]) < 0) return -1;
    }
    for (Py_ssize_t i = 0; i < np; i++) {
        PyObject *key, *prefix;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(prefixed, i), "SS", &key, &prefix)) return -1;
        e->nprefixed = (int)i + 1;
        if (!(e->prefixed_key[i] = copy_bytes(key, &e->prefixed_key_len[i]))) return -1;
        if (!(e->prefixed[i] = copy_bytes(prefix, &e->prefixed_len[i]))) return -1;
    }
    return 0;
}

/* A test: (node, [(kind, int, glob or ERE bytes)]) of a field node; -1 on error. */
static int read_test(Prefilter *self, PyObject *spec, Test *test) {
    PyObject *alts;
    test->id = -1;
    if (!PyArg_ParseTuple(spec, "iO!|i", &test->node, &PyList_Type, &alts, &test->id)) return -1;
    if (test->id >= self->ntestids) self->ntestids = test->id + 1;
    if (test->node < 0 || test->node >= self->nnodes || !self->nodes[test->node].is_field) {
        PyErr_SetString(PyExc_ValueError, "a test of no field");
        return -1;
    }
    Py_ssize_t na = PyList_GET_SIZE(alts);
    test->alts = calloc((size_t)na + 1, sizeof(Alt));
    if (!test->alts) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t a = 0; a < na; a++) {
        PyObject *text;
        Alt *alt = &test->alts[a];
        if (!PyArg_ParseTuple(PyList_GET_ITEM(alts, a), "iLS", &alt->kind, &alt->number, &text))
            return -1;
        test->nalt = (int)a + 1;
        if (!(alt->text = copy_bytes(text, &alt->len))) return -1;
        unsigned char c = alt->len ? (unsigned char)alt->text[0] : 0;
        alt->first = alt->len && c != '\x01' && c != '\x02' ? c : -1;
        alt->plain = alt->kind == A_GLOB && !memchr(alt->text, '\x01', (size_t)alt->len) &&
                     !memchr(alt->text, '\x02', (size_t)alt->len);
        alt->ri = -1;
        if (alt->kind == A_REGEX) {
            alt->first = -1;
            char **grown = realloc(self->regex, sizeof(char *) * ((size_t)self->nregex + 1));
            if (!grown) {
                PyErr_NoMemory();
                return -1;
            }
            self->regex = grown;
            if (!(self->regex[self->nregex] = strdup(alt->text))) {
                PyErr_NoMemory();
                return -1;
            }
            alt->ri = self->nregex++;
        }
    }
    return 0;
}

/* Whether two tests test the same node with the same values. */
static int same_test(const Test *a, const Test *b) {
    if (a->node != b->node || a->nalt != b->nalt) return 0;
    for (int i = 0; i < a->nalt; i++) {
        const Alt *x = &a->alts[i], *y = &b->alts[i];
        if (x->kind != y->kind || x->number != y->number || x->len != y->len ||
            memcmp(x->text, y->text, (size_t)x->len))
            return 0;
    }
    return 1;
}

/* A list of ints, copied; -1 on error. */
static int int_list(PyObject *list, int **items, int *n) {
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "a list of ints expected");
        return -1;
    }
    Py_ssize_t count = PyList_GET_SIZE(list);
    *items = calloc((size_t)count + 1, sizeof(int));
    if (!*items) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        long value = PyLong_AsLong(PyList_GET_ITEM(list, i));
        if (value == -1 && PyErr_Occurred()) return -1;
        (*items)[i] = (int)value;
    }
    *n = (int)count;
    return 0;
}

/* A program's checks: each op known, each test and every-element detection there, one value
 * left; its length in ops, or -1. */
static int checked_program(const int *ops, int nints, int ntests, int nevery) {
    int depth = 0, bad = nints % 2 != 0;
    for (int i = 0; i < nints / 2 && !bad; i++) {
        int op = ops[2 * i], arg = ops[2 * i + 1];
        if (op == OP_TEST) bad = arg < 0 || arg >= ntests, depth++;
        else if (op == OP_EVERY) bad = arg < 0 || arg >= nevery, depth++;
        else if (op == OP_UNKNOWN) depth++;
        else if (op == OP_NOT) bad = depth < 1;
        else if (op == OP_AND || op == OP_OR) bad = arg < 1 || arg > depth, depth -= arg - 1;
        else bad = 1;
    }
    if (bad || depth != 1) {
        PyErr_SetString(PyExc_ValueError, "a malformed rule program");
        return -1;
    }
    return nints / 2;
}

/* A checked postfix program of nops (op, arg) pairs, made a prefix tree in place: (op, arg,
 * size) per node, size the length of the node's subtree in nodes (a node's children follow
 * it, each after the subtree of the one before); *ops grown to hold it; -1 out of memory. */
static int prefix_tree(int **ops, int nops) {
    int *tree = malloc(sizeof(int) * 3 * ((size_t)nops + 1));
    int *start = malloc(sizeof(int) * ((size_t)nops + 1)); /* each open subtree's first node */
    if (!tree || !start) {
        free(tree);
        free(start);
        PyErr_NoMemory();
        return -1;
    }
    int top = 0, used = 0;
    for (int i = 0; i < nops; i++) {
        int op = (*ops)[2 * i], arg = (*ops)[2 * i + 1];
        int first = used; /* a leaf: its own subtree */
        if (op == OP_NOT || op == OP_AND || op == OP_OR) {
            /* its children are the last subtrees made, one after another: the node goes
             * before them */
            int children = op == OP_NOT ? 1 : arg;
            first = start[top - children];
            top -= children;
            memmove(tree + 3 * (first + 1), tree + 3 * first,
                    sizeof(int) * 3 * (size_t)(used - first));
        }
        tree[3 * first] = op;
        tree[3 * first + 1] = arg;
        tree[3 * first + 2] = used - first + 1;
        used++;
        start[top++] = first;
    }
    free(start);
    free(*ops);
    *ops = tree;
    return 0;
}

/* Tests from a list of (node, [(kind, int, glob bytes)]); -1 on error. */
static int read_tests(Prefilter *self, PyObject *list, Test **tests, int *n) {
    Py_ssize_t nt = PyList_GET_SIZE(list);
    *tests = calloc((size_t)nt + 1, sizeof(Test));
    if (!*tests) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t t = 0; t < nt; t++) {
        *n = (int)t + 1;
        if (read_test(self, PyList_GET_ITEM(list, t), &(*tests)[t]) < 0) return -1;
    }
    return 0;
}

/* A judged rule: (bit, carried, [op, arg, op, arg, ...], [test], [conjunction index],
 * [every-element detection: ([field node], [op, arg, ...], [test])]); its programs are checked
 * to leave one value, its tests, detections and conjunctions to exist. */
static int read_rule(Prefilter *self, PyObject *spec, Rule *r) {
    PyObject *ops, *tests, *conj, *every = NULL;
    if (!PyArg_ParseTuple(spec, "ipO!O!O!|O!", &r->bit, &r->carried, &PyList_Type, &ops,
                          &PyList_Type, &tests, &PyList_Type, &conj, &PyList_Type, &every))
        return -1;
    if (r->bit < 0 || r->bit > 63) {
        PyErr_SetString(PyExc_ValueError, "a rule bit out of 0..63");
        return -1;
    }
    int nints = 0;
    if (int_list(ops, &r->ops, &nints) < 0 || int_list(conj, &r->conj, &r->nconj) < 0) return -1;
    if (read_tests(self, tests, &r->tests, &r->ntests) < 0) return -1;
    Py_ssize_t ne = every ? PyList_GET_SIZE(every) : 0;
    r->every = calloc((size_t)ne + 1, sizeof(Every));
    if (!r->every) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < ne; k++) {
        Every *e = &r->every[k];
        PyObject *fields, *eops, *etests;
        r->nevery = (int)k + 1;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(every, k), "O!O!O!", &PyList_Type, &fields,
                              &PyList_Type, &eops, &PyList_Type, &etests))
            return -1;
        int eints = 0;
        if (int_list(fields, &e->fields, &e->nfields) < 0 || int_list(eops, &e->ops, &eints) < 0 ||
            read_tests(self, etests, &e->tests, &e->ntests) < 0)
            return -1;
        for (int i = 0; i < e->nfields; i++)
            if (e->fields[i] < 0 || e->fields[i] >= self->nnodes ||
                !self->nodes[e->fields[i]].is_field) {
                PyErr_SetString(PyExc_ValueError, "an every-element detection of no field");
                return -1;
            }
        if ((e->nops = checked_program(e->ops, eints, e->ntests, 0)) < 0) return -1;
        if (prefix_tree(&e->ops, e->nops) < 0) return -1;
    }
    if ((r->nops = checked_program(r->ops, nints, r->ntests, r->nevery)) < 0) return -1;
    if (prefix_tree(&r->ops, r->nops) < 0) return -1;
    for (int i = 0; i < r->nconj; i++)
        if (r->conj[i] < 0 || r->conj[i] >= self->nconj) {
            PyErr_SetString(PyExc_ValueError, "a conjunction out of range");
            return -1;
        }
    if (r->carried) self->carried |= (uint64_t)1 << r->bit;
    return 0;
}

/* Prefilter(nodes, conjunctions, dotted, prefix, envelopes[, rules[, values[, guarded]]]):
 *   nodes: [(parent index, key bytes, is field[, is an array of values, holds an array,
 *   is a field below an array])], node 0 the top-level object (parent -1);
 *   conjunctions: [[(node, [(kind, int, glob bytes)])]];
 *   dotted: [bytes]; prefix: [(key bytes, value start bytes)];
 *   envelopes: [as read_envelope reads one], in the order the sources recognise them;
 *   rules: [as read_rule reads one]: the judge (none: every line a conjunction holds on is
 *   passed on);
 *   values: [field node]: the values handed back for each line a carried rule fires on
 *   (carried_values);
 *   guarded: the first rule is the guard (Prefilter.guarded), its bit unused. */
static int Prefilter_init(Prefilter *self, PyObject *args, PyObject *kwds) {
    PyObject *nodes, *conj, *dotted, *prefix, *envelopes, *rules = NULL, *values = NULL;
    int guarded = 0;
    (void)kwds;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!|O!O!p", &PyList_Type, &nodes, &PyList_Type, &conj,
                          &PyList_Type, &dotted, &PyList_Type, &prefix, &PyList_Type, &envelopes,
                          &PyList_Type, &rules, &PyList_Type, &values, &guarded))
        return -1;
    free_spec(self);
    memset((char *)self + sizeof(PyObject), 0, sizeof(Prefilter) - sizeof(PyObject));
    Py_ssize_t nn = PyList_GET_SIZE(nodes);
    if (nn < 1 || nn > MAX_NODES) {
        PyErr_SetString(PyExc_ValueError, "no top-level node, or too many nodes");
        return -1;
    }
    self->nodes = calloc((size_t)nn, sizeof(Node));
    if (!self->nodes) goto nomem;
    self->nnodes = (int)nn;
    for (Py_ssize_t i = 0; i < nn; i++) {
        int parent, is_field, listed = 0, array = 0, multi = 0;
        PyObject *key;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(nodes, i), "iSp|ppp", &parent, &key, &is_field,
                              &listed, &array, &multi))
            return -1;
        if ((i == 0) != (parent < 0) || parent >= i) {
            PyErr_SetString(PyExc_ValueError, "nodes out of order");
            return -1;
        }
        if (!(self->nodes[i].key = copy_bytes(key, &self->nodes[i].len))) return -1;
        self->nodes[i].is_field = is_field;
        self->nodes[i].listed = listed;
        self->nodes[i].array = array;
        self->nodes[i].multi = multi && is_field;
        if (parent >= 0) {
            Node *p = &self->nodes[parent];
            int *grown = realloc(p->children, sizeof(int) * (size_t)(p->nchild + 1));
            if (!grown) goto nomem;
            p->children = grown;
            p->children[p->nchild++] = (int)i;
        }
    }
    for (int i = 0; i < self->nnodes; i++) {
        Node *n = &self->nodes[i];
        for (int k = 0; k < KEY_SLOTS; k++) n->child_at[k] = KEY_NONE;
        for (int k = 0; k < n->nchild; k++) {
            const Node *c = &self->nodes[n->children[k]];
            short *at = &n->child_at[KEY_SLOT(key_hash((unsigned char *)c->key, c->len))];
            *at = *at == KEY_NONE ? (short)n->children[k] : KEY_SOME; /* MAX_NODES fits */
        }
    }
    Py_ssize_t nc = PyList_GET_SIZE(conj);
    self->conj = calloc((size_t)nc + 1, sizeof(Conj));
    if (!self->conj) goto nomem;
    for (Py_ssize_t c = 0; c < nc; c++) {
        PyObject *tests = PyList_GET_ITEM(conj, c);
        if (!PyList_Check(tests)) goto type;
        Py_ssize_t nt = PyList_GET_SIZE(tests);
        Conj *cj = &self->conj[c];
        self->nconj = (int)c + 1;
        cj->tests = calloc((size_t)nt + 1, sizeof(Test));
        if (!cj->tests) goto nomem;
        for (Py_ssize_t t = 0; t < nt; t++) {
            cj->ntest = (int)t + 1;
            if (read_test(self, PyList_GET_ITEM(tests, t), &cj->tests[t]) < 0) return -1;
        }
    }
    /* the same test in several conjunctions is tried once a line */
    for (int c = 0; c < self->nconj; c++)
        for (int i = 0; i < self->conj[c].ntest; i++) {
            Test *t = &self->conj[c].tests[i];
            t->hid = -1;
            for (int d = 0; d <= c && t->hid < 0; d++)
                for (int j = 0; j < (d == c ? i : self->conj[d].ntest) && t->hid < 0; j++)
                    if (same_test(&self->conj[d].tests[j], t)) t->hid = self->conj[d].tests[j].hid;
            if (t->hid < 0) t->hid = self->nholdids++;
        }
    Py_ssize_t nd = PyList_GET_SIZE(dotted);
    self->dotted = calloc((size_t)nd + 1, sizeof(char *));
    self->dotted_len = calloc((size_t)nd + 1, sizeof(Py_ssize_t));
    if (!self->dotted || !self->dotted_len) goto nomem;
    for (Py_ssize_t i = 0; i < nd; i++) {
        self->ndotted = (int)i + 1;
        if (!(self->dotted[i] = copy_bytes(PyList_GET_ITEM(dotted, i), &self->dotted_len[i])))
            return -1;
    }
    /* by length (insertion: a few hundred keys), each length's run found at once */
    for (int i = 1; i < self->ndotted; i++) {
        char *key = self->dotted[i];
        Py_ssize_t len = self->dotted_len[i];
        int j = i;
        for (; j > 0 && self->dotted_len[j - 1] > len; j--) {
            self->dotted[j] = self->dotted[j - 1];
            self->dotted_len[j] = self->dotted_len[j - 1];
        }
        self->dotted[j] = key;
        self->dotted_len[j] = len;
    }
    self->dotted_longest = self->ndotted ? self->dotted_len[self->ndotted - 1] : 0;
    for (int i = 0; i < self->ndotted; i++) {
        unsigned bit = DOTTED_BIT(key_hash((unsigned char *)self->dotted[i], self->dotted_len[i]));
        self->dotted_bits[bit >> 6] |= (uint64_t)1 << (bit & 63);
    }
    self->dotted_from = calloc((size_t)self->dotted_longest + 2, sizeof(int));
    if (!self->dotted_from) goto nomem;
    for (Py_ssize_t len = 0, i = 0; len <= self->dotted_longest + 1; len++) {
        while (i < self->ndotted && self->dotted_len[i] < len) i++;
        self->dotted_from[len] = (int)i;
    }
    Py_ssize_t np = PyList_GET_SIZE(prefix);
    self->prefix_key = calloc((size_t)np + 1, sizeof(char *));
    self->prefix_value = calloc((size_t)np + 1, sizeof(char *));
    self->prefix_key_len = calloc((size_t)np + 1, sizeof(Py_ssize_t));
    self->prefix_value_len = calloc((size_t)np + 1, sizeof(Py_ssize_t));
    if (!self->prefix_key || !self->prefix_value || !self->prefix_key_len ||
        !self->prefix_value_len)
        goto nomem;
    for (Py_ssize_t i = 0; i < np; i++) {
        PyObject *key, *value;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(prefix, i), "SS", &key, &value)) return -1;
        self->nprefix = (int)i + 1;
        if (!(self->prefix_key[i] = copy_bytes(key, &self->prefix_key_len[i]))) return -1;
        if (!(self->prefix_value[i] = copy_bytes(value, &self->prefix_value_len[i]))) return -1;
    }
    Py_ssize_t ne = PyList_GET_SIZE(envelopes);
    if (ne && !np) {
        PyErr_SetString(PyExc_ValueError, "envelopes need the first keys of their event");
        return -1;
    }
    self->envelopes = calloc((size_t)ne + 1, sizeof(Envelope));
    if (!self->envelopes) goto nomem;
    for (Py_ssize_t k = 0; k < ne; k++) {
        self->nenvelopes = (int)k + 1;
        if (read_envelope(PyList_GET_ITEM(envelopes, k), &self->envelopes[k]) < 0) return -1;
    }
    Py_ssize_t nr = rules ? PyList_GET_SIZE(rules) : 0;
    self->rules = calloc((size_t)nr + 1, sizeof(Rule));
    if (!self->rules) goto nomem;
    for (Py_ssize_t k = 0; k < nr; k++) {
        self->nrules = (int)k + 1;
        if (read_rule(self, PyList_GET_ITEM(rules, k), &self->rules[k]) < 0) return -1;
    }
    if (guarded) {
        if (!self->nrules || self->rules[0].carried || self->nenvelopes) {
            PyErr_SetString(PyExc_ValueError, "a guard is a first rule, not carried, no envelope");
            return -1;
        }
        self->guarded = 1;
    }
    if (values) {
        if (int_list(values, &self->value_nodes, &self->nvalues) < 0) return -1;
        for (int i = 0; i < self->nvalues; i++)
            if (self->value_nodes[i] < 0 || self->value_nodes[i] >= self->nnodes ||
                !self->nodes[self->value_nodes[i]].is_field) {
                PyErr_SetString(PyExc_ValueError, "a value of no field");
                return -1;
            }
    }
    /* the first bank, compiled now to know which EREs compile */
    self->regex_ok = calloc((size_t)self->nregex + 1, sizeof(int));
    if (!self->regex_ok) goto nomem;
    if (self->nregex) self->banks[0] = compiled_bank(self->regex, self->nregex, self->regex_ok);
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
type:
    PyErr_SetString(PyExc_TypeError, "conjunctions must be lists");
    return -1;
}

/* scan(buffer) -> (passed on: bytes, their line indices: bytes of uint32, lines, set aside: a
 * count for the source's own events, then one per envelope, judged: the line indices of the
 * events set aside that rules fire on, bytes of uint32, those rules' bits, bytes of uint64, and
 * the text of those a carried rule fires on, each with a '\n', and what each of those keeps of
 * its event, one after another: carried_values, and with kinds true, every line's kind: the
 * index of its count among those set aside, or 255 when it is passed on; else empty) 
 * The buffer holds whole lines, each ended by '\n' but perhaps the last; each line passed on
 * is copied with a '\n'. Runs without the GIL. */
static PyObject *Prefilter_scan(Prefilter *self, PyObject *args) {
    Py_buffer buf;
    int want_kinds = 0;
    if (!PyArg_ParseTuple(args, "y*|p", &buf, &want_kinds)) return NULL;
    const unsigned char *data = buf.buf, *end = data + buf.len;
    char *out = malloc((size_t)buf.len + 1);
    /* a line per '\n', and one after the last */
    unsigned char *kinds = want_kinds ? malloc((size_t)buf.len + 1) : NULL;
    char *kept_carried = self->carried ? malloc((size_t)buf.len + 1) : NULL;
    size_t cap = 1024, count = 0, used = 0, jcap = 1024, jcount = 0, cused = 0;
    Bytes kept_values = {NULL, 0, 0};
    uint32_t *numbers = malloc(cap * sizeof(uint32_t));
    uint32_t *jnumbers = malloc(jcap * sizeof(uint32_t));
    uint64_t *jbits = malloc(jcap * sizeof(uint64_t));
    Work w = {
        .f = self,
        .values = calloc((size_t)self->nnodes, sizeof(Value)),
        .seen = calloc((size_t)self->nnodes, sizeof(int)),
        .multi = calloc((size_t)self->nnodes, sizeof(Multi)),
        .touched = malloc(sizeof(int) * (size_t)self->nnodes),
        .found = calloc((size_t)self->ntestids + 1, sizeof(int)),
        .result = malloc((size_t)self->ntestids + 1),
        .hfound = calloc((size_t)self->nholdids + 1, sizeof(int)),
        .hresult = malloc((size_t)self->nholdids + 1),
        .holds = malloc((size_t)self->nconj + 1),
    };
    unsigned char *scratch = self->nenvelopes ? malloc((size_t)buf.len + 16) : NULL;
    long long lines = 0;
    long long *gone = calloc((size_t)self->nenvelopes + 1, sizeof(long long));
    /* a bank of the rules' regexes of this scan's own (with the GIL: busy needs no lock); when
     * every bank is taken, one made for this scan */
    int bank = -1;
    Bank *own_bank = NULL;
    for (int b = 0; self->nregex && b < MAX_BANKS && bank < 0; b++) {
        if (self->busy[b]) continue;
        if (!self->banks[b]) self->banks[b] = compiled_bank(self->regex, self->nregex, NULL);
        if (self->banks[b]) {
            bank = b;
            self->busy[b] = 1;
        }
    }
    if (self->nregex && bank < 0) own_bank = compiled_bank(self->regex, self->nregex, NULL);
    Bank *regexes = bank >= 0 ? self->banks[bank] : own_bank;
    int failed = !out || !numbers || !jnumbers || !jbits || !w.values || !w.seen || !w.multi ||
                 !w.touched || !w.found || !w.result || !w.hfound || !w.hresult ||
                 !w.holds || !gone || (self->nenvelopes && !scratch) ||
                 (self->carried && !kept_carried) || (want_kinds && !kinds);
    if (!failed) {
        Py_BEGIN_ALLOW_THREADS;
        sx_bank = regexes;
        sx_ok = self->regex_ok;
        const unsigned char *p = data;
        while (p < end) {
            const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
            const unsigned char *stop = nl ? nl : end;
            Py_ssize_t n = stop - p;
            uint64_t bits = 0;
            int how = classify(self, p, n, &w, scratch, &bits);
            if (kinds) kinds[lines] = how >= 0 ? (unsigned char)how : 255;
            if (how >= 0) {
                gone[how]++;
                if (bits) {
                    if (jcount == jcap) {
                        uint32_t *grown = realloc(jnumbers, 2 * jcap * sizeof(uint32_t));
                        if (grown) jnumbers = grown;
                        uint64_t *grown_bits = grown ? realloc(jbits, 2 * jcap * sizeof(uint64_t)) : NULL;
                        if (!grown || !grown_bits) {
                            failed = 1;
                            break;
                        }
                        jbits = grown_bits;
                        jcap *= 2;
                    }
                    jnumbers[jcount] = (uint32_t)lines;
                    jbits[jcount++] = bits;
                    if (bits & self->carried) { /* its values are read from its text */
                        memcpy(kept_carried + cused, p, (size_t)n);
                        cused += (size_t)n;
                        kept_carried[cused++] = '\n';
                        if (carried_values(self, &w, how, &kept_values) < 0) {
                            failed = 1;
                            break;
                        }
                    }
                }
            } else {
                if (count == cap) {
                    uint32_t *grown = realloc(numbers, 2 * cap * sizeof(uint32_t));
                    if (!grown) {
                        failed = 1;
                        break;
                    }
                    numbers = grown;
                    cap *= 2;
                }
                numbers[count++] = (uint32_t)lines;
                memcpy(out + used, p, (size_t)n);
                used += (size_t)n;
                out[used++] = '\n';
            }
            lines++;
            p = nl ? nl + 1 : end;
        }
        sx_bank = NULL;
        Py_END_ALLOW_THREADS;
    }
    if (bank >= 0) self->busy[bank] = 0;
    free_bank(own_bank);
    PyBuffer_Release(&buf);
    free(w.values);
    free(w.seen);
    free(w.multi);
    free(w.touched);
    free(w.found);
    free(w.result);
    free(w.hfound);
    free(w.hresult);
    free(w.holds);
    free(scratch);
    PyObject *result = NULL, *counts = NULL;
    if (failed) {
        PyErr_NoMemory();
    } else if ((counts = PyTuple_New(self->nenvelopes + 1))) {
        for (int k = 0; k <= self->nenvelopes; k++)
            PyTuple_SET_ITEM(counts, k, PyLong_FromLongLong(gone[k]));
        result = Py_BuildValue("(y#y#LNy#y#y#y#y#)", out, (Py_ssize_t)used, (const char *)numbers,
                               (Py_ssize_t)(count * sizeof(uint32_t)), lines, counts,
                               (const char *)jnumbers, (Py_ssize_t)(jcount * sizeof(uint32_t)),
                               (const char *)jbits, (Py_ssize_t)(jcount * sizeof(uint64_t)),
                               kept_carried ? kept_carried : "", (Py_ssize_t)cused,
                               kept_values.data ? kept_values.data : "",
                               (Py_ssize_t)kept_values.used, kinds ? (const char *)kinds : "",
                               (Py_ssize_t)(kinds ? lines : 0));
    }
    free(kinds);
    free(gone);
    free(out);
    free(kept_carried);
    free(kept_values.data);
    free(numbers);
    free(jnumbers);
    free(jbits);
    return result;
}

static PyMethodDef Prefilter_methods[] = {
    {"scan", (PyCFunction)Prefilter_scan, METH_VARARGS,
     "scan(buffer, kinds=False) -> (lines passed on, their indices as uint32, lines, set aside "
     "per kind, judged indices as uint32, their rules' bits as uint64, the text and values of "
     "those a carried rule fires on, each line's kind when asked)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PrefilterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sigma_ext.hunt.fast._prefilter.Prefilter",
    .tp_basicsize = sizeof(Prefilter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Sets aside the lines no rule fires on (sigma_ext.hunt.fast.prefilter).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Prefilter_init,
    .tp_dealloc = (destructor)Prefilter_dealloc,
    .tp_methods = Prefilter_methods,
};

/* search(ere, text) -> True, False, or None where the ERE is not compiled (no glibc, or refused):
 * the judge's test of an A_REGEX value on a string read with no escape (for the tests). */
static PyObject *module_search(PyObject *self, PyObject *args) {
    (void)self;
    const char *ere;
    const unsigned char *text;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "yy#", &ere, &text, &n)) return NULL;
    char *eres[1] = {(char *)ere};
    int ok = 0;
    Bank *compiled = compiled_bank(eres, 1, &ok);
#if SX_REGEX
    int found = compiled && ok ? regex_search(&compiled->re[0], text, n) : T_UNKNOWN;
#else
    int found = T_UNKNOWN;
    (void)text;
    (void)n;
#endif
    free_bank(compiled);
    if (found == T_UNKNOWN) Py_RETURN_NONE;
    return PyBool_FromLong(found == T_TRUE);
}

static PyObject *module_shuffles(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyBool_FromLong(SX_SSSE3);
}

/* unescaped(literal, shuffle=True) -> the bytes a JSON string literal (its quotes included)
 * holds, decoded as an envelope's carried string is, or None where the envelope reader takes it
 * for no strict JSON string; shuffle: by 16-byte blocks where the CPU can (for the tests). */
static PyObject *module_unescaped(PyObject *self, PyObject *args) {
    (void)self;
    const unsigned char *text;
    Py_ssize_t n;
    int shuffle = 1;
    if (!PyArg_ParseTuple(args, "y#|p", &text, &n, &shuffle)) return NULL;
    if (n < 1 || text[0] != '"') Py_RETURN_NONE;
    unsigned char *out = malloc((size_t)n + 16);
    if (!out) return PyErr_NoMemory();
    Parse ps = {.p = text, .end = text + n};
    Py_ssize_t len = 0;
    PyObject *result;
    if (read_unescaped(&ps, out, &len, shuffle && SX_SSSE3) < 0 || ps.p != ps.end) {
        Py_INCREF(Py_None);
        result = Py_None;
    } else {
        result = PyBytes_FromStringAndSize((const char *)out, len);
    }
    free(out);
    return result;
}

static PyMethodDef module_methods[] = {
    {"search", module_search, METH_VARARGS,
     "search(ere, text) -> whether the POSIX ERE finds a match in text (None: not compiled)"},
    {"unescaped", module_unescaped, METH_VARARGS,
     "unescaped(literal, shuffle=True) -> the bytes a JSON string literal holds, or None"},
    {"shuffles", module_shuffles, METH_NOARGS,
     "shuffles() -> whether carried strings are decoded 16 bytes at a time (SSSE3)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_prefilter", "The fast hunt's native line prefilter.", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__prefilter(void) {
#if SX_SHUFFLE
    shuffle_tables();
#endif
    if (PyType_Ready(&PrefilterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&PrefilterType);
    if (PyModule_AddObject(m, "Prefilter", (PyObject *)&PrefilterType) < 0) {
        Py_DECREF(&PrefilterType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
