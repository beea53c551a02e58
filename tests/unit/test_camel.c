/*
 * test_camel.c — key conversion between the wire (camelCase) and consumers (snake_case).
 *
 * What a client relies on: the keys it receives are the camelCase of the
 * consumer's fields, and sending those keys back reaches the same fields. The
 * expected values agree with Python's pyhumps where pyhumps is consistent.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "workers/camel.h"

static void camel_is(const char *key, const char *expected)
{
    char out[128];
    int n = cx_camelize_key(key, out, sizeof out);
    cr_assert_eq(n, (int) strlen(expected), "camelize(%s): length %d", key, n);
    cr_assert_str_eq(out, expected, "camelize(%s)", key);
}

static void snake_is(const char *key, const char *expected)
{
    char out[128];
    int n = cx_snakeize_key(key, out, sizeof out);
    cr_assert_eq(n, (int) strlen(expected), "snakeize(%s): length %d", key, n);
    cr_assert_str_eq(out, expected, "snakeize(%s)", key);
}

Test(camel, camelize_keys)
{
    camel_is("is_mine", "isMine");
    camel_is("user_id_2", "userId2");
    camel_is("_private_field", "_privateField");
    camel_is("__dunder", "__dunder");
    camel_is("trailing_", "trailing_");
    camel_is("a_b_c", "aBC");
    camel_is("double__under", "doubleUnder");
    camel_is("IsMine", "isMine");
    camel_is("ID_value", "IDValue");
    camel_is("HTTP_CODE", "HTTP_CODE");          /* constants are left alone */
    camel_is("42", "42");
    camel_is("already", "already");
    camel_is("alreadyCamel", "alreadyCamel");
    camel_is("", "");
    camel_is("_", "_");
    camel_is("caf\xc3\xa9_au_lait", "caf\xc3\xa9" "AuLait");  /* UTF-8 bytes pass through */
}

Test(camel, snakeize_keys)
{
    snake_is("isMine", "is_mine");
    snake_is("HTTPCode", "http_code");
    snake_is("getHTTPResponse", "get_http_response");
    snake_is("APIResponse", "api_response");
    snake_is("userId2", "user_id2");
    snake_is("_isMine", "_is_mine");
    snake_is("iPhone", "i_phone");
    snake_is("simpleXMLParser", "simple_xml_parser");
    snake_is("userID", "user_id");
    snake_is("page2Of3", "page2_of3");
    snake_is("already_snake", "already_snake");
    snake_is("ABC", "ABC");                       /* all caps: left alone, as pyhumps */
    snake_is("PascalCase", "pascal_case");
    snake_is("", "");
}

Test(camel, buffer_too_small_is_refused)
{
    char out[8];
    cr_assert_eq(cx_camelize_key("is_mine", out, 7), 6);        /* "isMine" + NUL fits exactly */
    cr_assert_eq(cx_camelize_key("is_mine", out, 6), -1);
    cr_assert_eq(cx_snakeize_key("isMine", out, 8), 7);
    cr_assert_eq(cx_snakeize_key("isMine", out, 7), -1);
    cr_assert_eq(cx_snakeize_key("ABCDEFGH", out, 8), -1);      /* left alone, still too long */
    cr_assert_eq(cx_camelize_key("", out, 0), -1);
    cr_assert_eq(cx_camelize_key(NULL, out, sizeof out), -1);
}

Test(camel, json_keys_renamed_recursively_values_untouched)
{
    json_t *inside = json_loads("{\"user_id\": 1, \"chat_room\": {\"is_mine\": true, \"display_name\": \"snake_value\"},"
                                " \"recent_items\": [{\"item_name\": \"a_b\"}, [{\"deep_key\": null}], 3]}", 0, NULL);
    json_t *wire = cx_json_camelize(inside);
    json_t *want = json_loads("{\"userId\": 1, \"chatRoom\": {\"isMine\": true, \"displayName\": \"snake_value\"},"
                              " \"recentItems\": [{\"itemName\": \"a_b\"}, [{\"deepKey\": null}], 3]}", 0, NULL);
    cr_assert(json_equal(wire, want), "%s", json_dumps(wire, JSON_COMPACT));
    cr_assert(json_object_get(inside, "user_id"), "the input must not be modified");
    json_t *back = cx_json_snakeize(wire);
    cr_assert(json_equal(back, inside), "%s", json_dumps(back, JSON_COMPACT));
    cr_assert_neq(back, inside);
    /* the copy is deep: changing it leaves the original alone */
    json_string_set(json_object_get(json_object_get(back, "chat_room"), "display_name"), "changed");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(inside, "chat_room"), "display_name")),
                     "snake_value");
    json_decref(inside);
    json_decref(wire);
    json_decref(want);
    json_decref(back);
}

Test(camel, scalars_and_null)
{
    cr_assert_null(cx_json_camelize(NULL));
    json_t *n = json_integer(5), *copy = cx_json_snakeize(n);
    cr_assert(json_equal(n, copy));
    json_decref(n);
    json_decref(copy);
}

Test(camel, long_and_nul_containing_keys)
{
    char key[600];
    for (int i = 0; i < 100; i++)
        memcpy(key + 6 * i, "abcde_", 6);
    memcpy(key + 600 - 6, "abcdef", 6);
    json_t *obj = json_object();
    json_object_setn_new(obj, key, sizeof key, json_true());
    json_object_setn_new(obj, "a\0_b", 4, json_false());
    json_t *camel = cx_json_camelize(obj);
    cr_assert_eq(json_object_size(camel), 2);
    const char *k;
    size_t len;
    json_t *v;
    int saw_long = 0, saw_nul = 0;
    json_object_keylen_foreach(camel, k, len, v) {
        saw_long |= len == 501 && strncmp(k, "abcdeAbcdeAbcde", 15) == 0 && json_is_true(v);
        saw_nul |= len == 3 && memcmp(k, "a\0B", 3) == 0 && json_is_false(v);
    }
    cr_assert(saw_long && saw_nul, "%s", json_dumps(camel, JSON_COMPACT));
    json_t *snake = cx_json_snakeize(camel);
    cr_assert(json_is_true(json_object_getn(snake, key, sizeof key)));
    json_decref(obj);
    json_decref(camel);
    json_decref(snake);
}

static json_t *nested(int depth)
{
    json_t *v = json_object();
    for (int i = 0; i < depth; i++) {
        json_t *outer = json_object();
        json_object_set_new(outer, "inner_value", v);
        v = outer;
    }
    return v;
}

Test(camel, nesting_limit)
{
    json_t *ok = nested(2000), *deep = nested(CX_CAMEL_MAX_DEPTH + 10);
    json_t *camel = cx_json_camelize(ok);
    cr_assert_not_null(camel);
    cr_assert_not_null(json_object_get(camel, "innerValue"));
    cr_assert_null(cx_json_camelize(deep));
    json_decref(camel);
    json_decref(ok);
    json_decref(deep);
}

/* Random snake_case names survive the round trip both ways when each word has at least two characters
 * (a digit may end it). Consecutive one-letter words cannot: "x_a_b" -> "xAB" reads back as an acronym. */
Test(camel, round_trips)
{
    static const char *words[] = { "user", "id", "is", "mine", "chat", "room", "item2", "v3", "http", "ok" };
    const size_t nwords = sizeof words / sizeof words[0];
    srand(7);
    for (int round = 0; round < 2000; round++) {
        char snake[128] = "", camel[128], back[128], again[128];
        int count = 1 + rand() % 4;
        if (rand() % 5 == 0)
            strcat(snake, "_");
        for (int w = 0; w < count; w++) {
            if (w)
                strcat(snake, "_");
            strcat(snake, words[(size_t) rand() % nwords]);
        }
        cr_assert_geq(cx_camelize_key(snake, camel, sizeof camel), 0);
        cr_assert_geq(cx_snakeize_key(camel, back, sizeof back), 0);
        cr_assert_str_eq(back, snake, "%s -> %s -> %s", snake, camel, back);
        cr_assert_geq(cx_camelize_key(back, again, sizeof again), 0);
        cr_assert_str_eq(again, camel);
    }
}
