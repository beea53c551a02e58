/*
 * revalidate.c — batched revocation checks (see revalidate.h).
 *
 * A round is a flat copy of the tracked connections. Its task walks it in
 * chunks; per chunk, each of the three statements gets one array literal
 * of the chunk's values and answers with the values that no longer hold,
 * which go into a set; then every item whose user or key is in the set is
 * revoked. The values are put in the array literal quoted and escaped, and
 * the literal travels as a parameter: nothing a client sent is ever SQL.
 */
#include "gateway/revalidate.h"
#include "common/idmap.h"
#include "common/log.h"
#include "gateway/user_model.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t user_id;
    int kind;           /* 1 + cx_auth_class */
    char credential[];  /* token or session key; "" for JWT */
} tracked;

typedef struct {
    uint64_t conn;
    int64_t user_id;
    int kind;
    char *credential;
} item;

typedef struct {
    item *items;
    size_t n;
    uint64_t *revoked;
    size_t nrevoked;
    int failed;
    int done;           /* set last by the task (atomic): the loop may read the rest */
} round_t;

struct cx_revalidate {
    cx_auth *pool;
    int64_t interval_ms, next_ms;
    cx_idmap *tracked;
    round_t *running;
};

/* --------------------------------------------------------------- the task */

/* Appends v to the array literal in *buf as a quoted element (" and \ escaped). */
static void literal_add(zchunk_t *buf, const char *v)
{
    zchunk_extend(buf, zchunk_size(buf) > 1 ? ",\"" : "\"", zchunk_size(buf) > 1 ? 2 : 1);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            zchunk_extend(buf, "\\", 1);
        zchunk_extend(buf, p, 1);
    }
    zchunk_extend(buf, "\"", 1);
}

/* Runs sql with the literal as $1; every value it answers goes into gone as prefix+value. */
static int collect_missing(PGconn *db, const char *sql, zchunk_t *literal, char prefix, zhashx_t *gone)
{
    if (zchunk_size(literal) <= 1)
        return 0;   /* nothing of this kind in the chunk */
    zchunk_extend(literal, "}", 2);   /* with the terminating NUL */
    const char *param = (const char *) zchunk_data(literal);
    PGresult *res = PQexecParams(db, sql, 1, NULL, &param, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        cx_warn("revalidation query failed: %s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                                     ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(db));
    for (int i = 0; ok && i < PQntuples(res); i++) {
        char key[160];
        snprintf(key, sizeof key, "%c%s", prefix, PQgetvalue(res, i, 0));
        zhashx_insert(gone, key, (void *) 1);
    }
    PQclear(res);
    return ok ? 0 : -1;
}

static int check_chunk(PGconn *db, round_t *r, size_t from, size_t to, zhashx_t *gone)
{
    static const char tokens_sql[] = "SELECT k FROM unnest($1::text[]) AS k "
                                     "WHERE NOT EXISTS (SELECT 1 FROM authtoken_token t WHERE t.key = k)";
    static const char sessions_sql[] = "SELECT k FROM unnest($1::text[]) AS k WHERE NOT EXISTS "
                                       "(SELECT 1 FROM django_session s WHERE s.session_key = k AND s.expire_date > now())";
    char users_sql[512], id[32];
    snprintf(users_sql, sizeof users_sql, "SELECT i FROM unnest($1::bigint[]) AS i "
             "WHERE NOT EXISTS (SELECT 1 FROM %s u WHERE u.id = i AND u.is_active)", cx_user_model_table());
    zchunk_t *users = zchunk_new("{", 1), *tokens = zchunk_new("{", 1), *sessions = zchunk_new("{", 1);
    for (size_t i = from; i < to; i++) {
        snprintf(id, sizeof id, "%lld", (long long) r->items[i].user_id);
        literal_add(users, id);
        if (r->items[i].kind == 1 + CX_AUTH_TOKEN)
            literal_add(tokens, r->items[i].credential);
        else if (r->items[i].kind == 1 + CX_AUTH_SESSION)
            literal_add(sessions, r->items[i].credential);
    }
    int rc = collect_missing(db, users_sql, users, 'u', gone) | collect_missing(db, tokens_sql, tokens, 't', gone)
             | collect_missing(db, sessions_sql, sessions, 's', gone);
    zchunk_destroy(&users);
    zchunk_destroy(&tokens);
    zchunk_destroy(&sessions);
    return rc;
}

static int is_revoked(const item *it, zhashx_t *gone)
{
    char key[160];
    snprintf(key, sizeof key, "u%lld", (long long) it->user_id);
    if (zhashx_lookup(gone, key))
        return 1;
    if (it->kind != 1 + CX_AUTH_TOKEN && it->kind != 1 + CX_AUTH_SESSION)
        return 0;
    snprintf(key, sizeof key, "%c%s", it->kind == 1 + CX_AUTH_TOKEN ? 't' : 's', it->credential);
    return zhashx_lookup(gone, key) != NULL;
}

static void run_round(PGconn *db, void *arg)
{
    round_t *r = arg;
    r->failed = !db;
    for (size_t from = 0; db && from < r->n && !r->failed; from += CX_REVALIDATE_CHUNK) {
        size_t to = from + CX_REVALIDATE_CHUNK < r->n ? from + CX_REVALIDATE_CHUNK : r->n;
        zhashx_t *gone = zhashx_new();
        r->failed = check_chunk(db, r, from, to, gone) != 0;
        for (size_t i = from; !r->failed && i < to; i++)
            if (is_revoked(&r->items[i], gone))
                r->revoked[r->nrevoked++] = r->items[i].conn;
        zhashx_destroy(&gone);
    }
    if (r->failed)
        r->nrevoked = 0;   /* revoke nothing on a partial answer */
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------- the loop */

static void round_free(round_t **r_p)
{
    round_t *r = *r_p;
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i].credential);
    free(r->items);
    free(r->revoked);
    free(r);
    *r_p = NULL;
}

cx_revalidate *cx_revalidate_new(cx_auth *pool, int64_t interval_ms)
{
    cx_revalidate *self = calloc(1, sizeof *self);
    if (!self || !(self->tracked = cx_idmap_new())) {
        free(self);
        return NULL;
    }
    self->pool = pool;
    self->interval_ms = interval_ms;
    return self;
}

static void free_tracked(uint64_t id, void *value, void *arg)
{
    (void) id, (void) arg;
    free(value);
}

void cx_revalidate_destroy(cx_revalidate **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_revalidate *self = *self_p;
    round_free(&self->running);
    cx_idmap_foreach(self->tracked, free_tracked, NULL);
    cx_idmap_destroy(&self->tracked);
    free(self);
    *self_p = NULL;
}

int cx_revalidate_track(cx_revalidate *self, uint64_t conn, int64_t user_id, int decided_by, const char *credential)
{
    if (!self || !self->interval_ms || user_id <= 0)
        return 0;
    size_t len = credential ? strlen(credential) : 0;
    tracked *t = malloc(sizeof *t + len + 1);
    if (!t)
        return -1;
    t->user_id = user_id;
    t->kind = decided_by;
    memcpy(t->credential, credential ? credential : "", len + 1);
    free(cx_idmap_remove(self->tracked, conn));
    if (cx_idmap_put(self->tracked, conn, t) != 0) {
        free(t);
        return -1;
    }
    return 0;
}

void cx_revalidate_forget(cx_revalidate *self, uint64_t conn)
{
    if (self)
        free(cx_idmap_remove(self->tracked, conn));
}

typedef struct {
    round_t *r;
    int oom;
} copy_state;

static void copy_item(uint64_t conn, void *value, void *arg)
{
    copy_state *cs = arg;
    const tracked *t = value;
    char *credential = strdup(t->credential);
    if (!credential) {
        cs->oom = 1;
        return;
    }
    cs->r->items[cs->r->n++] = (item) { conn, t->user_id, t->kind, credential };
}

static round_t *round_new(cx_revalidate *self)
{
    size_t n = cx_idmap_size(self->tracked);
    round_t *r = calloc(1, sizeof *r);
    copy_state cs = { r, 0 };
    if (r && (r->items = calloc(n + 1, sizeof *r->items)) && (r->revoked = calloc(n + 1, sizeof *r->revoked)))
        cx_idmap_foreach(self->tracked, copy_item, &cs);
    if (!r || !r->items || !r->revoked || cs.oom)
        round_free(&r);
    return r;
}

void cx_revalidate_tick(cx_revalidate *self, int64_t now_ms)
{
    if (!self || !self->interval_ms || self->running || now_ms < self->next_ms)
        return;
    self->next_ms = now_ms + self->interval_ms;
    if (!cx_idmap_size(self->tracked))
        return;
    self->running = round_new(self);
    if (self->running && cx_auth_submit_task(self->pool, run_round, self->running) != 0)
        round_free(&self->running);
}

int cx_revalidate_running(const cx_revalidate *self)
{
    return self && self->running;
}

void cx_revalidate_collect(cx_revalidate *self, void (*revoke)(uint64_t conn, void *arg), void *arg)
{
    if (!self || !self->running || !__atomic_load_n(&self->running->done, __ATOMIC_ACQUIRE))
        return;
    round_t *r = self->running;
    if (r->failed)
        cx_warn("revalidation of %zu connections failed: none revoked this round", r->n);
    for (size_t i = 0; i < r->nrevoked; i++)
        if (cx_idmap_get(self->tracked, r->revoked[i]))
            revoke(r->revoked[i], arg);
    round_free(&self->running);
}
