/*
 * history.h — the bounded history of groups that keep one (see history.c).
 *
 * A consumer declares a history for the groups it joins (GROUP_ADD's
 * history_size and history_ttl_ms); from then on every GROUP_SEND on such a
 * group gets the group's next seq, and the broker keeps the message until
 * one of three bounds drops it: the count, the group's bytes, or its age.
 * A join carrying a since replays what the client missed.
 */
#ifndef CX_BROKER_HISTORY_H
#define CX_BROKER_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include "proto/envelope.h"

typedef struct cx_history cx_history;

/* The deployment's defaults (CHANX_HISTORY_SIZE, CHANX_HISTORY_TTL_MS) stand for CX_HISTORY_DEFAULT;
 * max_bytes bounds each group's held text (CHANX_HISTORY_MAX_BYTES), total_max_bytes all groups'
 * together (CHANX_HISTORY_TOTAL_MAX_BYTES): past it the group least recently sent to loses its oldest
 * messages first (a message larger than the bound is still held, alone). */
cx_history *cx_history_new(uint32_t default_size, uint32_t default_ttl_ms, size_t max_bytes, size_t total_max_bytes);
void cx_history_destroy(cx_history **self_p);

/* Turns a group's history on (or widens it: the largest size and TTL declared win). size 0: nothing.
 * Returns 2 when this started the group's history (a new epoch), 1 when the group already kept one,
 * 0 when it keeps none, -1 out of memory. */
int cx_history_declare(cx_history *self, const char *group, uint32_t size, uint32_t ttl_ms, int64_t now_ms);

/* Whether the group keeps a history; its epoch and last seq when it does. */
int cx_history_current(cx_history *self, const char *group, const char **epoch, uint64_t *seq);
/* Whether any group keeps a history: when none does (no consumer declared one), a group send looks none up. */
int cx_history_any(const cx_history *self);
/* Its size (messages) and TTL, when it keeps one (1), for a standby's copy; 0 when not. */
int cx_history_bounds(cx_history *self, const char *group, uint32_t *size, uint32_t *ttl_ms);

/* One held message, for a replay. */
typedef struct {
    uint64_t seq;
    int64_t user_id;
    uint32_t flags;
    cx_slice text;
    cx_slice action;   /* an application event's action (chanx-api), empty for a group send's message */
} cx_history_message;

/* Holds one message of a group send or an application event (m's seq is ignored): returns its seq
 * (consecutive per group) and the group's epoch, or 0 when the group keeps no history (or out of
 * memory: the message is sent without one). */
uint64_t cx_history_append(cx_history *self, const char *group, const cx_history_message *m, int64_t now_ms,
                           const char **epoch);

/* Whether the held messages cover a join's since ("epoch:seq", several separated by ','): 1 when
 * every message of the group after that seq is still held, with *from that seq; 0 when history
 * cannot cover it (no entry of the group's epoch, a seq trimmed, expired or in the future, a
 * malformed since). Drops expired messages first. */
int cx_history_covers(cx_history *self, const char *group, cx_slice since, int64_t now_ms, uint64_t *from);
/* Gives fn each held message of the group after seq from, oldest first. */
void cx_history_each_after(cx_history *self, const char *group, uint64_t from,
                           void (*fn)(const cx_history_message *m, void *arg), void *arg);

/* A standby's copy of its primary's history (HISTORY with conn 0): the group takes the primary's epoch
 * (a different one starts the copy over), size and TTL; with text, the message of that seq is held
 * (a seq that does not follow the last one drops what was held: a copy never has a gap); without,
 * only the group's position (epoch and last seq) is set. 0, or -1 out of memory. */
int cx_history_mirror(cx_history *self, const char *group, cx_slice epoch, uint64_t seq, uint32_t size,
                      uint32_t ttl_ms, const cx_history_message *m, int64_t now_ms);

/* Everything held, for a standby that starts following: per group its position (m NULL, seq the one
 * before the oldest held message), then its messages oldest first. */
void cx_history_each(cx_history *self,
                     void (*fn)(const char *group, const char *epoch, uint64_t seq, uint32_t size, uint32_t ttl_ms,
                                const cx_history_message *m, void *arg),
                     void *arg);

/* A standby takes over from its primary: each group's next seq jumps by CX_HISTORY_TAKEOVER_GAP. What
 * the primary sent in its last moments may never have reached the copy; the jump keeps the new
 * broker from giving those seqs to other messages, and a since inside the jump (a client that got
 * such a message) is answered recovered: false. */
#define CX_HISTORY_TAKEOVER_GAP 1000000u
void cx_history_takeover(cx_history *self);

/* Drops messages past their TTL, and the history of groups idle past it that in_use says have no
 * member (their epoch goes with it: a later join starts a new one). */
void cx_history_expire(cx_history *self, int64_t now_ms, int (*in_use)(const char *group, void *arg), void *arg);

/* For the metrics: groups keeping a history, messages and bytes held. */
void cx_history_stats(const cx_history *self, size_t *groups, size_t *messages, size_t *bytes);

#endif
