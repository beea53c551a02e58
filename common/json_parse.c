/*
 * json_parse.c — a client message's JSON text into jansson values, the
 * same values json_loadb gives, at a fraction of its cost.
 *
 * Why not json_loadb alone: a worker parses every message a client sends,
 * and for {"action":"ping"} jansson spent ~3,700 instructions, a third of
 * the worker's whole echo round trip. Its lexer reads through a stream
 * callback one character at a time, copies each token into a growing
 * buffer and copies the buffer again into the value. Here the text is
 * walked once in place: strings are validated (no control characters,
 * RFC 3629 UTF-8 by common/utf8.h when not plain ASCII) and handed to
 * jansson's unchecked constructors, integers are accumulated as they are
 * read.
 *
 * Only the messages clients usually send take this path: objects, arrays,
 * strings without escapes, integers of up to 18 digits, true, false, null,
 * nesting up to 32 deep. Anything else — a backslash, a fraction or an
 * exponent, a longer number, deeper nesting, and every kind of invalid
 * JSON — stops it, and json_loadb reads the text from the start: so the
 * result, and every error message a client gets ("Invalid JSON: ..."), are
 * jansson's own. A repeated key keeps its first position and its last
 * value, as jansson's parser does (json_object_setn_new_nocheck in both).
 * tests/unit/test_json_parse.c compares the two on random and mutated
 * texts, byte for byte of their compact dumps.
 */
#include "common/json_parse.h"
#include "common/utf8.h"

#include <string.h>

#define MAX_DEPTH 32         /* deeper: json_loadb (its own limit is 2048) */
#define MAX_DIGITS 18        /* more: json_loadb (it knows json_int_t's range) */

typedef struct {
    const unsigned char *p, *end;
    int depth;
} parser;

static json_t *value(parser *ps);

static void skip_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

/* A string without escapes, the cursor on its opening quote: its bytes (in the text) and their count. */
static int string(parser *ps, const char **out, size_t *len)
{
    const unsigned char *start = ++ps->p;
    int ascii = 1;   /* UTF-8's multi-byte sequences are all bytes >= 0x80: no quote or backslash among them */
    for (; ps->p < ps->end; ps->p++) {
        unsigned char c = *ps->p;
        if (c == '"')
            break;
        if (c < 0x20 || c == '\\')
            return -1;
        ascii &= c < 0x80;
    }
    uint32_t state = 0;
    if (ps->p == ps->end || (!ascii && (cx_utf8_feed(&state, start, (size_t) (ps->p - start)) != 0 || state)))
        return -1;
    *out = (const char *) start;
    *len = (size_t) (ps->p - start);
    ps->p++;
    return 0;
}

static json_t *integer(parser *ps)
{
    int negative = ps->p < ps->end && *ps->p == '-';
    ps->p += negative;
    const unsigned char *digits = ps->p;
    json_int_t v = 0;
    size_t n = 0;
    for (; ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'; ps->p++, n++)
        if (n < MAX_DIGITS)   /* past it the value is not used: no overflow */
            v = v * 10 + (*ps->p - '0');
    if (n == 0 || n > MAX_DIGITS || (n > 1 && digits[0] == '0'))
        return NULL;
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
        return NULL;   /* a real: jansson's strtod rules */
    return json_integer(negative ? -v : v);
}

static json_t *literal(parser *ps, const char *word, size_t n, json_t *v)
{
    if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return NULL;
    ps->p += n;
    return v;
}

static json_t *object(parser *ps)
{
    json_t *obj = json_object();
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    while (obj) {
        const char *key;
        size_t klen;
        if (ps->p >= ps->end || *ps->p != '"' || string(ps, &key, &klen) != 0)
            break;
        skip_space(ps);
        if (ps->p >= ps->end || *ps->p++ != ':')
            break;
        json_t *member = value(ps);
        if (!member || json_object_setn_new_nocheck(obj, key, klen, member) != 0)
            break;
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return obj;
        }
        if (ps->p >= ps->end || *ps->p++ != ',')
            break;
        skip_space(ps);
    }
    json_decref(obj);
    return NULL;
}

static json_t *array(parser *ps)
{
    json_t *arr = json_array();
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    while (arr) {
        json_t *item = value(ps);
        if (!item || json_array_append_new(arr, item) != 0)
            break;
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        }
        if (ps->p >= ps->end || *ps->p++ != ',')
            break;
    }
    json_decref(arr);
    return NULL;
}

/* A value after optional white space; NULL when it is not one this path takes. */
static json_t *value(parser *ps)
{
    skip_space(ps);
    if (ps->p >= ps->end || ps->depth >= MAX_DEPTH)
        return NULL;
    const char *s;
    size_t len;
    json_t *v = NULL;
    ps->depth++;
    switch (*ps->p) {
    case '{': v = object(ps); break;
    case '[': v = array(ps); break;
    case '"': v = string(ps, &s, &len) == 0 ? json_stringn_nocheck(s, len) : NULL; break;
    case 't': v = literal(ps, "true", 4, json_true()); break;
    case 'f': v = literal(ps, "false", 5, json_false()); break;
    case 'n': v = literal(ps, "null", 4, json_null()); break;
    default: v = (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) ? integer(ps) : NULL; break;
    }
    ps->depth--;
    return v;
}

json_t *cx_json_parse(const char *text, size_t len, json_error_t *error)
{
    if (text) {
        parser ps = { (const unsigned char *) text, (const unsigned char *) text + len, 0 };
        json_t *v = value(&ps);
        skip_space(&ps);
        if (v && ps.p == ps.end)
            return v;
        json_decref(v);
    }
    return json_loadb(text ? text : "", text ? len : 0, JSON_DECODE_ANY | JSON_ALLOW_NUL, error);
}
