/*
 * json_parse.c — a client message's JSON text into jansson values, the
 * same values json_loadb gives, at a fraction of its cost.
 *
 * Why not json_loadb alone: a worker parses every message a client sends,
 * and for {"action":"ping"} jansson spent ~3,700 instructions, a third of
 * the worker's whole echo round trip. Its lexer reads through a stream
 * callback one character at a time, copies each token into a growing
 * buffer and copies the buffer again into the value. Here the text is
 * walked once in place: strings are validated (RFC 3629 UTF-8, no control
 * characters) and handed to jansson's unchecked constructors, integers are
 * accumulated as they are read.
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

/* The bytes of a UTF-8 sequence starting at p (lead byte >= 0x80), 0 when it is not one RFC 3629
 * allows (overlong forms, surrogates, past U+10FFFF, cut short). */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c == 0xe0)
        n = 3, lo = 0xa0;
    else if (c == 0xed)
        n = 3, hi = 0x9f;
    else if (c >= 0xe1 && c <= 0xef)
        n = 3;
    else if (c == 0xf0)
        n = 4, lo = 0x90;
    else if (c == 0xf4)
        n = 4, hi = 0x8f;
    else if (c >= 0xf1 && c <= 0xf3)
        n = 4;
    else
        return 0;
    if ((size_t) (end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* A string without escapes, the cursor on its opening quote: its bytes (in the text) and their count. */
static int string(parser *ps, const char **out, size_t *len)
{
    const unsigned char *start = ++ps->p;
    while (ps->p < ps->end) {
        unsigned char c = *ps->p;
        if (c == '"') {
            *out = (const char *) start;
            *len = (size_t) (ps->p - start);
            ps->p++;
            return 0;
        }
        if (c < 0x20 || c == '\\')
            return -1;
        if (c < 0x80) {
            ps->p++;
            continue;
        }
        size_t n = utf8_sequence(ps->p, ps->end);
        if (!n)
            return -1;
        ps->p += n;
    }
    return -1;
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
