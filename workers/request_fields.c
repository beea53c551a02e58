/*
 * request_fields.c — the query string and the Cookie header as a consumer
 * reads them (request_fields.h). Both come straight from the client, through
 * the gateway: nothing here trusts a length, an escape or an encoding.
 */
#include "workers/request_fields.h"

#include <stdlib.h>
#include <string.h>

/* "a=1; b=2" → {"a": "1", "b": "2"} */
json_t *cx_cookies_parse(const char *header)
{
    json_t *cookies = json_object();
    char *copy = header ? strdup(header) : NULL;
    char *save = NULL;
    for (char *part = copy ? strtok_r(copy, ";", &save) : NULL; part; part = strtok_r(NULL, ";", &save)) {
        while (*part == ' ')
            part++;
        char *eq = strchr(part, '=');
        if (!eq)
            continue;
        *eq = '\0';
        json_object_set_new(cookies, part, json_string(eq + 1));
    }
    free(copy);
    return cookies;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Query strings are form-encoded: '+' is a space, %XX a byte. */
static char *form_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; out && i < len; i++) {
        if (s[i] == '+')
            out[n++] = ' ';
        else if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[n++] = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else
            out[n++] = s[i];
    }
    if (out)
        out[n] = '\0';
    return out;
}

json_t *cx_query_parse(const char *query, size_t query_len)
{
    json_t *params = json_object();
    if (!query || !query_len)
        return params;   /* no query: and NULL + 0 is undefined behaviour (the fuzzer's first find) */
    size_t start = 0;
    for (size_t i = 0; i <= query_len; i++) {
        if (i < query_len && query[i] != '&')
            continue;
        const char *part = query + start;
        size_t len = i - start, eq = 0;
        start = i + 1;
        while (eq < len && part[eq] != '=')
            eq++;
        char *name = form_decode(part, eq);
        char *value = form_decode(part + (eq < len ? eq + 1 : len), eq < len ? len - eq - 1 : 0);
        json_t *text = value ? json_string(value) : NULL;   /* NULL for invalid UTF-8: dropped */
        if (name && name[0] && text) {
            json_t *list = json_object_get(params, name);
            if (!list)
                json_object_set_new(params, name, list = json_array());
            json_array_append(list, text);
        }
        json_decref(text);
        free(name);
        free(value);
    }
    return params;
}
