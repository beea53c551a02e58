/* Events from the application: the EVENT / CLOSE_TARGET / RESULT envelopes and the publish
 * commands' checks (common/publish.c), which chanx-api and chanx-admin share. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "common/publish.h"
#include "proto/envelope.h"

static cx_env round_trip(const cx_env *in, char **copy)
{
    cx_encoder *enc = cx_encoder_new();
    cx_decoder *dec = cx_decoder_new();
    const char *data;
    size_t len;
    cr_assert_eq(cx_encoder_encode(enc, in, &data, &len), 0);
    *copy = malloc(len);
    memcpy(*copy, data, len);
    cx_env out;
    cr_assert_eq(cx_decoder_decode(dec, *copy, len, &out), 0, "%s", cx_decoder_error(dec));
    cx_encoder_destroy(&enc);
    cx_decoder_destroy(&dec);
    return out;
}

Test(publish_envelope, event_close_target_and_result_round_trip)
{
    cx_env in = { .type = CX_ENV_EVENT, .request = 77, .target = CX_TARGET_GROUPS, .ngroups = 1,
                  .action = cx_slice_of("notify"), .text = cx_slice_of("{\"action\":\"notify\",\"payload\":1}") };
    in.groups[0] = cx_slice_of("room_lobby");
    char *copy;
    cx_env out = round_trip(&in, &copy);
    cr_assert_eq(out.request, 77);
    cr_assert_eq(out.target, CX_TARGET_GROUPS);
    cr_assert(cx_slice_eq(out.groups[0], "room_lobby"));
    cr_assert(cx_slice_eq(out.action, "notify"));
    cr_assert_eq(out.flags & CX_EVENT_TOPIC_SEQ, 0);
    free(copy);
    in.flags = CX_EVENT_TOPIC_SEQ;   /* a topic broadcast's own seq: 0 and negative ones are seqs too */
    for (int64_t seq = -3; seq <= 1; seq += 3) {
        in.topic_seq = seq;
        out = round_trip(&in, &copy);
        cr_assert(out.flags & CX_EVENT_TOPIC_SEQ);
        cr_assert_eq(out.topic_seq, seq);
        free(copy);
    }
    /* from a publisher built before the seq was a field: [1, EVENT, 5, 3, [], 0, 9, "a", "{}"] and with
     * the broker's seq and epoch: no publisher's seq */
    static const unsigned char old[] = { 0x99, 0x01, 0x0e, 0x05, 0x03, 0x90, 0x00, 0x09, 0xa1, 'a', 0xa2, '{', '}' };
    static const unsigned char stamped[] = { 0x9b, 0x01, 0x0e, 0x05, 0x03, 0x90, 0x00, 0x09, 0xa1, 'a', 0xa2, '{', '}',
                                             0x02, 0xa1, 'e' };
    cx_decoder *dec = cx_decoder_new();
    cr_assert_eq(cx_decoder_decode(dec, old, sizeof old, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert(out.conn == 9 && out.flags == 0 && out.topic_seq == 0);
    cr_assert_eq(cx_decoder_decode(dec, stamped, sizeof stamped, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert(out.seq == 2 && cx_slice_eq(out.epoch, "e") && out.flags == 0);
    cx_decoder_destroy(&dec);
    cx_env close = { .type = CX_ENV_CLOSE_TARGET, .request = 1, .target = CX_TARGET_USER, .user_id = 7, .code = 4001 };
    out = round_trip(&close, &copy);
    cr_assert_eq(out.user_id, 7);
    cr_assert_eq(out.code, 4001);
    free(copy);
    cx_env result = { .type = CX_ENV_RESULT, .request = 9, .gateways = 2, .connections = 1000 };
    out = round_trip(&result, &copy);
    cr_assert_eq(out.gateways, 2);
    cr_assert_eq(out.connections, 1000);
    free(copy);
}

Test(publish_envelope, a_target_out_of_range_is_refused)
{
    cx_encoder *enc = cx_encoder_new();
    cx_decoder *dec = cx_decoder_new();
    for (uint8_t target = 0; target <= 4; target += 4) {   /* 0 and 4: neither is a target */
        cx_env in = { .type = CX_ENV_CLOSE_TARGET, .target = target };
        const char *data;
        size_t len;
        cr_assert_eq(cx_encoder_encode(enc, &in, &data, &len), 0);
        cx_env out;
        cr_assert_eq(cx_decoder_decode(dec, data, len, &out), -1, "target %u accepted", target);
    }
    cx_encoder_destroy(&enc);
    cx_decoder_destroy(&dec);
}

static int parse(const char *method, const char *params, cx_publish_cmd *cmd, cx_publish_error *err)
{
    json_t *p = json_loads(params, 0, NULL);
    cr_assert_not_null(p, "bad test JSON %s", params);
    int rc = cx_publish_cmd_parse(cmd, method, p, err);
    json_decref(p);
    return rc;
}

static void refused(const char *method, const char *params, const char *code)
{
    cx_publish_cmd cmd;
    cx_publish_error err;
    cr_assert_eq(parse(method, params, &cmd, &err), -1, "%s %s was accepted", method, params);
    cr_assert_str_eq(err.code, code, "%s %s: %s", method, params, err.message);
}

Test(publish_commands, valid_commands_become_envelopes)
{
    cx_publish_cmd cmd;
    cx_publish_error err;
    cr_assert_eq(parse("broadcast", "{\"groups\": [\"a\", \"b.c-d_e\"], \"event\": {\"action\": \"x\", \"payload\": [1]}}",
                       &cmd, &err), 0, "%s", err.message);
    cr_assert_eq(cmd.env.type, CX_ENV_EVENT);
    cr_assert_eq(cmd.env.ngroups, 2);
    cr_assert(cx_slice_eq(cmd.env.text, "{\"action\":\"x\",\"payload\":[1]}"));
    cx_publish_cmd_free(&cmd);
    cr_assert_eq(parse("send", "{\"connection\": \"18446744073709551615\", \"event\": {\"action\": \"x\"}}", &cmd, &err), 0);
    cr_assert_eq(cmd.env.conn, UINT64_MAX);
    cr_assert(cx_slice_eq(cmd.env.text, "{\"action\":\"x\",\"payload\":null}"));
    cx_publish_cmd_free(&cmd);
    cr_assert_eq(parse("disconnect", "{\"user_id\": 7}", &cmd, &err), 0);
    cr_assert_eq(cmd.env.type, CX_ENV_CLOSE_TARGET);
    cr_assert_eq(cmd.env.code, 1000);
    cx_publish_cmd_free(&cmd);
}

Test(publish_commands, bad_commands_are_refused_with_a_code)
{
    refused("broadcast", "{\"groups\": [], \"event\": {\"action\": \"x\"}}", "invalid_field");
    refused("broadcast", "{\"groups\": [\"\"], \"event\": {\"action\": \"x\"}}", "invalid_group");
    refused("broadcast", "{\"groups\": [\"caf\\u00e9\"], \"event\": {\"action\": \"x\"}}", "invalid_group");
    refused("broadcast", "{\"groups\": [1], \"event\": {\"action\": \"x\"}}", "invalid_group");
    refused("broadcast", "{\"event\": {\"action\": \"x\"}}", "missing_target");
    refused("broadcast", "{\"groups\": [\"a\"], \"event\": {\"payload\": 1}}", "missing_field");
    refused("broadcast", "{\"groups\": [\"a\"], \"event\": {\"action\": \"\"}}", "invalid_field");
    refused("broadcast", "{\"groups\": [\"a\"], \"event\": \"x\"}", "invalid_field");
    refused("send", "{\"user_id\": 0, \"event\": {\"action\": \"x\"}}", "invalid_field");
    refused("send", "{\"user_id\": 1, \"connection\": \"2\", \"event\": {\"action\": \"x\"}}", "invalid_field");
    refused("send", "{\"connection\": \"12x\", \"event\": {\"action\": \"x\"}}", "invalid_field");
    refused("send", "{\"connection\": \"-1\", \"event\": {\"action\": \"x\"}}", "invalid_field");
    refused("send", "{\"connection\": \"99999999999999999999\", \"event\": {\"action\": \"x\"}}", "invalid_field");
    refused("disconnect", "{\"user_id\": 1, \"code\": 2000}", "invalid_field");
    refused("disconnect", "{\"user_id\": 1, \"code\": \"4001\"}", "invalid_field");
    refused("disconnect", "{\"user_id\": 1, \"event\": {}}", "unknown_field");
    refused("publish", "{}", "unknown_method");
    char name[200];
    memset(name, 'a', 100);
    name[100] = '\0';
    cr_assert(!cx_publish_group_name_ok(name), "100 characters is Channels' limit");
    name[99] = '\0';
    cr_assert(cx_publish_group_name_ok(name));
}

#include "broker/users.h"
#include "broker/groups.h"

Test(broker_users, a_users_connections_come_and_go_and_anonymous_is_never_indexed)
{
    cx_users *users = cx_users_new();
    int a = 1, b = 2, c = 3;
    cr_assert_eq(cx_users_add(users, 7, 100, &a), 0);
    cr_assert_eq(cx_users_add(users, 7, 101, &b), 0);
    cr_assert_eq(cx_users_add(users, 0, 102, &c), 0);   /* anonymous: accepted, not indexed */
    cr_assert_eq(cx_users_count(users, 7), 2);
    cr_assert_eq(cx_users_count(users, 0), 0);
    void *out[4];
    cr_assert_eq(cx_users_connections(users, 7, out, 4), 2);
    cx_users_remove(users, 7, 100, &b);   /* another connection than the one under that id: kept */
    cr_assert_eq(cx_users_count(users, 7), 2);
    cx_users_remove(users, 7, 100, &a);
    cr_assert_eq(cx_users_connections(users, 7, out, 4), 1);
    cr_assert_eq(out[0], &b);
    cx_users_remove(users, 7, 101, &b);
    cr_assert_eq(cx_users_count(users, 7), 0);
    cx_users_remove(users, 8, 1, &c);   /* unknown: a no-op */
    cx_users_destroy(&users);
    cr_assert_null(users);
}

Test(broker_groups, reach_counts_a_connection_in_two_groups_once)
{
    cx_groups *g = cx_groups_new();
    int gw;
    cx_group *rec;
    cx_groups_add(g, "a", 1, &gw, &rec);
    cx_groups_add(g, "a", 2, &gw, &rec);
    cx_groups_add(g, "b", 2, &gw, &rec);
    cx_groups_add(g, "b", 3, &gw, &rec);
    const char *both[] = { "a", "b" }, *one[] = { "b" }, *none[] = { "zzz" };
    cr_assert_eq(cx_groups_reach(g, both, 2), 3);
    cr_assert_eq(cx_groups_reach(g, one, 1), 2);
    cr_assert_eq(cx_groups_reach(g, none, 1), 0);
    cx_groups_destroy(&g);
}

/* Publishing to a topic: the event is stamped with Chanx's envelope; with groups the groups are
 * the target, alone the topic's groups are left to the publisher; bad topics and a seq without a
 * topic are refused whole. */
Test(publish_commands, topics_are_stamped_and_checked)
{
    cx_publish_cmd cmd;
    cx_publish_error err;
    json_t *p = json_loads("{\"topic\": \"room:lobby\", \"seq\": 4, \"event\": {\"action\": \"announce\", \"payload\": 1}}",
                           0, NULL);
    cr_assert_eq(cx_publish_cmd_parse(&cmd, "broadcast", p, &err), 0, "%s", err.message);
    cr_assert_str_eq(cmd.topic, "room:lobby");
    cr_assert_eq(cmd.env.ngroups, 0, "the publisher resolves the topic's groups");
    json_t *text = json_loadb(cmd.env.text.ptr, cmd.env.text.len, 0, NULL);
    json_t *want = json_loads("{\"action\": \"announce\", \"payload\": 1, \"version\": 1, \"topic\": \"room:lobby\"}", 0,
                              NULL);
    cr_assert(json_equal(text, want), "the seq travels in the envelope, not in the text");
    cr_assert(cmd.env.flags & CX_EVENT_TOPIC_SEQ);
    cr_assert_eq(cmd.env.topic_seq, 4);
    json_decref(text);
    json_decref(want);
    cx_publish_cmd_free(&cmd);
    json_decref(p);

    p = json_loads("{\"groups\": [\"RoomTopic.room-lobby\"], \"topic\": \"room:lobby\", \"event\": {\"action\": \"a\"}}",
                   0, NULL);
    cr_assert_eq(cx_publish_cmd_parse(&cmd, "broadcast", p, &err), 0, "%s", err.message);
    cr_assert_null(cmd.topic, "groups given: the topic is only stamped");
    cr_assert_eq(cmd.env.ngroups, 1);
    cr_assert(memmem(cmd.env.text.ptr, cmd.env.text.len, "\"topic\":\"room:lobby\"", 20));
    cr_assert_eq(cmd.env.flags & CX_EVENT_TOPIC_SEQ, 0, "no seq given: none travels");
    cx_publish_cmd_free(&cmd);
    json_decref(p);

    const char *bad[] = { "{\"topic\": 1, \"event\": {\"action\": \"a\"}}", "{\"topic\": \"\", \"event\": {\"action\": \"a\"}}",
                          "{\"groups\": [\"g\"], \"seq\": 1, \"event\": {\"action\": \"a\"}}" };
    for (int i = 0; i < 3; i++) {
        p = json_loads(bad[i], 0, NULL);
        cr_assert_eq(cx_publish_cmd_parse(&cmd, "broadcast", p, &err), -1, "%s", bad[i]);
        cr_assert_str_eq(err.code, "invalid_field");
        json_decref(p);
    }
}

/* A join hands back the group's record, the same for every member, and a leave by that record keeps
 * the counts the group send reads: a group with no member left is gone, and joins again afresh. */
Test(broker_groups, a_leave_by_the_record_a_join_returned_keeps_the_counts)
{
    cx_groups *g = cx_groups_new();
    int gw1, gw2;
    cx_group *a1, *a2, *again;
    cr_assert_eq(cx_groups_add(g, "room", 1, &gw1, &a1), 1);
    cr_assert_eq(cx_groups_add(g, "room", 2, &gw2, &a2), 1);
    cr_assert_eq(a1, a2, "one record per group");
    cr_assert_str_eq(cx_group_name(a1), "room");
    cr_assert_eq(cx_groups_add(g, "room", 1, &gw1, &again), 0, "already a member");
    cr_assert_eq(again, a1);
    cx_groups_leave(g, a1, 1, &gw1, NULL);
    cr_assert_eq(cx_groups_members(g, "room"), 1);
    cr_assert_eq(cx_groups_memberships(g), 1);
    cx_groups_leave(g, a2, 1, &gw1, NULL);   /* not a member any more: nothing */
    cr_assert_eq(cx_groups_members(g, "room"), 1);
    cx_groups_leave(g, a2, 2, &gw2, NULL);
    cr_assert_eq(cx_groups_count(g), 0, "an empty group is freed");
    cr_assert_eq(cx_groups_memberships(g), 0);
    cr_assert_eq(cx_groups_add(g, "room", 3, &gw1, &again), 1);
    cr_assert_eq(cx_groups_members(g, "room"), 1);
    cx_groups_destroy(&g);
}

typedef struct {
    void *peers[16];
    size_t n;
} peer_list;

static void note_peer(void *peer, void *arg)
{
    peer_list *l = arg;
    if (l->n < 16)
        l->peers[l->n++] = peer;
}

static size_t peers_of(cx_groups *g, const char *name, int workers, void **out)
{
    peer_list l = { .n = 0 };
    const char *names[] = { name };
    (workers ? cx_groups_workers : cx_groups_gateways)(g, names, 1, note_peer, &l);
    for (size_t i = 0; i < l.n; i++)
        out[i] = l.peers[i];
    return l.n;
}

/* One record counts a group's members per gateway (group sends) and per worker (events' receive_event):
 * a peer is named while it holds a member and only then, whatever the order of joins and leaves, and
 * the member set grows past the record and past 1,000 members without losing one. */
Test(broker_groups, the_counts_per_gateway_and_per_worker_follow_the_members)
{
    cx_groups *g = cx_groups_new();
    int gw1, gw2, w1, w2;
    void *out[16];
    cx_group *rec[1001];
    for (uint64_t id = 1; id <= 1000; id++) {
        cr_assert_eq(cx_groups_add(g, "big", id, id % 2 ? (void *) &gw1 : (void *) &gw2, &rec[id]), 1);
        cr_assert_eq(cx_groups_count_worker(rec[id], id % 3 ? (void *) &w1 : (void *) &w2), 0);
    }
    cr_assert_eq(cx_groups_members(g, "big"), 1000);
    cr_assert_eq(peers_of(g, "big", 0, out), 2);
    cr_assert_eq(peers_of(g, "big", 1, out), 2);
    for (uint64_t id = 1; id <= 1000; id++)   /* every member but 7 leaves; each still a member until then */
        if (id != 7) {
            cr_assert_eq(cx_groups_add(g, "big", id, &gw1, &rec[0]), 0, "member %llu kept", (unsigned long long) id);
            cx_groups_leave(g, rec[id], id, id % 2 ? (void *) &gw1 : (void *) &gw2, id % 3 ? (void *) &w1 : (void *) &w2);
        }
    cr_assert_eq(cx_groups_members(g, "big"), 1);
    cr_assert_eq(peers_of(g, "big", 0, out), 1);
    cr_assert_eq(out[0], &gw1);
    cr_assert_eq(peers_of(g, "big", 1, out), 1);
    cr_assert_eq(out[0], &w1);
    cx_groups_uncount_worker(rec[7], &w1);   /* its worker went (a re-pin): no worker holds members */
    cr_assert_eq(peers_of(g, "big", 1, out), 0);
    cr_assert_eq(peers_of(g, "big", 0, out), 1, "still a member at its gateway");
    cx_groups_leave(g, rec[7], 7, &gw1, NULL);
    cr_assert_eq(cx_groups_count(g), 0);
    cr_assert_eq(cx_groups_memberships(g), 0);
    cr_assert_eq(peers_of(g, "big", 0, out), 0);
    cx_groups_destroy(&g);
}

/* Many groups (the name table grows), found by name and by nothing else: a name that only shares a
 * prefix, or hashes to the same bucket, is another group. */
Test(broker_groups, many_groups_are_each_found_by_their_own_name)
{
    cx_groups *g = cx_groups_new();
    int gw;
    char name[32];
    cx_group *rec;
    for (uint64_t i = 1; i <= 5000; i++) {
        snprintf(name, sizeof name, "room-%llu", (unsigned long long) i);
        cr_assert_eq(cx_groups_add(g, name, i, &gw, &rec), 1);
        cr_assert_str_eq(cx_group_name(rec), name);
    }
    cr_assert_eq(cx_groups_count(g), 5000);
    cr_assert_eq(cx_groups_members(g, "room-1"), 1);
    cr_assert_eq(cx_groups_members(g, "room-"), 0);
    cr_assert_eq(cx_groups_members(g, "room-50000"), 0);
    cr_assert_eq(cx_groups_add(g, "room-4999", 1, &gw, &rec), 1, "another group than room-1");
    cr_assert_eq(cx_groups_members(g, "room-4999"), 2);
    cx_groups_destroy(&g);
}
