/*
 * heads.c — request head deadlines (heads.h).
 *
 * Each connection's socket context is an entry in one doubly linked list,
 * made when libmicrohttpd starts the connection and freed when it closes
 * it; the loop walks the list once per turn (the API holds at most
 * MHD's connection limit, 1,000).
 */
#include "api/heads.h"
#include "common/link.h"
#include "common/log.h"

#include <stdlib.h>
#include <sys/socket.h>

typedef struct entry {
    struct entry *prev, *next;
    struct MHD_Connection *conn;
    int64_t since;      /* the head's clock started (ms) */
    int arrived;        /* the head is complete */
    int ended;          /* shut down for being late */
} entry;

struct cx_heads {
    entry *first;
    int64_t timeout_ms;
};

cx_heads *cx_heads_new(int timeout_secs)
{
    cx_heads *self = calloc(1, sizeof *self);
    if (self)
        self->timeout_ms = (int64_t) timeout_secs * 1000;
    return self;
}

void cx_heads_destroy(cx_heads **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (entry *e = (*self_p)->first; e;) {   /* connections MHD did not close (it is stopped first) */
        entry *next = e->next;
        free(e);
        e = next;
    }
    free(*self_p);
    *self_p = NULL;
}

void cx_heads_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    cx_heads *self = cls;
    entry *e = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        if (!(e = calloc(1, sizeof *e)))
            return;
        e->conn = conn;
        e->since = cx_now_ms();
        e->next = self->first;
        if (self->first)
            self->first->prev = e;
        self->first = e;
        *socket_context = e;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && e) {
        if (e->prev)
            e->prev->next = e->next;
        else
            self->first = e->next;
        if (e->next)
            e->next->prev = e->prev;
        free(e);
        *socket_context = NULL;
    }
}

static entry *entry_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void cx_heads_arrived(struct MHD_Connection *conn)
{
    entry *e = entry_of(conn);
    if (e)
        e->arrived = 1;
}

void cx_heads_restart(struct MHD_Connection *conn)
{
    entry *e = entry_of(conn);
    if (e) {
        e->arrived = 0;
        e->since = cx_now_ms();
    }
}

size_t cx_heads_enforce(cx_heads *self)
{
    int64_t now = cx_now_ms();
    size_t ended = 0;
    for (entry *e = self->first; e; e = e->next) {
        if (e->arrived || e->ended || now - e->since < self->timeout_ms)
            continue;
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(e->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info)
            shutdown(info->connect_fd, SHUT_RDWR);   /* MHD reads the end and closes it its own way */
        e->ended = 1;
        ended++;
    }
    if (ended)
        cx_log_fields(CX_LOG_WARNING, "request heads too slow: connections closed",
                      json_pack("{s:I, s:I}", "connections", (json_int_t) ended, "timeout_ms",
                                (json_int_t) self->timeout_ms));
    return ended;
}

long cx_heads_next_ms(const cx_heads *self)
{
    int64_t now = cx_now_ms();
    long next = -1;
    for (const entry *e = self->first; e; e = e->next) {
        if (e->arrived || e->ended)
            continue;
        long left = e->since + self->timeout_ms > now ? (long) (e->since + self->timeout_ms - now) : 0;
        if (next < 0 || left < next)
            next = left;
    }
    return next;
}
