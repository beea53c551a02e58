/*
 * fuzz_request_fields — the request fields a client writes freely: the
 * query string and cookies as consumers read them (workers/request_fields.h)
 * and the credentials the gateway takes from Authorization and Cookie
 * (gateway/credentials.h). Input: query NUL cookie-header NUL
 * authorization-header NUL cookie-name.
 */
#include "gateway/credentials.h"
#include "tests/fuzz/fuzz.h"
#include "workers/request_fields.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parts p;
    fuzz_split(data, size, 4, &p);
    json_t *query = cx_query_parse(p.part[0], p.len[0]);
    if (!json_is_object(query))
        abort();
    json_decref(query);
    query = cx_query_parse(NULL, 0);
    json_decref(query);
    json_t *cookies = cx_cookies_parse(p.part[1]);
    if (!json_is_object(cookies))
        abort();
    json_decref(cookies);
    char buf[128];
    int malformed = 0;
    const char *cred = cx_header_credential(p.part[2], "Token", buf, sizeof buf, &malformed);
    if (cred && (malformed || strlen(cred) >= sizeof buf))
        abort();
    malformed = 0;
    cx_header_credential(p.part[2], "Bearer", buf, sizeof buf, &malformed);
    const char *value = cx_cookie_value(p.part[1], p.part[3][0] ? p.part[3] : "sessionid", buf, sizeof buf);
    if (value && strlen(value) >= sizeof buf)
        abort();
    fuzz_free(&p, 4);
    return 0;
}
