/*
 * envelope.c — msgpack encoding and decoding of inter-process envelopes.
 *
 * Each envelope type has a layout: a short string whose letters name, in
 * order, the fields that follow [version, type] in the msgpack array (see
 * LAYOUTS below and proto/README.md). One table-driven encoder and one
 * table-driven decoder serve every type, so adding a field is one letter in
 * one place and the encoder and decoder cannot disagree.
 *
 * Fields appended to a type after its first release stand after a '|' in its
 * layout: the encoder always writes them, the decoder also accepts the type
 * with only some of them, the first ones (what a peer built before the rest
 * sends; the missing decode as 0 or empty), and refuses every other count,
 * so it stays strict.
 *
 * The decoder reads the fields in place with a cursor, once cx_mp_well_formed has
 * checked that every length in the message fits in it: no object tree is
 * built (msgpack_unpack's cost a third of the broker's work per envelope),
 * strings point into the input buffer, and only routes and acks take room,
 * from a zone the decoder owns and clears, so steady-state decoding
 * allocates nothing.
 */
#include "proto/envelope.h"
#include "proto/msgpack_cursor.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Field letters:
 *   c conn (uint)   k code (uint)    f flags (uint)   u user_id (int)
 *   r role (uint)   p pid (uint)     N node           C consumer
 *   T text          P path           Q query          A client address
 *   U username      K kwargs (JSON)  H headers (JSON) O obj (JSON or "")
 *   G group         L groups (array of str)           R routes (array)
 *   i request (uint) t target (uint)  a action         g gateways (uint)
 *   n connections (uint)
 *   h history_size (uint) l history_ttl_ms (uint)     S since   s seq (uint)   E epoch
 *   d connected_ms (uint, Unix ms)   o topic (str)   e ref (str)   m limit (uint)
 *   W acks (array of uint: conn, handled, conn, handled, ...)   q topic_seq (int)
 */
static const char *const LAYOUTS[CX_ENV_TYPE_MAX] = {
    [CX_ENV_HELLO] = "rpN|f",
    [CX_ENV_HEARTBEAT] = "",
    [CX_ENV_REGISTER] = "R",
    [CX_ENV_ROUTES] = "R",
    [CX_ENV_CONNECT] = "cCPQAKHufUO|d",
    [CX_ENV_RECEIVE] = "cT",
    [CX_ENV_SEND] = "cT",
    [CX_ENV_CLOSE] = "ckT",
    [CX_ENV_DISCONNECT] = "ck",
    [CX_ENV_GROUP_ADD] = "cG|hlSfoe",
    [CX_ENV_GROUP_DISCARD] = "cG",
    [CX_ENV_GROUP_SEND] = "LcufT|sE",
    [CX_ENV_RESUME] = "cL|uhlUdf",
    [CX_ENV_EVENT] = "itLucaT|sEfq",
    [CX_ENV_CLOSE_TARGET] = "ituck",
    [CX_ENV_RESULT] = "ign",
    [CX_ENV_WORKER_EXIT] = "NpkcCTf",
    [CX_ENV_HISTORY] = "cGsEufThl|a",
    [CX_ENV_RECOVERY] = "cGsEfoe",
    [CX_ENV_PRESENCE] = "itcG|um",
    [CX_ENV_PRESENCE_RESULT] = "icT",
    [CX_ENV_REPIN] = "c",
    [CX_ENV_ANSWER] = "ckT",
    [CX_ENV_ACK] = "W",
};

static const char *const TYPE_NAMES[CX_ENV_TYPE_MAX] = {
    [CX_ENV_HELLO] = "HELLO",
    [CX_ENV_HEARTBEAT] = "HEARTBEAT",
    [CX_ENV_REGISTER] = "REGISTER",
    [CX_ENV_ROUTES] = "ROUTES",
    [CX_ENV_CONNECT] = "CONNECT",
    [CX_ENV_RECEIVE] = "RECEIVE",
    [CX_ENV_SEND] = "SEND",
    [CX_ENV_CLOSE] = "CLOSE",
    [CX_ENV_DISCONNECT] = "DISCONNECT",
    [CX_ENV_GROUP_ADD] = "GROUP_ADD",
    [CX_ENV_GROUP_DISCARD] = "GROUP_DISCARD",
    [CX_ENV_GROUP_SEND] = "GROUP_SEND",
    [CX_ENV_RESUME] = "RESUME",
    [CX_ENV_EVENT] = "EVENT",
    [CX_ENV_CLOSE_TARGET] = "CLOSE_TARGET",
    [CX_ENV_RESULT] = "RESULT",
    [CX_ENV_WORKER_EXIT] = "WORKER_EXIT",
    [CX_ENV_HISTORY] = "HISTORY",
    [CX_ENV_RECOVERY] = "RECOVERY",
    [CX_ENV_PRESENCE] = "PRESENCE",
    [CX_ENV_PRESENCE_RESULT] = "PRESENCE_RESULT",
    [CX_ENV_REPIN] = "REPIN",
    [CX_ENV_ANSWER] = "ANSWER",
    [CX_ENV_ACK] = "ACK",
};

/* The number of fields a layout names, and how many of them an envelope must carry (those before '|'). */
static size_t layout_fields(const char *layout)
{
    return strlen(layout) - (strchr(layout, '|') != NULL);
}

static size_t layout_required(const char *layout)
{
    const char *bar = strchr(layout, '|');
    return bar ? (size_t) (bar - layout) : strlen(layout);
}

const char *cx_env_type_name(cx_env_type type)
{
    if (type <= 0 || type >= CX_ENV_TYPE_MAX)
        return "UNKNOWN";
    return TYPE_NAMES[type];
}

int cx_slice_eq(cx_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || memcmp(a.ptr, s, n) == 0);
}

char *cx_slice_dup(cx_slice s)
{
    char *out = malloc(s.len + 1u);
    if (!out)
        return NULL;
    if (s.len)
        memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return out;
}

/* Where each string letter lives in an envelope. */
static cx_slice *string_field(cx_env *env, char letter)
{
    switch (letter) {
    case 'N': return &env->node;
    case 'C': return &env->consumer;
    case 'T': return &env->text;
    case 'P': return &env->path;
    case 'Q': return &env->query;
    case 'A': return &env->client;
    case 'U': return &env->username;
    case 'K': return &env->kwargs;
    case 'H': return &env->headers;
    case 'O': return &env->obj;
    case 'G': return &env->group;
    case 'a': return &env->action;
    case 'S': return &env->since;
    case 'E': return &env->epoch;
    case 'o': return &env->topic;
    case 'e': return &env->ref;
    default: return NULL;
    }
}

/* ---------------------------------------------------------------- encoder */

struct cx_encoder {
    msgpack_sbuffer buf;
    msgpack_packer pk;
};

cx_encoder *cx_encoder_new(void)
{
    cx_encoder *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    msgpack_sbuffer_init(&self->buf);
    msgpack_packer_init(&self->pk, &self->buf, msgpack_sbuffer_write);
    return self;
}

void cx_encoder_destroy(cx_encoder **self_p)
{
    if (!self_p || !*self_p)
        return;
    msgpack_sbuffer_destroy(&(*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

static void pack_str(msgpack_packer *pk, cx_slice s)
{
    msgpack_pack_str(pk, s.len);
    if (s.len)
        msgpack_pack_str_body(pk, s.ptr, s.len);
}

static void pack_routes(msgpack_packer *pk, const cx_env *env)
{
    msgpack_pack_array(pk, env->nroutes);
    for (uint32_t i = 0; i < env->nroutes; i++) {
        const cx_env_route *r = &env->routes[i];
        msgpack_pack_array(pk, 5);
        msgpack_pack_uint8(pk, r->kind);
        pack_str(pk, r->pattern);
        pack_str(pk, r->target);
        pack_str(pk, r->spec);
        msgpack_pack_uint8(pk, r->available);
    }
}

static void pack_field(msgpack_packer *pk, const cx_env *env, char letter)
{
    switch (letter) {
    case 'c': msgpack_pack_uint64(pk, env->conn); return;
    case 'k': msgpack_pack_uint32(pk, env->code); return;
    case 'f': msgpack_pack_uint32(pk, env->flags); return;
    case 'u': msgpack_pack_int64(pk, env->user_id); return;
    case 'q': msgpack_pack_int64(pk, env->topic_seq); return;
    case 'r': msgpack_pack_uint8(pk, env->role); return;
    case 'p': msgpack_pack_uint64(pk, env->pid); return;
    case 'i': msgpack_pack_uint64(pk, env->request); return;
    case 't': msgpack_pack_uint8(pk, env->target); return;
    case 'g': msgpack_pack_uint32(pk, env->gateways); return;
    case 'n': msgpack_pack_uint32(pk, env->connections); return;
    case 'h': msgpack_pack_uint32(pk, env->history_size); return;
    case 'l': msgpack_pack_uint32(pk, env->history_ttl_ms); return;
    case 's': msgpack_pack_uint64(pk, env->seq); return;
    case 'd': msgpack_pack_uint64(pk, env->connected_ms); return;
    case 'm': msgpack_pack_uint32(pk, env->limit); return;
    case 'L':
        msgpack_pack_array(pk, env->ngroups);
        for (uint32_t i = 0; i < env->ngroups; i++)
            pack_str(pk, env->groups[i]);
        return;
    case 'R': pack_routes(pk, env); return;
    case 'W':
        msgpack_pack_array(pk, 2 * env->nacks);
        for (uint32_t i = 0; i < 2 * env->nacks; i++)
            msgpack_pack_uint64(pk, env->acks[i]);
        return;
    default: pack_str(pk, *string_field((cx_env *) env, letter)); return;
    }
}

int cx_encoder_encode(cx_encoder *self, const cx_env *env, const char **data, size_t *len)
{
    if (env->type <= 0 || env->type >= CX_ENV_TYPE_MAX)
        return -1;
    if (env->ngroups > CX_PROTO_MAX_GROUPS || env->nroutes > CX_PROTO_MAX_ROUTES || env->nacks > CX_PROTO_MAX_ACKS)
        return -1;
    const char *layout = LAYOUTS[env->type];
    msgpack_sbuffer_clear(&self->buf);
    msgpack_pack_array(&self->pk, 2 + (uint32_t) layout_fields(layout));
    msgpack_pack_uint8(&self->pk, CX_PROTO_VERSION);
    msgpack_pack_uint8(&self->pk, (uint8_t) env->type);
    for (const char *l = layout; *l; l++)
        if (*l != '|')
            pack_field(&self->pk, env, *l);
    if (self->buf.size > CX_PROTO_MAX_ENVELOPE)
        return -1;
    *data = self->buf.data;
    *len = self->buf.size;
    return 0;
}

/* ---------------------------------------------------------------- decoder */

struct cx_decoder {
    msgpack_zone zone;   /* routes and acks of the last envelope */
    int zone_used;
    char error[128];
};

cx_decoder *cx_decoder_new(void)
{
    cx_decoder *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (!msgpack_zone_init(&self->zone, 8192)) {
        free(self);
        return NULL;
    }
    return self;
}

void cx_decoder_destroy(cx_decoder **self_p)
{
    if (!self_p || !*self_p)
        return;
    msgpack_zone_destroy(&(*self_p)->zone);
    free(*self_p);
    *self_p = NULL;
}

const char *cx_decoder_error(const cx_decoder *self)
{
    return self->error;
}

__attribute__((format(printf, 2, 3)))
static int fail(cx_decoder *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->error, sizeof self->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* The fields are read in place (msgpack_cursor.h) from a message cx_mp_well_formed accepted: a string
 * field as a slice of it. */
static int get_str(cx_mp_cursor *c, cx_slice *out)
{
    const char *p;
    size_t n;
    if (cx_mp_str(c, &p, &n))
        return -1;
    *out = cx_slice_n(p, n);
    return 0;
}

/* Room from the decoder's zone, cleared at the next decode that used it. */
static void *zone_alloc(cx_decoder *self, size_t size)
{
    self->zone_used = 1;
    return msgpack_zone_malloc(&self->zone, size);
}

static int decode_routes(cx_decoder *self, cx_mp_cursor *c, cx_env *env)
{
    uint32_t n;
    if (cx_mp_array(c, &n) || n > CX_PROTO_MAX_ROUTES)
        return fail(self, "routes: must be an array of at most %d", CX_PROTO_MAX_ROUTES);
    env->nroutes = n;
    env->routes = zone_alloc(self, sizeof(cx_env_route) * (env->nroutes + 1u));
    if (!env->routes)
        return fail(self, "routes: out of memory");
    for (uint32_t i = 0; i < env->nroutes; i++) {
        cx_env_route *r = &env->routes[i];
        uint64_t kind, available;
        uint32_t size;
        if (cx_mp_array(c, &size) || size != 5)
            return fail(self, "routes: route %u is not a 5-element array", i);
        if (cx_mp_uint(c, 1, &kind) || get_str(c, &r->pattern) || get_str(c, &r->target) || get_str(c, &r->spec)
            || cx_mp_uint(c, CX_ROUTE_QUARANTINED, &available))
            return fail(self, "routes: route %u has a field of the wrong type", i);
        r->kind = (uint8_t) kind;
        r->available = (uint8_t) available;
    }
    return 0;
}

/* ACK: an even number of uints, (conn, handled) pairs, into the zone. */
static int decode_acks(cx_decoder *self, cx_mp_cursor *c, cx_env *env)
{
    uint32_t n;
    if (cx_mp_array(c, &n) || n > 2 * CX_PROTO_MAX_ACKS || n % 2)
        return fail(self, "acks: must be an array of at most %d (conn, handled) pairs", CX_PROTO_MAX_ACKS);
    env->nacks = n / 2;
    env->acks = zone_alloc(self, sizeof(uint64_t) * (2u * env->nacks + 1u));
    if (!env->acks)
        return fail(self, "acks: out of memory");
    for (uint32_t i = 0; i < 2 * env->nacks; i++)
        if (cx_mp_uint(c, UINT64_MAX, &env->acks[i]))
            return fail(self, "acks: element %u is not an unsigned integer", i);
    return 0;
}

static int decode_groups(cx_decoder *self, cx_mp_cursor *c, cx_env *env)
{
    uint32_t n;
    if (cx_mp_array(c, &n) || n > CX_PROTO_MAX_GROUPS)
        return fail(self, "groups: must be an array of at most %d names", CX_PROTO_MAX_GROUPS);
    env->ngroups = n;
    for (uint32_t i = 0; i < env->ngroups; i++)
        if (get_str(c, &env->groups[i]))
            return fail(self, "groups: element %u is not a string", i);
    return 0;
}

static int decode_field(cx_decoder *self, cx_mp_cursor *c, cx_env *env, char letter, int index)
{
    uint64_t u = 0;
    int rc = 0;
    switch (letter) {
    case 'c': rc = cx_mp_uint(c, UINT64_MAX, &env->conn); break;
    case 'k': rc = cx_mp_uint(c, 65535, &u); env->code = (uint32_t) u; break;
    case 'f': rc = cx_mp_uint(c, UINT32_MAX, &u); env->flags = (uint32_t) u; break;
    case 'u': rc = cx_mp_int(c, &env->user_id); break;
    case 'q': rc = cx_mp_int(c, &env->topic_seq); break;
    case 'r': rc = cx_mp_uint(c, CX_ROLE_STANDBY, &u); env->role = (uint8_t) u; break;
    case 'p': rc = cx_mp_uint(c, UINT64_MAX, &env->pid); break;
    case 'i': rc = cx_mp_uint(c, UINT64_MAX, &env->request); break;
    case 't': rc = cx_mp_uint(c, CX_TARGET_CONNECTION, &u) || u == 0; env->target = (uint8_t) u; break;
    case 'g': rc = cx_mp_uint(c, UINT32_MAX, &u); env->gateways = (uint32_t) u; break;
    case 'n': rc = cx_mp_uint(c, UINT32_MAX, &u); env->connections = (uint32_t) u; break;
    case 'h': rc = cx_mp_uint(c, UINT32_MAX, &u); env->history_size = (uint32_t) u; break;
    case 'l': rc = cx_mp_uint(c, UINT32_MAX, &u); env->history_ttl_ms = (uint32_t) u; break;
    case 's': rc = cx_mp_uint(c, UINT64_MAX, &env->seq); break;
    case 'd': rc = cx_mp_uint(c, UINT64_MAX, &env->connected_ms); break;
    case 'm': rc = cx_mp_uint(c, UINT32_MAX, &u); env->limit = (uint32_t) u; break;
    case 'L': return decode_groups(self, c, env);
    case 'R': return decode_routes(self, c, env);
    case 'W': return decode_acks(self, c, env);
    default: rc = get_str(c, string_field(env, letter)); break;
    }
    if (rc)
        return fail(self, "field '%c' (position %d) has the wrong type or range", letter, index);
    return 0;
}

/* Zeroes env but for groups[] (a kilobyte, more than the rest of a decode costs): only its first ngroups
 * mean something, and a decode writes those. */
static void clear(cx_env *env)
{
    memset(env, 0, offsetof(cx_env, groups));
    memset((char *) env + offsetof(cx_env, nroutes), 0, sizeof *env - offsetof(cx_env, nroutes));
}

int cx_decoder_decode(cx_decoder *self, const void *buf, size_t len, cx_env *env)
{
    clear(env);
    self->error[0] = '\0';
    if (len == 0)
        return fail(self, "empty envelope");
    if (len > CX_PROTO_MAX_ENVELOPE)
        return fail(self, "oversized: envelope larger than the limit");
    if (!cx_mp_well_formed(buf, len))
        return fail(self, "garbage: not one well-formed msgpack value");
    if (self->zone_used) {
        msgpack_zone_clear(&self->zone);
        self->zone_used = 0;
    }
    cx_mp_cursor c = { buf };
    uint32_t n;
    if (cx_mp_array(&c, &n) || n < 2)
        return fail(self, "garbage: not an envelope array");
    uint64_t version, type;
    if (cx_mp_uint(&c, 255, &version) || version != CX_PROTO_VERSION)
        return fail(self, "version: unsupported protocol version (expected %d)", CX_PROTO_VERSION);
    if (cx_mp_uint(&c, CX_ENV_TYPE_MAX - 1, &type) || type == 0)
        return fail(self, "type: unknown envelope type");
    env->type = (cx_env_type) type;
    const char *layout = LAYOUTS[type];
    size_t nfields = n - 2;
    if (nfields > layout_fields(layout) || nfields < layout_required(layout))
        return fail(self, "%s: wrong number of fields", cx_env_type_name(env->type));
    const char *l = layout;
    for (int i = 0; (size_t) i < nfields; i++, l++) {
        if (*l == '|')
            l++;
        if (decode_field(self, &c, env, *l, 2 + i))
            return -1;
    }
    return 0;
}

int cx_env_peek_type(const void *buf, size_t len)
{
    const unsigned char *b = buf;
    /* the encoder's array header for an envelope is a fixarray (at most 15 elements: every layout) or an
     * array16; version and type are positive fixints */
    size_t at = len > 0 && (b[0] & 0xf0) == 0x90 ? 1 : len > 2 && b[0] == 0xdc ? 3 : 0;
    if (!at || len < at + 2 || b[at] != CX_PROTO_VERSION || b[at + 1] == 0 || b[at + 1] >= CX_ENV_TYPE_MAX)
        return -1;
    return b[at + 1];
}
