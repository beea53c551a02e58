/*
 * envelope.h — the one contract between gateway, broker and workers.
 *
 * Every message between two processes is one envelope, msgpack-encoded, sent
 * as one ZeroMQ message (the ROUTER's identity frame aside), or several
 * envelopes of one loop turn in one batch (proto/batch.h). An envelope is a
 * msgpack array whose first two elements are the protocol version and the
 * envelope type; the remaining elements depend on the type and are listed in
 * proto/README.md, which is the reference. Unknown versions are refused, so a
 * mixed deployment fails loudly instead of misreading frames.
 *
 * Decoding is zero-copy: the string fields of a decoded envelope point into
 * the buffer it was decoded from, so the buffer must outlive the envelope.
 * The decoder checks every field's type and count and answers truncated,
 * oversized or garbage input with -1 and a reason, never a crash.
 */
#ifndef CX_PROTO_ENVELOPE_H
#define CX_PROTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define CX_PROTO_VERSION 1
#define CX_PROTO_MAX_ENVELOPE (16u * 1024u * 1024u)
#define CX_PROTO_MAX_GROUPS 64
#define CX_PROTO_MAX_ROUTES 1024
#define CX_PROTO_MAX_ACKS 4096     /* (conn, handled) pairs in one ACK */

typedef enum {
    CX_ENV_HELLO = 1,       /* peer → broker, and broker → peer to ask a stranger to introduce itself */
    CX_ENV_HEARTBEAT,       /* both ways, keeps a peer alive */
    CX_ENV_REGISTER,        /* worker → broker: its consumers' routes */
    CX_ENV_ROUTES,          /* broker → gateway: the live route table */
    CX_ENV_CONNECT,         /* gateway → broker → worker: an authenticated connection */
    CX_ENV_RECEIVE,         /* gateway → broker → worker: a client's text frame */
    CX_ENV_SEND,            /* worker → broker → gateway: a text frame for one connection */
    CX_ENV_CLOSE,           /* worker|broker → gateway: close a connection with a code */
    CX_ENV_DISCONNECT,      /* gateway|broker → worker: a connection is gone */
    CX_ENV_GROUP_ADD,       /* worker → broker → gateway: a connection joins a group */
    CX_ENV_GROUP_DISCARD,   /* worker → broker → gateway: a connection leaves a group */
    CX_ENV_GROUP_SEND,      /* worker → broker → each gateway holding members */
    CX_ENV_RESUME,          /* gateway|worker → broker after HELLO: a connection it holds (conn 0: the last) */
    CX_ENV_EVENT,           /* api → broker → gateways and workers of the target: a server-side event */
    CX_ENV_CLOSE_TARGET,    /* api → broker: close every connection of a user, or one connection */
    CX_ENV_RESULT,          /* broker → api: what an EVENT or CLOSE_TARGET reached */
    CX_ENV_WORKER_EXIT,     /* worker supervisor → broker: one of its worker processes ended (a crash) */
    CX_ENV_HISTORY,         /* broker → gateway: a held message replayed to one connection; conn 0: to a standby */
    CX_ENV_RECOVERY,        /* broker → gateway: a join to a group with history: its epoch, seq, recovered */
    CX_ENV_PRESENCE,        /* api|worker → broker: who is in a group (the answer: PRESENCE_RESULT) */
    CX_ENV_PRESENCE_RESULT, /* broker → api|worker: the users present, a JSON text */
    CX_ENV_REPIN,           /* broker → gateway: the connection's worker process died; send its CONNECT again */
    CX_ENV_ANSWER,          /* gateway → broker → worker: the gateway's own answer to a client message, which
                             * the worker sends back (SEND, or CLOSE with a code) behind the consumer's answers */
    CX_ENV_ACK,             /* worker → broker: per connection, how many RECEIVEs its consumer has handled */
    CX_ENV_TYPE_MAX
} cx_env_type;

/* Peer roles. CX_ROLE_API (chanx-api, chanx-admin publish) may send only EVENT, CLOSE_TARGET and PRESENCE
 * (besides HELLO and HEARTBEAT); the broker's list is the api row of broker/roles.c. */
/* CX_ROLE_STANDBY is a standby broker following its primary (with the broker's own key): it receives
 * the primary's group histories (HISTORY with conn 0) so that a failover keeps them. */
typedef enum { CX_ROLE_GATEWAY = 1, CX_ROLE_WORKER = 2, CX_ROLE_API = 3, CX_ROLE_STANDBY = 4 } cx_role;

/* EVENT / CLOSE_TARGET targets. USER never leaves the broker: it becomes one CONNECTION per
 * connection of the user. */
typedef enum { CX_TARGET_GROUPS = 1, CX_TARGET_USER = 2, CX_TARGET_CONNECTION = 3 } cx_target;

/* CONNECT user flags */
#define CX_USER_AUTHENTICATED 0x01u
#define CX_USER_STAFF         0x02u
#define CX_USER_SUPERUSER     0x04u
/* CONNECT: the authentication class that identified the user (none: anonymous). The class, never the secret. */
#define CX_USER_AUTH_TOKEN    0x08u
#define CX_USER_AUTH_SESSION  0x10u
#define CX_USER_AUTH_JWT      0x20u
/* CONNECT to a consumer with has_permission: the gateway's object verdict, for the worker to apply
 * after has_permission, DRF's order (check_permissions before get_object). */
#define CX_USER_OBJECT_NOT_FOUND 0x40u  /* the queryset found no row: 404 */
#define CX_USER_OBJECT_DENIED    0x80u  /* object_permission found no row: 403 */
/* The gateway's CONNECT again, after REPIN: the consumer starts again on another worker process, without
 * a second authentication message (chanx_restarted) */
#define CX_USER_RESTARTED        0x100u

/* WORKER_EXIT flags */
#define CX_WORKER_EXIT_QUARANTINED 0x01u  /* the crashed consumer's plugin is quarantined from now on */

/* A route row's available: 1 a live worker serves it, 0 none does, CX_ROUTE_QUARANTINED none will: its
 * plugin crashed its worker processes too often (ROUTES only) */
#define CX_ROUTE_QUARANTINED 2

/* HELLO flags (appended field) */
#define CX_HELLO_SUPERVISOR      0x01u  /* a worker supervisor: serves no connection, reports its children's exits */
#define CX_HELLO_READS_BATCH     0x02u  /* the peer reads batches (proto/batch.h) */
#define CX_HELLO_REPINS          0x04u  /* a gateway that answers REPIN (an older one's connections close instead) */
#define CX_HELLO_ACKS            0x08u  /* a worker that says which RECEIVEs it handled (ACK; broker/inflight.c) */
#define CX_HELLO_READS_QUARANTINE 0x10u /* the peer decodes ROUTES' available CX_ROUTE_QUARANTINED (an older one
                                           refuses the whole ROUTES: the broker sends it 0 there instead) */

/* GROUP_SEND flags */
#define CX_GROUP_EXCLUDE_CURRENT 0x01u  /* the sending connection does not get it */
#define CX_GROUP_CAMELIZE        0x02u  /* recipients get isMine/isCurrent instead of is_mine/is_current */
#define CX_GROUP_COMPLETE        0x04u  /* follow each delivery with {"action":"group_complete"} */
#define CX_GROUP_NO_OWNERSHIP    0x08u  /* raw JSON: deliver the body as is, no is_mine/is_current */
/* A send to more than CX_PROTO_MAX_GROUPS groups goes in consecutive GROUP_SENDs, all flagged SPLIT,
 * all but the first CONTINUES: a gateway reaches each member once across them (gateway/upstream.c). */
#define CX_GROUP_SPLIT           0x10u
#define CX_GROUP_CONTINUES       0x20u

/* EVENT flags (appended): the publisher gave a topic broadcast's own seq, in topic_seq (the gateway writes it as
 * the event's last member "seq" unless the broker stamped the group's: gateway/events.c) */
#define CX_EVENT_TOPIC_SEQ 0x01u

/* RECOVERY flags */
#define CX_RECOVERY_RECOVERED 0x01u  /* every message after the since asked for was replayed before it */
#define CX_RECOVERY_ASKED     0x02u  /* the join carried a since */

/* GROUP_ADD flags (appended): its members get presence_joined / presence_left (broker/presence.c) */
#define CX_GROUP_ADD_PRESENCE 0x01u
/* GROUP_ADD history: history_size / history_ttl_ms of CX_HISTORY_DEFAULT take the broker's defaults */
#define CX_HISTORY_DEFAULT UINT32_MAX
/* PRESENCE targets (the request's `target` field) */
#define CX_PRESENCE_USERS 1   /* each user with their connections */
#define CX_PRESENCE_STATS 2   /* counts only */

/* A string field: a view into the decoded buffer, not NUL-terminated. */
typedef struct {
    const char *ptr;
    uint32_t len;
} cx_slice;

/* One row of the route table carried by REGISTER and ROUTES. */
typedef struct {
    uint8_t kind;        /* 0 = path(), 1 = re_path() */
    cx_slice pattern;    /* full pattern, mount prefix included */
    cx_slice target;     /* "plugin.consumer" */
    cx_slice spec;       /* consumer's edge spec (authentication, permissions, queryset), JSON text */
    uint8_t available;   /* ROUTES only: 1 when a live worker serves the consumer, 0 not, 2 quarantined */
} cx_env_route;

/*
 * A decoded envelope. Which fields mean something depends on the type; see
 * proto/README.md. Fields are plain data so that building one for encoding is
 * a designated initializer.
 */
typedef struct {
    cx_env_type type;
    uint64_t conn;             /* connection id: gateway node << 32 | counter */
    uint32_t code;             /* CLOSE / DISCONNECT / ANSWER close code */
    uint32_t flags;            /* CONNECT user flags, GROUP_SEND flags, HELLO flags, WORKER_EXIT flags, EVENT flags */
    int64_t user_id;           /* CONNECT user, GROUP_SEND sender's user, RESUME user (0: anonymous) */
    uint8_t role;              /* HELLO */
    uint64_t pid;              /* HELLO, WORKER_EXIT (the child's) */
    cx_slice node;             /* HELLO: peer name for logs; WORKER_EXIT: the child's routing id */
    cx_slice consumer;         /* CONNECT: target consumer; WORKER_EXIT: the one whose callback crashed */
    cx_slice text;             /* RECEIVE/SEND frame, GROUP_SEND body, CLOSE reason, WORKER_EXIT callback, ANSWER */
    cx_slice path, query, client, username;       /* CONNECT */
    cx_slice kwargs, headers, obj;                /* CONNECT: JSON texts (obj may be empty) */
    cx_slice group;                               /* GROUP_ADD / GROUP_DISCARD */
    uint32_t ngroups;                             /* GROUP_SEND, RESUME */
    cx_slice groups[CX_PROTO_MAX_GROUPS];         /* decode: only the first ngroups are set */
    uint32_t nroutes;                             /* REGISTER / ROUTES */
    cx_env_route *routes;                         /* decode: owned by the decoder's zone */
    uint64_t request;                             /* EVENT / CLOSE_TARGET / RESULT: the publisher's id */
    uint8_t target;                               /* EVENT / CLOSE_TARGET: a cx_target */
    cx_slice action;                              /* EVENT: the event's action (also inside text); HISTORY: a held
                                                   * event's (empty for a group send's message) */
    uint32_t gateways, connections;               /* RESULT: how many it reached */
    uint32_t history_size, history_ttl_ms;        /* GROUP_ADD: the group's history (0: none) */
    cx_slice since;                               /* GROUP_ADD: "epoch:seq[,epoch:seq...]" or empty */
    uint64_t seq;                                 /* GROUP_SEND and EVENT (set by the broker), HISTORY, RECOVERY */
    cx_slice epoch;                               /* GROUP_SEND and EVENT (set by the broker), HISTORY, RECOVERY */
    int64_t topic_seq;                            /* EVENT with CX_EVENT_TOPIC_SEQ: the publisher's own seq */
    uint64_t connected_ms;                        /* CONNECT (the gateway's clock), a worker's RESUME: when the connection began (Unix ms) */
    cx_slice topic, ref;                          /* GROUP_ADD, RECOVERY: a topic's subscribe, answered "subscribed" */
    uint32_t nacks;                               /* ACK: pairs in acks */
    uint64_t *acks;                               /* ACK: conn, handled, conn, handled...; decode: the decoder's zone */
    uint32_t limit;                               /* PRESENCE: users per page (0: the broker's most, 1000);
                                                   * user_id: list only users above this id (the cursor) */
} cx_env;

/* Reusable encoder: one buffer, grown as needed, never freed between messages. */
typedef struct cx_encoder cx_encoder;
cx_encoder *cx_encoder_new(void);
void cx_encoder_destroy(cx_encoder **self_p);
/* Encodes env; returns 0 with the bytes in data and len, valid until the next encode. */
int cx_encoder_encode(cx_encoder *self, const cx_env *env, const char **data, size_t *len);

/* Reusable decoder: keeps one msgpack zone so a decode allocates nothing in steady state. */
typedef struct cx_decoder cx_decoder;
cx_decoder *cx_decoder_new(void);
void cx_decoder_destroy(cx_decoder **self_p);
/* Decodes one envelope; env is valid until the next decode and while buf lives.
 * Returns 0, or -1 with a reason from cx_decoder_error(). */
int cx_decoder_decode(cx_decoder *self, const void *buf, size_t len, cx_env *env);
const char *cx_decoder_error(const cx_decoder *self);

const char *cx_env_type_name(cx_env_type type);
/* An encoded envelope's type without decoding it (its third byte: [fixarray, version, type]), or -1
 * when buf does not start like an envelope of this version. For a holder that must tell kinds apart. */
int cx_env_peek_type(const void *buf, size_t len);

/* Slice helpers. */
static inline cx_slice cx_slice_of(const char *s)
{
    cx_slice out = { s, 0 };
    if (s)
        while (s[out.len])
            out.len++;
    return out;
}
static inline cx_slice cx_slice_n(const char *s, size_t n)
{
    cx_slice out = { s, (uint32_t) n };
    return out;
}
int cx_slice_eq(cx_slice a, const char *s);
/* Copies into a NUL-terminated malloc'd string. */
char *cx_slice_dup(cx_slice s);

#endif
