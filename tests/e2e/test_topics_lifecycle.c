/*
 * When a topic's callbacks run (tests/plugins/topic_probe): on_unsubscribe on an explicit
 * unsubscribe (with its ref) and on a disconnect (no ref), while the other subscribers are still
 * there to be told; the accessors inside a topic callback; chanx_topic_publish refusing a topic its
 * consumer does not declare; a camelized consumer's topic frames converted both ways (Chanx's
 * test_camelized_consumer_round_trips_topic_frames); and a plugin whose topic is broken refused at
 * load, naming it.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cx_stack *stack;

static void setup(void)
{
    static char files[2][600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(files[0], sizeof files[0], "%s/test-plugins/topic_probe.so", bin);
    snprintf(files[1], sizeof files[1], "%s/test-plugins/dep_broken_topic.so", bin);
    const char *plugin_files[] = { files[0], files[1], NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = plugin_files });
}

static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(topics_lifecycle, .init = setup, .fini = teardown, .timeout = 60);

#define WAIT 5000

static cx_communicator *client(const char *name)
{
    int64_t id = cx_db_create_user(stack, name, 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/topic_probe/", cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    json_t *r = cx_topic_subscribe(c, "probe:1", NULL, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "subscribed");
    json_decref(r);
    return c;
}

Test(topics_lifecycle, on_unsubscribe_runs_on_unsubscribe_and_on_disconnect)
{
    cx_communicator *a = client("alice"), *b = client("bob");
    json_decref(cx_topic_unsubscribe(a, "probe:1", "u1", WAIT));
    json_t *m = cx_receive_topic(b, "probe:1", "left", WAIT);
    cx_assert_json_eq(json_object_get(m, "payload"), "{\"user\": \"alice\", \"ref\": \"u1\"}");
    json_decref(m);

    json_decref(cx_topic_subscribe(a, "probe:1", NULL, WAIT));
    cx_communicator_disconnect(a);
    m = cx_receive_topic(b, "probe:1", "left", WAIT);
    cx_assert_json_eq(json_object_get(m, "payload"), "{\"user\": \"alice\", \"ref\": null}");
    json_decref(m);
}

Test(topics_lifecycle, accessors_inside_a_topic_and_publishing_elsewhere_is_refused)
{
    cx_communicator *a = client("alice");
    cx_topic_send(a, "probe:1", "r5", "whoami", NULL);
    json_t *m = cx_receive_topic(a, "probe:1", "you", WAIT);
    cx_assert_json_eq(m, "{\"version\": 1, \"topic\": \"probe:1\", \"ref\": \"r5\", \"action\": \"you\","
                         " \"payload\": {\"topic\": \"probe:1\", \"id\": \"1\", \"ref\": \"r5\"}}");
    json_decref(m);
    cx_topic_send(a, "probe:1", NULL, "stray", NULL);
    m = cx_receive_topic(a, "probe:1", "you", WAIT);
    cx_assert_json_eq(json_object_get(m, "payload"), "{\"rc\": -1}");
    cr_assert_null(json_object_get(m, "ref"), "a frame without a ref gets replies without one");
    json_decref(m);
}

Test(topics_lifecycle, a_broken_topic_refuses_its_plugin_naming_it)
{
    char *log = cx_stack_log(stack, "worker0", "refused plugin dep_broken_topic: ", 10000);
    cr_assert_not_null(log, "the worker never refused dep_broken_topic");
    cr_assert(strstr(log, "consumer 'rooms': topic 'RoomTopic': topic pattern 'room:{name': unclosed '{'"), "%s", log);
    free(log);
}

/* The envelope's fields are single words, which camelization leaves alone; the payload's keys arrive
 * snake_case (the topic saw "reply_text") and leave camelCase. */
Test(topics_lifecycle, a_camelized_consumers_topic_frames_are_converted_both_ways)
{
    int64_t id = cx_db_create_user(stack, "camille", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/topic_probe/camel/", cx_db_token_header(stack, id));
    json_t *r = cx_receive_json(c, WAIT);   /* camelized too: "statusCode" */
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r, "payload"), "statusCode")), 200);
    json_decref(r);
    r = cx_topic_subscribe(c, "camel:1", "1", WAIT);
    cx_assert_json_eq(r, "{\"version\": 1, \"topic\": \"camel:1\", \"ref\": \"1\", \"action\": \"subscribed\","
                         " \"payload\": null}");
    json_decref(r);
    cx_send_text(c, "{\"version\": 1, \"topic\": \"camel:1\", \"ref\": \"2\", \"action\": \"post_reply\","
                    " \"payload\": {\"replyText\": \"hello\"}}");
    r = cx_receive_json(c, WAIT);
    cx_assert_json_eq(r, "{\"version\": 1, \"topic\": \"camel:1\", \"ref\": \"2\", \"action\": \"reply_posted\","
                         " \"payload\": {\"replyBody\": {\"replyText\": \"hello\"}, \"arrivedAs\": [\"reply_text\"]}}");
    json_decref(r);
}
