/*
 * cx_json_parse reads what json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL)
 * reads (common/json_parse.h): every message a client sends goes through
 * it, so no client may be able to tell. Each text is given to both, and
 * they must agree on whether it is JSON, on the error message when it is
 * not, and on the value when it is: the compact dumps, which show types,
 * member order and the last of a repeated key, compared byte for byte.
 * The texts are handwritten edges, random documents (escapes, reals,
 * UTF-8, white space, repeated keys, deep nesting) and those documents
 * with bytes changed, cut or inserted.
 */
#include "common/json_parse.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_agree(const char *text, size_t len)
{
    json_error_t ours_error, their_error;
    json_t *ours = cx_json_parse(text, len, &ours_error);
    json_t *theirs = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &their_error);
    cr_assert_eq(ours != NULL, theirs != NULL, "%.*s: ours %s, jansson's %s", (int) len, text,
                 ours ? "parsed" : "refused", theirs ? "parsed" : their_error.text);
    if (!theirs) {
        cr_assert_str_eq(ours_error.text, their_error.text, "%.*s", (int) len, text);
        return;
    }
    char *a = json_dumps(ours, JSON_COMPACT | JSON_ENCODE_ANY), *b = json_dumps(theirs, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert_str_eq(a, b, "%.*s", (int) len, text);
    free(a);
    free(b);
    json_decref(ours);
    json_decref(theirs);
}

static void agree(const char *text)
{
    assert_agree(text, strlen(text));
}

Test(json_parse, what_clients_send_reads_as_jansson_reads_it)
{
    agree("{\"action\":\"ping\"}");
    agree(" {\"action\" : \"say\", \"payload\": {\"message\": \"héllo wörld ✓ 😀\", \"n\": -42, \"ok\": true,"
          " \"none\": null, \"list\": [1, 2, [], {}], \"f\": false}}\r\n\t");
    agree("{\"a\":1,\"b\":2,\"a\":3}");   /* a repeated key: first place, last value */
    agree("[]");
    agree("\"just a string\"");
    agree("0");
    agree("-0");
    agree("123456789012345678");
    agree("-123456789012345678");
    agree("[true,false,null]");
}

Test(json_parse, what_the_fast_path_leaves_to_jansson_still_reads_as_jansson_reads_it)
{
    agree("{\"message\":\"a \\\"quoted\\\" word\\n\\u00e9\\ud83d\\ude00\"}");
    agree("{\"k\\u0000ey\":\"nul \\u0000 inside\"}");
    agree("[1.5, -2e10, 3E-2, 0.0, 1e400]");
    agree("9223372036854775807");
    agree("-9223372036854775808");
    agree("9223372036854775808");
    agree("12345678901234567890123");
}

Test(json_parse, invalid_json_gets_janssons_own_error)
{
    static const char *const bad[] = {
        "", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "01", "-", "--1", "1.", ".5",
        "tru", "nul", "truex", "{\"a\":1}x", "\"unterminated", "\"tab\tinside\"", "\"unit\x1fseparator\"",
        "\"del \x7f is fine\"", "{a:1}", "[\"\\x\"]",
        "\"\\ud800\"", "1 2", "{\"a\":1 \"b\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        agree(bad[i]);
    static const char invalid_utf8[][8] = { "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
                                            "\"\x80\"", "\"\xff\"" };
    for (size_t i = 0; i < sizeof invalid_utf8 / sizeof invalid_utf8[0]; i++)
        agree(invalid_utf8[i]);
    assert_agree("{\"a\":\"x\0y\"}", 11);   /* a raw NUL byte */
    assert_agree("[1]\0", 4);
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_agree(deep, 200);   /* deeper than the fast path goes */
    assert_agree(deep, 199);
}

/* ------------------------------------------------------------- random texts */

static void put(char **p, const char *s)
{
    size_t n = strlen(s);
    memcpy(*p, s, n);
    *p += n;
}

static void space(char **p, unsigned *seed)
{
    static const char *const ws[] = { "", "", "", " ", "\n", "\t ", "\r\n" };
    put(p, ws[rand_r(seed) % 7]);
}

static void random_string(char **p, unsigned *seed)
{
    static const char *const parts[] = { "a", "Z", "action", " ", "é", "✓", "😀", "\\n", "\\\"", "\\u00e9", "\\u0000",
                                         "\\ud83d\\ude00", "\\/", "ping", "0" };
    put(p, "\"");
    for (int i = rand_r(seed) % 6; i > 0; i--)
        put(p, parts[rand_r(seed) % (sizeof parts / sizeof parts[0])]);
    put(p, "\"");
}

static void random_text(char **p, unsigned *seed, int depth)
{
    space(p, seed);
    int kind = depth > 5 ? rand_r(seed) % 5 : rand_r(seed) % 7;
    char num[48];
    switch (kind) {
    case 0: random_string(p, seed); break;
    case 1:
        snprintf(num, sizeof num, "%s%d", rand_r(seed) % 3 ? "" : "-", rand_r(seed) % (rand_r(seed) % 2 ? 10 : 1000000));
        put(p, num);
        break;
    case 2: {
        static const char *const reals[] = { "1.5", "-0.25", "1e3", "2E-2", "12345678901234567890", "0", "-0" };
        put(p, reals[rand_r(seed) % 7]);
        break;
    }
    case 3: put(p, rand_r(seed) % 2 ? "true" : "false"); break;
    case 4: put(p, "null"); break;
    case 5:
        put(p, "[");
        for (int i = rand_r(seed) % 4; i > 0; i--) {
            random_text(p, seed, depth + 1);
            if (i > 1)
                put(p, ",");
        }
        space(p, seed);
        put(p, "]");
        break;
    default:
        put(p, "{");
        for (int i = rand_r(seed) % 4; i > 0; i--) {
            space(p, seed);
            if (rand_r(seed) % 4)
                random_string(p, seed);
            else
                put(p, rand_r(seed) % 2 ? "\"a\"" : "\"action\"");   /* repeated keys */
            space(p, seed);
            put(p, ":");
            random_text(p, seed, depth + 1);
            if (i > 1)
                put(p, ",");
        }
        space(p, seed);
        put(p, "}");
        break;
    }
    space(p, seed);
}

Test(json_parse, random_documents_and_their_mutations_read_as_jansson_reads_them)
{
    static char text[1 << 16];
    unsigned seed = 20261207;
    for (int i = 0; i < 3000; i++) {
        char *p = text;
        random_text(&p, &seed, 0);
        size_t len = (size_t) (p - text);
        assert_agree(text, len);
        for (int m = 0; m < 4 && len > 0; m++) {   /* one byte changed, then the text cut */
            char copy[sizeof text];
            memcpy(copy, text, len);
            size_t at = (size_t) rand_r(&seed) % len;
            static const char swaps[] = "{}[]\",: \\01-.eE\x80\xc3\xff\x1f\t\0";
            copy[at] = swaps[rand_r(&seed) % (sizeof swaps - 1)];
            assert_agree(copy, len);
            assert_agree(copy, at);
        }
    }
}
