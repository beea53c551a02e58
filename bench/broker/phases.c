/*
 * phases.c — what the fake deployment asks of the broker, one phase at a
 * time (see load.h).
 *
 * Every phase is the same closed loop: send while fewer than `window`
 * items are unanswered, pump what comes back, stop when the last answer is
 * in (counted phases: connect, join, disconnect) or the duration is over
 * and the window has drained (timed phases: route, fan-out). A broker that
 * stops answering for STALL_NS fails the phase instead of hanging the run.
 *
 * The envelopes are the sizes a chat deployment sends: a CONNECT with the
 * headers a browser brings, a chat message of about 100 bytes.
 */
#include "bench/broker/load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STALL_NS 10000000000ull

/* A browser's CONNECT: what chanx-gateway sends for /ws/chat/<room>/ with a token. */
#define HEADERS "{\"host\":\"chat.example.com\",\"origin\":\"https://chat.example.com\",\"user-agent\":" \
                "\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 " \
                "Safari/537.36\",\"accept-language\":\"en-US,en;q=0.9\",\"cache-control\":\"no-cache\"}"
#define MESSAGE "hello everyone, this is a chat message of an ordinary length"

typedef struct {
    bl_load *b;
    uint64_t next, end;       /* counted phases: items [next, end) */
    int layer;                /* join: the room layer being sent */
    uint64_t from;            /* join: first connection of this step */
    uint64_t rng;
    int rr;                   /* round-robin peer */
} cursor;

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The k-th of n connections from `from`, in a scattered order: users join and leave at random, not in
 * the order they came (the broker's tables and the heap are visited as they would be). A bijection of
 * [0, n): the multiplier is a prime larger than any n here. */
static uint64_t scattered(uint64_t k, uint64_t from, uint64_t n)
{
    return from + (k * 2654435761ull) % n;
}

/* The loop: more() sends one item (0 when there is none left); sent/seen count items and answers. */
static int closed_loop(bl_load *b, cursor *c, int (*more)(cursor *), const uint64_t *sent, const uint64_t *seen,
                       uint64_t window, double duration, const char *what, double *seconds)
{
    uint64_t t0 = bl_now_ns(), stop = duration > 0 ? t0 + (uint64_t) (duration * 1e9) : UINT64_MAX;
    uint64_t last_seen = *seen, last_progress = t0;
    int sending = 1;
    for (;;) {
        uint64_t now = bl_now_ns();
        if (now >= stop)
            sending = 0;
        while (sending && *sent - *seen < window)
            if (!more(c))
                sending = 0;
        if (!sending && *seen >= *sent)
            break;
        bl_pump(b, 5);
        if (*seen != last_seen) {
            last_seen = *seen;
            last_progress = bl_now_ns();
        } else if (bl_now_ns() - last_progress > STALL_NS || b->lost) {
            fprintf(stderr, "chanx-bench-broker: %s: %llu of %llu answered, then nothing for %llu s%s\n", what,
                    (unsigned long long) *seen, (unsigned long long) *sent, STALL_NS / 1000000000ull,
                    b->lost ? " (the broker restarted or went silent)" : "");
            return -1;
        }
    }
    *seconds = (double) (bl_now_ns() - t0) / 1e9;
    return 0;
}

/* ------------------------------------------------------------- connect */

static int connect_one(cursor *c)
{
    bl_load *b = c->b;
    if (c->next >= c->end)
        return 0;
    uint64_t i = c->next++;
    char path[64], kwargs[64], client[32], user[32];
    uint64_t room = i / (uint64_t) b->room_size;
    snprintf(path, sizeof path, "/ws/benchload/room%llu/", (unsigned long long) room);
    snprintf(kwargs, sizeof kwargs, "{\"room_name\":\"room%llu\"}", (unsigned long long) room);
    snprintf(client, sizeof client, "10.%u.%u.%u:%u", (unsigned) (i >> 16) & 255, (unsigned) (i >> 8) & 255,
             (unsigned) i & 255, 40000 + (unsigned) (i % 20000));
    snprintf(user, sizeof user, "user%llu", (unsigned long long) (i / 2 + 1));
    /* two connections per user (two tabs): the broker's user index holds both */
    cx_env env = { .type = CX_ENV_CONNECT, .conn = bl_conn_id(b, i), .consumer = cx_slice_of(BL_TARGET),
                   .path = cx_slice_of(path), .query = cx_slice_of(""), .client = cx_slice_of(client),
                   .kwargs = cx_slice_of(kwargs), .headers = cx_slice_of(HEADERS),
                   .user_id = (int64_t) (i / 2 + 1), .flags = CX_USER_AUTHENTICATED | CX_USER_AUTH_TOKEN,
                   .username = cx_slice_of(user), .obj = cx_slice_of("") };
    cx_link_send(b->gateways[i % (uint64_t) b->ngateways].link, &env);
    b->connects_sent++;
    b->announced = c->next;
    return 1;
}

int bl_connect(bl_load *b, uint64_t upto, double *seconds)
{
    cursor c = { .b = b, .next = b->announced, .end = upto };
    return closed_loop(b, &c, connect_one, &b->connects_sent, &b->connects_seen, (uint64_t) b->window, 0,
                       "connect", seconds);
}

/* ---------------------------------------------------------------- join */

void bl_room_name(const bl_load *b, uint64_t i, int layer, char *out, size_t size)
{
    /* each layer's rooms are shifted, so a connection's rooms hold different neighbours */
    uint64_t shift = (uint64_t) layer * (uint64_t) b->room_size / (uint64_t) (b->groups_per_conn + 1);
    snprintf(out, size, "room-%d-%llu", layer, (unsigned long long) ((i + shift) / (uint64_t) b->room_size));
}

static int add_member(bl_load *b, uint64_t i, const char *group)
{
    uint8_t w = b->conn_worker[i];
    if (w == BL_NO_WORKER)
        return -1;
    cx_env env = { .type = CX_ENV_GROUP_ADD, .conn = bl_conn_id(b, i), .group = cx_slice_of(group),
                   .history_size = b->history, .history_ttl_ms = b->history ? CX_HISTORY_DEFAULT : 0 };
    cx_link_send(b->workers[w].link, &env);
    b->joins_sent++;
    return 0;
}

static int join_one(cursor *c)
{
    bl_load *b = c->b;
    if (c->next >= c->end) {
        if (++c->layer >= b->groups_per_conn)
            return 0;
        c->next = c->from;
    }
    uint64_t i = scattered(c->next++ - c->from, c->from, c->end - c->from);
    char group[64];
    bl_room_name(b, i, c->layer, group, sizeof group);
    return add_member(b, i, group) == 0;
}

int bl_join(bl_load *b, uint64_t from, uint64_t upto, double *seconds)
{
    cursor c = { .b = b, .next = from, .from = from, .end = upto };
    if (b->groups_per_conn == 0) {
        *seconds = 0;
        return 0;
    }
    return closed_loop(b, &c, join_one, &b->joins_sent, &b->joins_seen, (uint64_t) b->window, 0, "join", seconds);
}

/* The fan-out groups: fan-<f>-<S> holds the first S connections (every gateway, when S >= gateways). */
static int fan_join_one(cursor *c)
{
    bl_load *b = c->b;
    while (c->layer < b->nfan && c->next >= (b->fan_sizes[c->layer] < b->announced ? b->fan_sizes[c->layer]
                                                                                     : b->announced)) {
        c->layer++;
        c->next = 0;
    }
    if (c->layer >= b->nfan)
        return 0;
    char group[64];
    snprintf(group, sizeof group, "fan-%d-%llu", c->layer, (unsigned long long) b->fan_sizes[c->layer]);
    return add_member(b, c->next++, group) == 0;
}

int bl_join_fanout(bl_load *b, double *seconds)
{
    cursor c = { .b = b };
    return closed_loop(b, &c, fan_join_one, &b->joins_sent, &b->joins_seen, (uint64_t) b->window, 0,
                       "join fan-out groups", seconds);
}

/* --------------------------------------------------------------- route */

static int receive_one(cursor *c)
{
    bl_load *b = c->b;
    uint64_t k = (uint64_t) b->ngateways, g = (uint64_t) (c->rr++ % b->ngateways);
    uint64_t per_gateway = b->announced / k;
    uint64_t i = g + k * (xorshift(&c->rng) % per_gateway);
    char text[256];
    int n = snprintf(text, sizeof text,
                     "{\"action\":\"create_message\",\"payload\":{\"message\":\"" MESSAGE "\",\"t\":\"%016llx\"}}",
                     (unsigned long long) bl_now_ns());
    cx_env env = { .type = CX_ENV_RECEIVE, .conn = bl_conn_id(b, i), .text = cx_slice_n(text, (size_t) n) };
    cx_link_send(b->gateways[g].link, &env);
    b->receives_sent++;
    return 1;
}

int bl_route(bl_load *b, double duration, double *seconds)
{
    if (b->announced < (uint64_t) b->ngateways)
        return -1;
    cursor c = { .b = b, .rng = 0x9e3779b97f4a7c15ull };
    b->phase = BL_ROUTE;
    hist_init(&b->latency);
    int rc = closed_loop(b, &c, receive_one, &b->receives_sent, &b->sends_seen, (uint64_t) b->window, duration,
                         "route", seconds);
    b->phase = BL_IDLE;
    return rc;
}

/* -------------------------------------------------------------- fan-out */

static int group_send_one(cursor *c)
{
    bl_load *b = c->b;
    int w = c->rr++ % b->nworkers;
    if (!b->workers[w].sample_conn)
        w = 0;   /* a worker the broker pinned nothing to (fewer connections than workers) */
    int expect = 0;
    for (int g = 0; g < b->ngateways; g++)
        expect += b->fan_members[b->fan][g] > 0;
    uint64_t seq = b->seq++;
    b->pending[seq % b->ring] = (bl_pending) { .t0 = bl_now_ns(), .remaining = expect };
    char text[256], group[64];
    int n = snprintf(text, sizeof text, "{\"type\":\"chat_message\",\"message\":\"" MESSAGE
                     "\",\"t\":\"%016llx\",\"seq\":%llu}", (unsigned long long) bl_now_ns(),
                     (unsigned long long) seq);
    snprintf(group, sizeof group, "fan-%d-%llu", b->fan, (unsigned long long) b->fan_sizes[b->fan]);
    cx_env env = { .type = CX_ENV_GROUP_SEND, .ngroups = 1, .conn = b->workers[w].sample_conn,
                   .user_id = 1, .flags = CX_GROUP_EXCLUDE_CURRENT, .text = cx_slice_n(text, (size_t) n) };
    env.groups[0] = cx_slice_of(group);
    cx_link_send(b->workers[w].link, &env);
    b->gsends_sent++;
    if (expect == 0)
        b->gsends_complete++;   /* nobody to reach: nothing comes back */
    return 1;
}

int bl_fanout(bl_load *b, int fan, double duration, double *seconds)
{
    if (!b->workers[0].sample_conn)
        return -1;
    b->ring = 64 * (uint64_t) b->window;
    if (!b->pending && !(b->pending = calloc(b->ring, sizeof *b->pending)))
        return -1;
    cursor c = { .b = b };
    b->phase = BL_FANOUT;
    b->fan = fan;
    hist_init(&b->latency);
    int rc = closed_loop(b, &c, group_send_one, &b->gsends_sent, &b->gsends_complete, (uint64_t) b->window,
                         duration, "fan-out", seconds);
    b->phase = BL_IDLE;
    return rc;
}

/* ----------------------------------------------------------- disconnect */

static int disconnect_one(cursor *c)
{
    bl_load *b = c->b;
    uint64_t i = 0;
    do {   /* skipping the lost gateway's: the broker ended them already */
        if (c->next >= c->end)
            return 0;
        i = scattered(c->next++, 0, c->end);
    } while ((int) (i % (uint64_t) b->ngateways) == b->dead_gateway);
    cx_env gone = { .type = CX_ENV_DISCONNECT, .conn = bl_conn_id(b, i), .code = 1001 };
    cx_link_send(b->gateways[i % (uint64_t) b->ngateways].link, &gone);
    b->disconnects_sent++;
    return 1;
}

int bl_disconnect(bl_load *b, double *seconds)
{
    cursor c = { .b = b, .end = b->announced };
    return closed_loop(b, &c, disconnect_one, &b->disconnects_sent, &b->disconnects_seen, (uint64_t) b->window, 0,
                       "disconnect", seconds);
}

/* ------------------------------------------------------- a gateway lost */

int bl_lose_gateway(bl_load *b, double *seconds)
{
    int g = b->ngateways - 1;
    uint64_t k = (uint64_t) b->ngateways, held = b->announced / k + (b->announced % k > (uint64_t) g);
    uint64_t t0 = bl_now_ns(), limit = t0 + 60000000000ull + held * 100000ull;   /* 60 s + 100 us each */
    cx_link_destroy(&b->gateways[g].link);
    b->dead_gateway = g;
    while (b->gone_seen < held) {
        bl_pump(b, 20);
        if (bl_now_ns() > limit) {
            fprintf(stderr, "chanx-bench-broker: gateway lost: %llu of its %llu connections reported to their "
                    "workers\n", (unsigned long long) b->gone_seen, (unsigned long long) held);
            return -1;
        }
    }
    *seconds = (double) (bl_now_ns() - t0) / 1e9;
    return 0;
}

/* ------------------------------------------------------------- history held */
/* What a history costs the broker in memory (issue 25's figure, "the broker's memory per 1,000 topics
 * of 100 messages of 200 bytes"): the first worker's connection joins held_groups groups "hist-<k>"
 * keeping held_messages each, then sends held_messages group messages of held_bytes to each, round-
 * robin, closed-loop (each seen at the gateway before the window lets more go), so at the end the
 * broker holds exactly groups x messages. Groups of one member: the fan-out is not what is measured. */

static void held_group(uint64_t k, char *out, size_t size)
{
    snprintf(out, size, "hist-%llu", (unsigned long long) k);
}

static int held_join_one(cursor *c)
{
    bl_load *b = c->b;
    if (c->next >= c->end)
        return 0;
    char group[48];
    held_group(c->next++, group, sizeof group);
    cx_env env = { .type = CX_ENV_GROUP_ADD, .conn = b->workers[0].sample_conn, .group = cx_slice_of(group),
                   .history_size = b->held_messages, .history_ttl_ms = CX_HISTORY_DEFAULT };
    cx_link_send(b->workers[0].link, &env);
    b->joins_sent++;
    return 1;
}

/* A chat message of exactly held_bytes (40..4096): {"type":"chat_message","message":"xxx..."}. */
static size_t held_text(const bl_load *b, char *out)
{
    static const char HEAD[] = "{\"type\":\"chat_message\",\"message\":\"", TAIL[] = "\"}";
    size_t fill = b->held_bytes - (sizeof HEAD - 1) - (sizeof TAIL - 1);
    memcpy(out, HEAD, sizeof HEAD - 1);
    memset(out + sizeof HEAD - 1, 'x', fill);
    memcpy(out + sizeof HEAD - 1 + fill, TAIL, sizeof TAIL);
    return b->held_bytes;
}

static int held_send_one(cursor *c)
{
    bl_load *b = c->b;
    if (c->next >= c->end)
        return 0;
    static char text[4097];
    size_t len = held_text(b, text);
    char group[48];
    held_group(c->next++ % b->held_groups, group, sizeof group);
    cx_env env = { .type = CX_ENV_GROUP_SEND, .ngroups = 1, .conn = b->workers[0].sample_conn, .user_id = 1,
                   .text = cx_slice_n(text, len) };
    env.groups[0] = cx_slice_of(group);
    cx_link_send(b->workers[0].link, &env);
    b->held_sent++;
    return 1;
}

int bl_held(bl_load *b, uint64_t *sends)
{
    double secs;
    if (!b->workers[0].sample_conn || b->held_bytes < 40 || b->held_bytes > 4096)
        return -1;
    cursor j = { .b = b, .end = b->held_groups };
    if (closed_loop(b, &j, held_join_one, &b->joins_sent, &b->joins_seen, (uint64_t) b->window, 0,
                    "history joins", &secs) != 0)
        return -1;
    *sends = b->held_groups * (uint64_t) b->held_messages;
    cursor s = { .b = b, .end = *sends };
    return closed_loop(b, &s, held_send_one, &b->held_sent, &b->held_seen, (uint64_t) b->window, 0,
                       "history sends", &secs);
}
