/*
 * cx_json_text writes what json_dumps(JSON_COMPACT | JSON_ENCODE_ANY)
 * writes (common/json_text.h): every message a worker sends and every
 * CONNECT's headers go through it, so a client must not be able to tell.
 * Each case is compared with jansson's own output, byte for byte: every
 * byte value in a string, UTF-8, NUL inside a string, integer and real
 * edges, insertion order, nesting, and randomly built trees.
 */
#include "common/json_text.h"

#include <criterion/criterion.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void assert_same(const json_t *v)
{
    size_t len = 0;
    char *ours = cx_json_text(v, &len);
    char *theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert_not_null(theirs);
    cr_assert_not_null(ours, "cx_json_text refused what jansson writes as %s", theirs);
    cr_assert_str_eq(ours, theirs);
    cr_assert_eq(len, strlen(theirs));
    free(ours);
    free(theirs);
}

static void assert_same_new(json_t *v)
{
    assert_same(v);
    json_decref(v);
}

Test(json_text, every_byte_of_a_string_is_escaped_as_jansson_does)
{
    for (int c = 1; c < 0x80; c++) {
        char s[4] = { 'a', (char) c, 'z', 0 };
        assert_same_new(json_string(s));
    }
    assert_same_new(json_stringn("a\0b", 3));   /* a NUL inside */
    assert_same_new(json_string(""));
    assert_same_new(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 </script>"));
    assert_same_new(json_pack("{s:s}", "k\"ey\n\x01", "v\\al"));
}

Test(json_text, numbers_and_literals)
{
    json_int_t ints[] = { 0, 1, -1, 42, INT64_MAX, INT64_MIN, 1000000000000LL };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        assert_same_new(json_integer(ints[i]));
    double reals[] = { 0.0, -0.0, 1.0, -1.5, 0.1, 1.0 / 3, 1e300, 1e-300, 123456789012345678.0, 1e16, 1e17,
                       1e21, 2.5e-5, DBL_MAX, DBL_MIN, 5e-324, 100.0, 3.14159 };
    for (size_t i = 0; i < sizeof reals / sizeof *reals; i++)
        assert_same_new(json_real(reals[i]));
    assert_same(json_true());
    assert_same(json_false());
    assert_same(json_null());
}

Test(json_text, members_keep_their_order_and_containers_nest)
{
    assert_same_new(json_object());
    assert_same_new(json_array());
    assert_same_new(json_pack("{s:s, s:n}", "action", "pong", "payload"));
    assert_same_new(json_pack("{s:i, s:s, s:{s:s}}", "status_code", 200, "status_text", "OK", "data", "detail", "OK"));
    json_t *o = json_object();
    for (int i = 20; i > 0; i--) {   /* not alphabetical: insertion order is kept */
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(o, key, json_pack("[i, {s:[]}, f]", i, "x", i / 4.0));
    }
    json_object_del(o, "k7");
    json_object_set_new(o, "k7", json_string("again, at the end"));
    assert_same_new(o);
}

/* A random tree of depth up to 6, from a fixed seed. */
static json_t *random_value(unsigned *seed, int depth)
{
    int kind = rand_r(seed) % (depth >= 6 ? 5 : 7);
    switch (kind) {
    case 0: return json_integer((json_int_t) rand_r(seed) - RAND_MAX / 2);
    case 1: return json_real(((double) rand_r(seed) - RAND_MAX / 2) / ((rand_r(seed) % 1000) + 1));
    case 2: {
        char s[16];
        int n = rand_r(seed) % 15;
        for (int i = 0; i < n; i++)
            s[i] = (char) (1 + rand_r(seed) % 126);
        s[n] = 0;
        return json_string(s);
    }
    case 3: return json_boolean(rand_r(seed) % 2);
    case 4: return json_null();
    case 5: {
        json_t *a = json_array();
        for (int i = rand_r(seed) % 5; i > 0; i--)
            json_array_append_new(a, random_value(seed, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (int i = rand_r(seed) % 5; i > 0; i--) {
            char key[24];
            snprintf(key, sizeof key, "m%d", rand_r(seed) % 1000);
            json_object_set_new(o, key, random_value(seed, depth + 1));
        }
        return o;
    }
    }
}

Test(json_text, random_trees_match_jansson)
{
    unsigned seed = 20261207;
    for (int i = 0; i < 2000; i++)
        assert_same_new(random_value(&seed, 0));
}

Test(json_text, a_container_inside_itself_is_refused_not_followed)
{
    json_t *a = json_array(), *b = json_object();
    json_array_append(a, b);
    json_object_set(b, "back", a);   /* a cycle, as a careless plugin could build */
    cr_assert_null(cx_json_text(a, NULL));
    cr_assert_null(json_dumps(a, JSON_COMPACT), "jansson refuses it too");
    json_object_clear(b);
    json_decref(b);
    json_decref(a);
    cr_assert_null(cx_json_text(NULL, NULL));
}

/* A consumer's reply {"action": ..., "payload": ...} is written without building the object
 * (cx_json_text_action): it must read exactly as the object jansson would write. */
static void assert_action_same(const char *action, json_t *payload)
{
    json_t *m = json_object();
    json_object_set_new(m, "action", json_string(action));
    json_object_set(m, "payload", payload ? payload : json_null());
    char *theirs = json_dumps(m, JSON_COMPACT);
    size_t len = 0;
    char *ours = cx_json_text_action(action, payload, &len);
    cr_assert_not_null(ours, "refused what jansson writes as %s", theirs);
    cr_assert_str_eq(ours, theirs);
    cr_assert_eq(len, strlen(theirs));
    free(ours);
    free(theirs);
    json_decref(m);
}

Test(json_text, an_action_message_reads_as_the_object_would)
{
    assert_action_same("pong", NULL);
    json_t *nested = json_pack("{s:s, s:[i, f, b, n], s:{}}", "message", "é \"quoted\" \\ \n\t", "list", 1, 0.5, 1,
                               "empty");
    assert_action_same("said", nested);
    json_decref(nested);
    json_t *text = json_string("just text");
    assert_action_same("tab\there \"and\" é", text);
    json_decref(text);
    unsigned seed = 7;
    for (int i = 0; i < 500; i++) {
        json_t *v = random_value(&seed, 0);
        assert_action_same("random", v);
        json_decref(v);
    }
    cr_assert_null(cx_json_text_action(NULL, NULL, NULL));
    json_t *a = json_array(), *b = json_object();
    json_array_append(a, b);
    json_object_set(b, "back", a);   /* a cycle: refused, as by cx_json_text */
    cr_assert_null(cx_json_text_action("loop", a, NULL));
    json_object_clear(b);
    json_decref(b);
    json_decref(a);
}
