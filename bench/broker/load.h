/*
 * load.h — chanx-bench-broker's fake deployment: K gateways and M workers
 * that are nothing but their broker links.
 *
 * Design: the broker alone is measured, so the peers do the least a peer
 * can while still speaking proto/ for real: each is a common/link.c link
 * (a DEALER socket, HELLO, heartbeats, CURVE with the role's key from
 * CHANX_CURVE_DIR exactly like chanx-gateway and chanx-worker), envelopes
 * are built with proto/'s encoder and read with its decoder. A client
 * connection is only an id in envelopes, so a million of them need no file
 * descriptor. One thread polls every link (peers.c); a phase (phases.c)
 * keeps a window of envelopes in flight and is driven by what comes back,
 * so the load is closed-loop and the broker's queues stay bounded.
 *
 * Connection i lives on gateway i % K with id (GATEWAY_BASE + g) << 32 |
 * (i / K + 1), as a real gateway numbers them, so an id maps back to i
 * without a table. Workers learn their connections from the CONNECTs the
 * broker pins to them (conn_worker[i]).
 */
#ifndef BENCH_BROKER_LOAD_H
#define BENCH_BROKER_LOAD_H

#include <stdint.h>
#include <sys/types.h>

#include "bench/hist.h"
#include "common/link.h"

#define BL_MAX_PEERS 64
#define BL_MAX_FANOUT 8
#define BL_TARGET "benchload.chat"   /* the consumer the fake workers serve */
#define BL_NO_WORKER 0xff

typedef struct {
    cx_link *link;
    char node[96];
    int ready;                 /* gateway: has seen BL_TARGET available in ROUTES */
    uint64_t sample_conn;      /* worker: one connection pinned to it (a GROUP_SEND's sender) */
} bl_peer;

/* One GROUP_SEND in flight: the gateways it must still reach. */
typedef struct {
    uint64_t t0;
    int remaining;
} bl_pending;

typedef struct {
    /* options */
    const char *endpoint;
    pid_t broker_pid;          /* 0: no CPU or memory figures */
    int ngateways, nworkers;
    uint64_t connections;      /* announced in steps */
    int groups_per_conn;       /* room memberships of each connection */
    int room_size;
    int window;                /* envelopes (or group sends) in flight */
    double duration;           /* seconds per measured phase */
    int steps;
    int nfan;
    uint64_t fan_sizes[BL_MAX_FANOUT];
    uint32_t history;          /* --history N: every group keeps N messages (broker/history.c); 0 none */
    uint64_t held_groups;      /* --held G,M,B: G groups keeping M messages, filled with messages of B bytes */
    uint32_t held_messages, held_bytes;

    bl_peer gateways[BL_MAX_PEERS], workers[BL_MAX_PEERS];
    uint64_t announced;        /* connections CONNECTed so far */
    uint8_t *conn_worker;      /* connection index → worker index (BL_NO_WORKER until its CONNECT arrives) */
    int lost;                  /* a link saw the broker restart or go silent: figures are void */

    /* what the peers saw (the counts the smoke test checks) */
    uint64_t connects_sent, connects_seen;     /* CONNECT: by gateways, at workers */
    uint64_t joins_sent, joins_seen;           /* GROUP_ADD: by workers, at gateways */
    uint64_t receives_sent, receives_seen;     /* RECEIVE: by gateways, at workers (each answered with a SEND) */
    uint64_t sends_seen;                       /* SEND at gateways */
    uint64_t gsends_sent, gsend_envelopes, deliveries, gsends_complete;
    uint64_t disconnects_sent, disconnects_seen;   /* DISCONNECT: by gateways, at workers */
    uint64_t gone_seen, gone_first_ns, gone_last_ns;   /* DISCONNECT 1006 at workers: a gateway lost */
    uint64_t memberships_gone; /* the lost gateway's connections' */
    int dead_gateway;          /* -1, or the gateway whose link was cut (bl_lose_gateway) */
    uint64_t closes, unexpected;               /* CLOSE from the broker; anything no phase asked for */
    uint64_t held_sent, held_seen;             /* GROUP_SEND to a "hist-" group: by the worker, at a gateway */
    uint32_t fan_members[BL_MAX_FANOUT][BL_MAX_PEERS];   /* fan-S members per gateway */

    /* the running phase */
    int phase;                 /* BL_IDLE, BL_ROUTE, BL_FANOUT */
    int fan;                   /* BL_FANOUT: index into fan_sizes */
    uint64_t seq;              /* BL_FANOUT: next GROUP_SEND's number */
    bl_pending *pending;       /* BL_FANOUT: ring of `ring` entries, by seq (room for late completions) */
    uint64_t ring;
    hist_t latency;
} bl_load;

enum { BL_IDLE, BL_ROUTE, BL_FANOUT };

/* peers.c */
uint64_t bl_now_ns(void);
uint64_t bl_conn_id(const bl_load *b, uint64_t i);
/* The index of a connection id, or UINT64_MAX for an id this load never made. */
uint64_t bl_conn_index(const bl_load *b, uint64_t id);
/* Opens the links, introduces every peer, registers the workers' route; 0 when every gateway sees it. */
int bl_peers_start(bl_load *b, int timeout_ms);
void bl_peers_stop(bl_load *b);
/* Waits up to timeout_ms for envelopes and handles all that arrived; ticks the links' heartbeats. */
void bl_pump(bl_load *b, int timeout_ms);

/* phases.c: each returns 0, or -1 when the broker did not answer everything within the time limit. */
int bl_connect(bl_load *b, uint64_t upto, double *seconds);
int bl_join(bl_load *b, uint64_t from, uint64_t upto, double *seconds);
int bl_join_fanout(bl_load *b, double *seconds);
/* Closed loop for duration seconds: round trips (RECEIVE then SEND) or group sends to fan_sizes[fan]. */
int bl_route(bl_load *b, double duration, double *seconds);
int bl_fanout(bl_load *b, int fan, double duration, double *seconds);
/* The last gateway's link is cut without a word: the broker must notice (heartbeat timeout) and tell the
 * workers of each of its connections (DISCONNECT 1006), all in one go. Returns when they all arrived. */
int bl_lose_gateway(bl_load *b, double *seconds);
/* Every other connection ends (DISCONNECT from its gateway), so a broker that keeps running forgets them. */
int bl_disconnect(bl_load *b, double *seconds);
/* The first worker's connection joins held_groups groups keeping held_messages each and fills
 * them with messages of held_bytes; *sends the group sends it made. 0, or -1 (a stall, no connection). */
int bl_held(bl_load *b, uint64_t *sends);
/* A room's name: "room-<layer>-<n>" (the connection's j-th room). */
void bl_room_name(const bl_load *b, uint64_t i, int layer, char *out, size_t size);

#endif
