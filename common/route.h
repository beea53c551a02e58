/*
 * route.h — Django-style WebSocket URL patterns (path(), re_path(), include()).
 *
 * Chanx consumers are routed the way Channels' URLRouter routes them, so a
 * routing table written for Django reads the same here. The gateway matches
 * every new connection against the table; workers compile the same patterns
 * to validate them before announcing them. Both sides must agree bit for bit,
 * which is why a route travels as (kind, pattern text) and every route, even a
 * composed one, can be rebuilt from exactly that pair.
 *
 * Semantics, and where they differ from Django:
 *  - Paths are matched without the leading '/', already percent-decoded once
 *    (as scope["path"] is). "%2F" decodes to '/', which <str:> does not cross,
 *    as in Django. A decoded value is never decoded again: "%2541" gives "%41".
 *  - path(): "<conv:name>" or "<name>" (conv = str); converters str [^/]+,
 *    int [0-9]+ (delivered as a JSON integer; a value overflowing int64 is no
 *    match), slug [-a-zA-Z0-9_]+, uuid (lowercase only, as Django), path .+.
 *    The pattern must match the whole path. There is no trailing-slash
 *    redirect for WebSockets: "ws/echo" does not match "ws/echo/".
 *    A path pattern may not start with '/' (it could never match).
 *  - re_path(): a PCRE2 regex (UTF, Unicode properties, (?P<name>...) named
 *    groups). It is always anchored at the start (a leading '^' is allowed and
 *    redundant) and must consume the whole path: every route here is an
 *    endpoint, and Channels only dispatches to an endpoint when nothing of the
 *    path remains. Named groups become string kwargs; unnamed groups are
 *    ignored. A group written "(?P<name>(?#int)...)" is delivered as an
 *    integer: that is how a path() <int:> converter keeps its type once it has
 *    been joined under a regex prefix (see below). Duplicate group names are
 *    allowed; the last group that participated wins, like Django's kwargs
 *    merge. Match, depth and heap limits are set, so a catastrophic regex
 *    gives "no match" instead of stalling the gateway.
 *  - include(): cx_route_join(prefix, relative). Two path patterns join as
 *    text ("ws/<str:tenant>/chat/" + "<str:room_id>/") and stay a path route.
 *    If either side is a regex the result is one regex: path parts are
 *    translated, regex parts lose one leading '^' and are wrapped in (?:...).
 *    Kwargs of both parts are merged, the relative part winning on a clash.
 */
#ifndef CX_COMMON_ROUTE_H
#define CX_COMMON_ROUTE_H

#include <jansson.h>
#include <stddef.h>

/* Values are the wire values of the route table's kind byte (proto/envelope.h). */
typedef enum { CX_ROUTE_PATH = 0, CX_ROUTE_REGEX = 1 } cx_route_kind;

/* Longest raw request path cx_router_match looks at, by default. */
#define CX_ROUTE_DEFAULT_MAX_PATH 4096

typedef struct cx_route cx_route;

/* Compiles a pattern; NULL and a message in err on error, e.g.
 * "bad converter 'itn' in '<itn:id>/'" or "bad regex '(' at offset 1: ...". */
cx_route *cx_route_new(cx_route_kind kind, const char *pattern, char *err, size_t errlen);
/* Joins a mount prefix and a relative route (either kind each), as include() does. */
cx_route *cx_route_join(const cx_route *prefix, const cx_route *relative, char *err, size_t errlen);
void cx_route_destroy(cx_route **self_p);
/* The full pattern text: what logs show and what the route table carries. */
const char *cx_route_pattern(const cx_route *self);
cx_route_kind cx_route_kind_of(const cx_route *self);
/* Matches an already percent-decoded path (no leading slash). On a match
 * returns 1 and, when kwargs is not NULL, sets *kwargs to a new JSON object of
 * the URL kwargs (the caller owns it). Returns 0 otherwise (*kwargs = NULL). */
int cx_route_match(const cx_route *self, const char *path, size_t len, json_t **kwargs);
/* A path this route matches, built from fixed converter samples (str "a",
 * int "1", slug "a", uuid "12345678-1234-5678-1234-567812345678", path "a/b").
 * Used to find routes hidden by earlier ones. Caller frees; NULL for regexes. */
char *cx_route_sample(const cx_route *self);
/* Whether earlier hides later in a table: an identical pattern, or one that
 * matches every sample of later (see cx_router_hidden_by). */
int cx_route_hides(const cx_route *earlier, const cx_route *later);

/* Percent-decodes exactly once into out (NUL-terminated). Returns the decoded
 * length, or -1 on a bad escape ("%zz", "%4"), a raw or decoded NUL, invalid
 * UTF-8 (overlong, surrogate, truncated) or when out is too small. */
int cx_path_decode(const char *in, size_t len, char *out, size_t outlen);

/* An ordered list of (route, target); the first match wins, as in Django. */
typedef struct cx_router cx_router;

cx_router *cx_router_new(void);
void cx_router_destroy(cx_router **self_p);
/* Appends; takes ownership of route, even on failure. Returns 0 or -1. */
int cx_router_add(cx_router *self, cx_route *route, const char *target);
/* Compiles and appends a (kind, pattern, target) row, as the gateway rebuilds
 * the table the broker sends it. Returns 0, or -1 with a message in err. */
int cx_router_add_pattern(cx_router *self, cx_route_kind kind, const char *pattern,
                          const char *target, char *err, size_t errlen);
/* Raw paths longer than this (bytes, before decoding) never match. */
void cx_router_set_max_path(cx_router *self, size_t max);
/* Matches a raw request path ("/ws/chat/x/", percent-encoded; anything from a
 * '?' on is ignored): strips one leading '/', decodes once, tries the routes
 * in order. Returns the target (borrowed) and *kwargs (owned), or NULL. */
const char *cx_router_match(const cx_router *self, const char *raw_path, size_t len, json_t **kwargs);
size_t cx_router_size(const cx_router *self);
/* Entry i (borrowed), for sending the table on; NULL when out of range. */
const cx_route *cx_router_route(const cx_router *self, size_t i);
const char *cx_router_target(const cx_router *self, size_t i);
/* The index of the earliest route that hides route i — an identical pattern,
 * or one that matches every sample of route i — or -1. Samples vary each
 * converter twice so that, e.g., an earlier <slug:> does not count as hiding
 * a later <str:>; a later regex route is only caught when identical. */
long cx_router_hidden_by(const cx_router *self, size_t i);
/* The first route hidden by an earlier one: its index, with the pair described
 * in err; -1 when none is. */
long cx_router_find_hidden(const cx_router *self, char *err, size_t errlen);

#endif
