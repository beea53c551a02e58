/*
 * camel.c — key case conversion (see camel.h for why).
 *
 * Chanx converts with Python's pyhumps, so the common cases follow it:
 * "is_mine" <-> "isMine", "user_id_2" -> "userId2", "HTTPCode" -> "http_code",
 * leading underscores kept, all-caps and all-digit keys ("ID", "HTTP_CODE",
 * "42") left alone, the first letter lowered unless the key starts with two
 * capitals. pyhumps' regular expressions also have quirks this code does not
 * copy, because they break the round trip a client relies on ("a_b" stays
 * "a_b" there, "userID" becomes "userid", "v2Api" becomes "v_2api"); here a
 * word boundary is simply an underscore run inside the key (camelize) or a
 * capital after a lower-case letter or digit, or the last capital of an
 * acronym followed by a lower-case letter (snakeize).
 *
 * Only ASCII letters have a case here: other bytes (UTF-8) pass unchanged.
 * Keys are handled with their length, so a key holding "\u0000" survives.
 * Short keys are converted in a stack buffer; only long ones allocate.
 */
#include "workers/camel.h"

#include <stdlib.h>
#include <string.h>

typedef int (*convert_fn)(const char *key, size_t len, char *out, size_t outlen);

static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static char to_upper(char c) { return is_lower(c) ? (char) (c - 'a' + 'A') : c; }
static char to_lower(char c) { return is_upper(c) ? (char) (c - 'A' + 'a') : c; }

/* Python's str.isupper() or str.isnumeric(): constants and numbers are not words. */
static int left_alone(const char *key, size_t len)
{
    int upper = 0, lower = 0, digits = len > 0;
    for (size_t i = 0; i < len; i++) {
        upper |= is_upper(key[i]);
        lower |= is_lower(key[i]);
        digits &= is_digit(key[i]);
    }
    return (upper && !lower) || digits;
}

static int copy_key(const char *key, size_t len, char *out, size_t outlen)
{
    if (len + 1 > outlen)
        return -1;
    memcpy(out, key, len);
    out[len] = '\0';
    return (int) len;
}

#define PUT(ch)                     \
    do {                            \
        if (o + 1 >= outlen)        \
            return -1;              \
        out[o++] = (ch);            \
    } while (0)

static int camelize(const char *key, size_t len, char *out, size_t outlen)
{
    if (left_alone(key, len))
        return copy_key(key, len, out, outlen);
    size_t i = 0, o = 0;
    while (i < len && key[i] == '_')
        PUT(key[i++]);
    int keep_first = len >= 2 && is_upper(key[0]) && is_upper(key[1]);
    for (; i < len; i++) {
        if (key[i] != '_') {
            PUT(i == 0 && !keep_first ? to_lower(key[i]) : key[i]);
            continue;
        }
        size_t next = i;
        while (next < len && key[next] == '_')
            next++;
        if (next == len) {              /* trailing underscores are kept */
            while (i < len)
                PUT(key[i++]);
            break;
        }
        PUT(to_upper(key[next]));
        i = next;
    }
    if (outlen == 0)
        return -1;
    out[o] = '\0';
    return (int) o;
}

static int snakeize(const char *key, size_t len, char *out, size_t outlen)
{
    if (left_alone(key, len))
        return copy_key(key, len, out, outlen);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char prev = i ? key[i - 1] : '\0', next = i + 1 < len ? key[i + 1] : '\0';
        /* "isMine", "item2Name", and the end of an acronym: "HTTPCode" */
        if (is_upper(key[i]) && (is_lower(prev) || is_digit(prev) || (is_upper(prev) && is_lower(next))))
            PUT('_');
        PUT(to_lower(key[i]));
    }
    if (outlen == 0)
        return -1;
    out[o] = '\0';
    return (int) o;
}

int cx_camelize_key(const char *key, char *out, size_t outlen)
{
    return key && out ? camelize(key, strlen(key), out, outlen) : -1;
}

int cx_snakeize_key(const char *key, char *out, size_t outlen)
{
    return key && out ? snakeize(key, strlen(key), out, outlen) : -1;
}

static json_t *convert(const json_t *value, convert_fn fn, int depth);

static int convert_member(json_t *copy, const char *key, size_t len, const json_t *member, convert_fn fn, int depth)
{
    char small[128];
    size_t outlen = 2 * len + 1;        /* snakeize adds at most one '_' per byte */
    char *out = outlen <= sizeof small ? small : malloc(outlen);
    json_t *converted = convert(member, fn, depth + 1);
    int n = out ? fn(key, len, out, outlen) : -1;
    int rc = -1;
    if (n >= 0 && converted)
        rc = json_object_setn_new(copy, out, (size_t) n, converted);    /* steals converted, even on error */
    else
        json_decref(converted);
    if (out != small)
        free(out);
    return rc;
}

static json_t *convert(const json_t *value, convert_fn fn, int depth)
{
    if (!value || depth > CX_CAMEL_MAX_DEPTH)
        return NULL;
    json_t *copy;
    if (json_is_object(value)) {
        copy = json_object();
        const char *key;
        size_t len;
        json_t *member;
        json_object_keylen_foreach((json_t *) value, key, len, member) {
            if (!copy || convert_member(copy, key, len, member, fn, depth) != 0) {
                json_decref(copy);
                return NULL;
            }
        }
        return copy;
    }
    if (json_is_array(value)) {
        copy = json_array();
        for (size_t i = 0; copy && i < json_array_size(value); i++) {
            if (json_array_append_new(copy, convert(json_array_get(value, i), fn, depth + 1)) != 0) {
                json_decref(copy);
                return NULL;
            }
        }
        return copy;
    }
    return json_copy((json_t *) value);
}

json_t *cx_json_camelize(const json_t *value) { return convert(value, camelize, 0); }
json_t *cx_json_snakeize(const json_t *value) { return convert(value, snakeize, 0); }
