/*
 * held.c — what a history costs the broker in memory (issue 25's figure:
 * "the broker's memory per 1,000 topics of 100 messages of 200 bytes").
 *
 * One connection (pinned to the first worker) joins G groups "hist-<k>"
 * that each keep a history of M messages, then the worker sends M group
 * messages of B bytes to each group, round-robin, closed-loop: every group
 * send is seen at the gateway before the window lets more go, so when the
 * phase ends the broker holds exactly G × M messages. The broker's resident
 * memory before the joins and after the last send, divided by what it
 * holds, is the cost per held message with the per-group rings included;
 * its CPU per group send is the cost of holding one (copy, ring, re-encode).
 * Groups of one member: the fan-out is not what is measured here.
 */
#include "bench/broker/load.h"

#include <stdio.h>
#include <string.h>

#define STALL_NS 10000000000ull

typedef struct {
    bl_load *b;
    uint64_t sent;
} held_cursor;

static void group_name(uint64_t k, char *out, size_t size)
{
    snprintf(out, size, "hist-%llu", (unsigned long long) k);
}

static int join_one(bl_load *b, uint64_t conn, uint64_t k)
{
    char group[48];
    group_name(k, group, sizeof group);
    cx_env env = { .type = CX_ENV_GROUP_ADD, .conn = conn, .group = cx_slice_of(group),
                   .history_size = b->held_messages, .history_ttl_ms = CX_HISTORY_DEFAULT };
    return cx_link_send(b->workers[0].link, &env);
}

/* A chat message of exactly bytes bytes (at least 40): {"type":"chat_message","message":"xxx..."}. */
static size_t message(char *out, size_t bytes)
{
    static const char HEAD[] = "{\"type\":\"chat_message\",\"message\":\"", TAIL[] = "\"}";
    size_t fill = bytes - (sizeof HEAD - 1) - (sizeof TAIL - 1);
    memcpy(out, HEAD, sizeof HEAD - 1);
    memset(out + sizeof HEAD - 1, 'x', fill);
    memcpy(out + sizeof HEAD - 1 + fill, TAIL, sizeof TAIL);
    return bytes;
}

static int send_one(bl_load *b, uint64_t conn, uint64_t i, const char *text, size_t len)
{
    char group[48];
    group_name(i % b->held_groups, group, sizeof group);
    cx_env env = { .type = CX_ENV_GROUP_SEND, .ngroups = 1, .conn = conn, .user_id = 1,
                   .text = cx_slice_n(text, len) };
    env.groups[0] = cx_slice_of(group);
    return cx_link_send(b->workers[0].link, &env);
}

/* Sends n items with send(i) while fewer than the window are unanswered by *seen; -1 on a stall. */
static int closed(bl_load *b, uint64_t n, const uint64_t *seen, uint64_t seen0, const char *what,
                  int (*send)(bl_load *, uint64_t, uint64_t, const char *, size_t), uint64_t conn, const char *text,
                  size_t len)
{
    uint64_t sent = 0, last = *seen, progress = bl_now_ns();
    while (*seen - seen0 < n) {
        while (sent < n && sent - (*seen - seen0) < (uint64_t) b->window)
            if (send(b, conn, sent++, text, len) != 0)
                return -1;
        bl_pump(b, 5);
        if (*seen != last) {
            last = *seen;
            progress = bl_now_ns();
        } else if (bl_now_ns() - progress > STALL_NS || b->lost) {
            fprintf(stderr, "chanx-bench-broker: %s: %llu of %llu answered, then nothing\n", what,
                    (unsigned long long) (*seen - seen0), (unsigned long long) n);
            return -1;
        }
    }
    return 0;
}

static int join_send(bl_load *b, uint64_t conn, uint64_t k, const char *text, size_t len)
{
    (void) text, (void) len;
    return join_one(b, conn, k);
}

int bl_held(bl_load *b, uint64_t *sends)
{
    uint64_t conn = b->workers[0].sample_conn;
    if (!conn || b->held_bytes < 40 || b->held_bytes > 4096)
        return -1;
    char text[4097];
    size_t len = message(text, b->held_bytes);
    if (closed(b, b->held_groups, &b->joins_seen, b->joins_seen, "history joins", join_send, conn, NULL, 0) != 0)
        return -1;
    *sends = b->held_groups * (uint64_t) b->held_messages;
    return closed(b, *sends, &b->held_seen, b->held_seen, "history sends", send_one, conn, text, len);
}
