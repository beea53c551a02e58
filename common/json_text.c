/*
 * json_text.c — compact JSON text of a jansson value, byte for byte what
 * json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) writes, at a fraction
 * of its cost.
 *
 * Why not json_dumps: every call pays a fixed price of several thousand
 * instructions before writing a byte. jansson guards against cycles with a
 * hash table of the containers being written, keyed by their addresses
 * formatted with snprintf, and grows its output from 16 bytes. On the
 * message path that price is paid per message: {"action":"pong",
 * "payload":null} cost a worker ~4,800 instructions to write, a quarter of
 * an echo round trip. Here one buffer grows by doubling, strings are
 * escaped by a table walk, and a cycle (possible only when a plugin puts a
 * container inside itself) is refused by depth instead: nothing a client
 * can send nests CX_JSON_TEXT_MAX_DEPTH deep (jansson parses 2048 levels),
 * and the cycle gets NULL as from jansson.
 *
 * The output follows jansson 2.14's dump.c exactly, which the unit tests
 * check against json_dumps itself: object members in insertion order, "\""
 * "\\" and control characters escaped (\b \f \n \r \t, else \u00XX with
 * upper-case hex), everything else (UTF-8 included, "/" too) as is;
 * integers in decimal; reals as "%.17g" with a ".0" added to an integral
 * one and the exponent without "+" or leading zeros.
 */
#include "common/json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 128;
        while (t->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->buf = grown, t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

static void put_string(text *t, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    put(t, "\"", 1);
    size_t run = 0;   /* bytes written as they are, put in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        put(t, s + i - run, run);
        run = 0;
        char esc[6] = { '\\', 0 };
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        put(t, esc, len);
    }
    put(t, s + n - run, run);
    put(t, "\"", 1);
}

/* jansson's jsonp_dtostr with its default precision (17). */
static void put_real(text *t, double value)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%.17g", value);
    if (n < 0 || (size_t) n >= sizeof buf - 3) {
        t->failed = 1;
        return;
    }
    size_t len = (size_t) n;
    if (strspn(buf, "0123456789-") == len) {   /* looks like an integer: make it a real */
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(buf, 'e');
    if (e) {   /* "1e+300" -> "1e300", "1e-05" -> "1e-5" */
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t) (end - buf) + 1);
            len -= (size_t) (end - start);
        }
    }
    put(t, buf, len);
}

static void put_value(text *t, const json_t *v, int depth)
{
    if (depth > CX_JSON_TEXT_MAX_DEPTH) {
        t->failed = 1;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put(t, "{", 1);
        const char *key;
        json_t *member;
        int first = 1;
        json_object_foreach((json_t *) v, key, member) {
            if (!first)
                put(t, ",", 1);
            first = 0;
            put_string(t, key, strlen(key));
            put(t, ":", 1);
            put_value(t, member, depth + 1);
        }
        put(t, "}", 1);
        break;
    }
    case JSON_ARRAY: {
        put(t, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put(t, ",", 1);
            put_value(t, json_array_get(v, i), depth + 1);
        }
        put(t, "]", 1);
        break;
    }
    case JSON_STRING:
        put_string(t, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(t, buf, (size_t) n);
        break;
    }
    case JSON_REAL:
        put_real(t, json_real_value(v));
        break;
    case JSON_TRUE:
        put(t, "true", 4);
        break;
    case JSON_FALSE:
        put(t, "false", 5);
        break;
    case JSON_NULL:
        put(t, "null", 4);
        break;
    }
}

/* The text written, NUL-terminated, its length in *len; NULL (and nothing kept) when a put failed. */
static char *finish(text *t, size_t *len)
{
    if (t->failed || !t->buf) {
        free(t->buf);
        return NULL;
    }
    t->buf[t->len] = '\0';
    if (len)
        *len = t->len;
    return t->buf;
}

char *cx_json_text(const json_t *value, size_t *len)
{
    if (!value)
        return NULL;
    text t = { 0 };
    put_value(&t, value, 0);
    return finish(&t, len);
}

char *cx_json_text_action(const char *action, const json_t *payload, size_t *len)
{
    if (!action)
        return NULL;
    text t = { 0 };
    put(&t, "{\"action\":", 10);
    put_string(&t, action, strlen(action));
    put(&t, ",\"payload\":", 11);
    if (payload)
        put_value(&t, payload, 1);
    else
        put(&t, "null", 4);
    put(&t, "}", 1);
    return finish(&t, len);
}
