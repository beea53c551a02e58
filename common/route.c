/*
 * route.c — Django URL patterns compiled to PCRE2 (see route.h for the rules).
 *
 * Every route, path() or re_path(), becomes one PCRE2 program compiled
 * anchored at both ends. Translating path() converters to regex text (as
 * Django's _route_to_regex does) means one matcher, one kwargs extractor and
 * one join rule for every combination of prefix and relative route: joining is
 * building text and compiling it again, so a joined route is by construction
 * the same as the route the gateway rebuilds from its (kind, pattern) row.
 *
 * The only thing regex text cannot say is "this group is an integer", so an
 * <int:> group carries the no-op comment (?#int) right after its name and the
 * kwargs extractor looks for it. Group names come from PCRE2's name table, not
 * from parsing the pattern, so the comment lookup is the only text scanning.
 *
 * The table of routes (first match wins) and path decoding are in router.c.
 *
 * Match data is allocated per match: routes are matched once per connection,
 * and a route shared by threads must not share scratch space.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/route.h"

#include <ctype.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generous for any sane route, small enough that a pathological regex on a
 * 4 KiB path fails in milliseconds instead of stalling a gateway thread. */
enum { MATCH_LIMIT = 200000, DEPTH_LIMIT = 10000, HEAP_LIMIT_KIB = 2048 };
/* Two samples per converter, chosen so that no other converter accepts both. */
enum { NSAMPLES = 2 };

static const char INT_MARK[] = "(?#int)";

typedef struct {
    const char *name;
    const char *regex;
    const char *sample[NSAMPLES];
} converter;

static const converter converters[] = {
    {"str", "[^/]+", {"a", "Zz.~9"}},
    {"int", "(?#int)[0-9]+", {"1", "98765"}},
    {"slug", "[-a-zA-Z0-9_]+", {"a", "Z-9_"}},
    {"uuid", "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
     {"12345678-1234-5678-1234-567812345678", "abcdef01-2345-6789-abcd-ef0123456789"}},
    {"path", ".+", {"a/b", "Zz.~/9 y"}},
};

typedef struct {
    const char *name;   /* into the compiled code's name table; NULL when unnamed */
    int is_int;
} group_info;

struct cx_route {
    cx_route_kind kind;
    char *pattern;              /* as given */
    char *regex;                /* path routes: the translated regex */
    char *samples[NSAMPLES];    /* path routes only */
    pcre2_code *code;
    pcre2_match_context *mctx;
    uint32_t ngroups;
    group_info *groups;         /* indexed by group number, [0] unused */
};


/* ---- small helpers ---- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = b->oom || cap == b->cap ? b->p : realloc(b->p, cap);
    if (b->oom || !p) {
        b->oom = 1;
        return;
    }
    b->p = p, b->cap = cap;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        b->oom = 1;
    else
        sb_put(b, s, (size_t) n);
    free(s);
}

/* Returns -1 so that "return set_err(...)" reports and fails in one go. */
static int set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_ident(char c, int first)
{
    return c == '_' || isalpha((unsigned char) c) || (!first && isdigit((unsigned char) c));
}

/* A Python identifier (ASCII), as Django requires of path() parameter names. */
static int valid_identifier(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_ident(s[i], i == 0))
        i++;
    return n > 0 && i == n;
}

/* ---- path() → regex ---- */

typedef struct {
    sbuf regex;
    sbuf sample[NSAMPLES];
} translation;

static void put_literal(translation *t, char c)
{
    /* A backslash before ASCII punctuation is always a literal in PCRE2; '/',
     * '-' and '_' stay bare to keep logged regexes readable. */
    if ((unsigned char) c < 0x80 && !isalnum((unsigned char) c) && c != '/' && c != '-' && c != '_')
        sb_put(&t->regex, "\\", 1);
    sb_put(&t->regex, &c, 1);
    for (int k = 0; k < NSAMPLES; k++)
        sb_put(&t->sample[k], &c, 1);
}

static const converter *find_converter(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof converters / sizeof converters[0]; i++)
        if (strlen(converters[i].name) == n && memcmp(converters[i].name, name, n) == 0)
            return &converters[i];
    return NULL;
}

/* One "<conv:name>" or "<name>"; s/n is the text between the brackets. */
static int translate_param(translation *t, const char *s, size_t n, const char *pattern,
                           char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    const char *conv = "str", *name = s;
    size_t conv_len = 3, name_len = n;
    if (colon) {
        conv = s;
        conv_len = (size_t) (colon - s);
        name = colon + 1;
        name_len = n - conv_len - 1;
    }
    const converter *c = find_converter(conv, conv_len);
    if (!c)
        return set_err(err, errlen, "bad converter '%.*s' in '%s'", (int) conv_len, conv, pattern);
    if (!valid_identifier(name, name_len))
        return set_err(err, errlen, "bad parameter name '%.*s' in '%s'", (int) name_len, name, pattern);
    sb_printf(&t->regex, "(?P<%.*s>%s)", (int) name_len, name, c->regex);
    for (int k = 0; k < NSAMPLES; k++)
        sb_printf(&t->sample[k], "%s", c->sample[k]);
    return 0;
}

static int translate_path(translation *t, const char *pattern, char *err, size_t errlen)
{
    if (pattern[0] == '/')
        return set_err(err, errlen, "path pattern '%s' starts with '/' (paths are matched without it)", pattern);
    sb_put(&t->regex, "", 0);
    for (int k = 0; k < NSAMPLES; k++)
        sb_put(&t->sample[k], "", 0);
    for (const char *p = pattern; *p;) {
        if (*p == '<') {
            const char *end = strchr(p, '>');
            if (!end)
                return set_err(err, errlen, "unterminated '<' in '%s'", pattern);
            if (translate_param(t, p + 1, (size_t) (end - p - 1), pattern, err, errlen) < 0)
                return -1;
            p = end + 1;
        } else if (*p == '>') {
            return set_err(err, errlen, "stray '>' in '%s'", pattern);
        } else {
            put_literal(t, *p++);
        }
    }
    return 0;
}

/* ---- compiling ---- */

static int compile(cx_route *self, const char *regex, char *err, size_t errlen)
{
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED | PCRE2_ENDANCHORED
                  | PCRE2_DUPNAMES | PCRE2_NEVER_BACKSLASH_C;
    int code;
    PCRE2_SIZE offset;
    self->code = pcre2_compile((PCRE2_SPTR) regex, PCRE2_ZERO_TERMINATED, opts, &code, &offset, NULL);
    if (!self->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        if (self->kind == CX_ROUTE_REGEX)
            return set_err(err, errlen, "bad regex '%s' at offset %zu: %s", self->pattern, (size_t) offset,
                           (char *) msg);
        return set_err(err, errlen, "bad path pattern '%s': %s", self->pattern, (char *) msg);
    }
    if (!(self->mctx = pcre2_match_context_create(NULL)))
        return set_err(err, errlen, "out of memory");
    pcre2_set_match_limit(self->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(self->mctx, DEPTH_LIMIT);
    pcre2_set_heap_limit(self->mctx, HEAP_LIMIT_KIB);
    return 0;
}

/* Is lt (a '<') the start of a group name, "(?P<" or "(?<"? */
static int is_name_opener(const char *regex, const char *lt)
{
    return (lt - regex >= 3 && memcmp(lt - 3, "(?P", 3) == 0)
        || (lt - regex >= 2 && memcmp(lt - 2, "(?", 2) == 0);
}

/* Finds the group whose name is followed by INT_MARK at m: it is the k-th
 * group of that name, k counted in pattern order, which is group-number order. */
static void mark_int_group(cx_route *self, const char *regex, const char *m)
{
    const char *gt = m - 1, *start = gt;
    if (m == regex || *gt != '>')
        return;
    while (start > regex && is_ident(start[-1], 0))
        start--;
    size_t len = (size_t) (gt - start);
    const char *lt = start - 1;
    if (len == 0 || lt < regex || *lt != '<' || !is_name_opener(regex, lt))
        return;
    size_t k = 0;
    for (const char *q = regex; q < lt; q++)
        if (*q == '<' && is_name_opener(regex, q) && strncmp(q + 1, start, len) == 0 && q[1 + len] == '>')
            k++;
    for (uint32_t g = 1; g <= self->ngroups; g++) {
        const char *name = self->groups[g].name;
        if (name && strlen(name) == len && memcmp(name, start, len) == 0 && k-- == 0) {
            self->groups[g].is_int = 1;
            return;
        }
    }
}

static int index_groups(cx_route *self, const char *regex)
{
    uint32_t namecount = 0, entrysize = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(self->code, PCRE2_INFO_CAPTURECOUNT, &self->ngroups);
    pcre2_pattern_info(self->code, PCRE2_INFO_NAMECOUNT, &namecount);
    pcre2_pattern_info(self->code, PCRE2_INFO_NAMEENTRYSIZE, &entrysize);
    pcre2_pattern_info(self->code, PCRE2_INFO_NAMETABLE, &table);
    self->groups = calloc(self->ngroups + 1, sizeof *self->groups);
    if (!self->groups)
        return -1;
    for (uint32_t i = 0; i < namecount; i++) {
        PCRE2_SPTR e = table + (size_t) i * entrysize;
        uint32_t g = ((uint32_t) e[0] << 8) | e[1];
        if (g <= self->ngroups)
            self->groups[g].name = (const char *) e + 2;
    }
    for (const char *m = strstr(regex, INT_MARK); m; m = strstr(m + 1, INT_MARK))
        mark_int_group(self, regex, m);
    return 0;
}

cx_route *cx_route_new(cx_route_kind kind, const char *pattern, char *err, size_t errlen)
{
    if (!pattern || (kind != CX_ROUTE_PATH && kind != CX_ROUTE_REGEX)) {
        set_err(err, errlen, "no pattern or unknown route kind");
        return NULL;
    }
    cx_route *self = calloc(1, sizeof *self);
    translation t = {0};
    if (!self || !(self->pattern = strdup(pattern)))
        goto oom;
    self->kind = kind;
    const char *regex = pattern;
    if (kind == CX_ROUTE_PATH) {
        if (translate_path(&t, pattern, err, errlen) < 0)
            goto fail;
        if (t.regex.oom || t.sample[0].oom || t.sample[1].oom)
            goto oom;
        regex = self->regex = t.regex.p;
        for (int k = 0; k < NSAMPLES; k++)
            self->samples[k] = t.sample[k].p;
        t = (translation) {0};
    }
    if (compile(self, regex, err, errlen) < 0)
        goto fail;
    if (index_groups(self, regex) < 0)
        goto oom;
    /* A path() route must match its own example paths. One that cannot within the backtracking
     * limits (several adjacent converters: "<a><b><c><uuid:d>" backtracks in O(n^4)) would refuse
     * every real path too, silently; Django would match them, slowly. Found by tests/fuzz/fuzz_route. */
    for (int k = 0; kind == CX_ROUTE_PATH && k < NSAMPLES; k++)
        if (self->samples[k] && !cx_route_match(self, self->samples[k], strlen(self->samples[k]), NULL)) {
            set_err(err, errlen, "path pattern '%s' cannot match its own example path '%s': put a literal "
                    "(such as '/') between adjacent converters, and give parameters different names", pattern,
                    self->samples[k]);
            goto fail;
        }
    return self;
oom:
    set_err(err, errlen, "out of memory");
fail:
    free(t.regex.p);
    for (int k = 0; k < NSAMPLES; k++)
        free(t.sample[k].p);
    cx_route_destroy(&self);
    return NULL;
}

/* A route as a piece of a larger regex: path routes by their translation,
 * regexes without their start anchor and grouped so alternations and inline
 * options stay inside. */
static void put_regex_piece(sbuf *b, const cx_route *r)
{
    const char *p = r->kind == CX_ROUTE_PATH ? r->regex : r->pattern;
    if (r->kind == CX_ROUTE_PATH)
        sb_printf(b, "%s", p);
    else if (*(p += *p == '^' ? 1 : strncmp(p, "\\A", 2) == 0 ? 2 : 0))
        sb_printf(b, "(?:%s)", p);
}

cx_route *cx_route_join(const cx_route *prefix, const cx_route *relative, char *err, size_t errlen)
{
    if (!prefix || !relative) {
        set_err(err, errlen, "nothing to join");
        return NULL;
    }
    sbuf b = {0};
    cx_route_kind kind = CX_ROUTE_PATH;
    if (prefix->kind == CX_ROUTE_PATH && relative->kind == CX_ROUTE_PATH) {
        sb_printf(&b, "%s%s", prefix->pattern, relative->pattern);
    } else {
        kind = CX_ROUTE_REGEX;
        sb_printf(&b, "^");
        put_regex_piece(&b, prefix);
        put_regex_piece(&b, relative);
    }
    cx_route *self = b.oom ? NULL : cx_route_new(kind, b.p, err, errlen);
    if (b.oom)
        set_err(err, errlen, "out of memory");
    free(b.p);
    return self;
}

void cx_route_destroy(cx_route **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_route *self = *self_p;
    pcre2_match_context_free(self->mctx);
    pcre2_code_free(self->code);
    free(self->groups);
    for (int k = 0; k < NSAMPLES; k++)
        free(self->samples[k]);
    free(self->regex);
    free(self->pattern);
    free(self);
    *self_p = NULL;
}

const char *cx_route_pattern(const cx_route *self)
{
    return self ? self->pattern : NULL;
}

cx_route_kind cx_route_kind_of(const cx_route *self)
{
    return self ? self->kind : CX_ROUTE_PATH;
}

char *cx_route_sample(const cx_route *self)
{
    return self && self->samples[0] ? strdup(self->samples[0]) : NULL;
}

/* ---- matching ---- */

/* Decimal digits only, as the int converter's regex guarantees; int64 range. */
static int parse_int64(const char *s, size_t n, json_int_t *out)
{
    if (n == 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char) s[i]))
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = (json_int_t) v;
    return 0;
}

/* Walks the groups that took part; an int group that does not fit means the
 * route does not match (Django: a converter's ValueError is "no match"). */
static int collect_kwargs(const cx_route *self, const char *path, const PCRE2_SIZE *ov,
                          uint32_t ngot, json_t *obj)
{
    for (uint32_t g = 1; g < ngot && g <= self->ngroups; g++) {
        const group_info *gi = &self->groups[g];
        PCRE2_SIZE s = ov[2 * g], e = ov[2 * g + 1];
        if (!gi->name || s == PCRE2_UNSET)
            continue;
        if (e < s)   /* \K games inside a lookaround */
            e = s;
        json_int_t iv = 0;
        if (gi->is_int && parse_int64(path + s, e - s, &iv) < 0)
            return -1;
        if (!obj)
            continue;
        json_t *v = gi->is_int ? json_integer(iv) : json_stringn(path + s, e - s);
        if (!v || json_object_set_new(obj, gi->name, v) < 0)
            return -1;
    }
    return 0;
}

int cx_route_match(const cx_route *self, const char *path, size_t len, json_t **kwargs)
{
    if (kwargs)
        *kwargs = NULL;
    if (!self || !path)
        return 0;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(self->code, NULL);
    if (!md)
        return 0;
    /* Without PCRE2_NO_UTF_CHECK: invalid UTF-8 from a caller is "no match". */
    int rc = pcre2_match(self->code, (PCRE2_SPTR) path, len, 0, 0, md, self->mctx);
    json_t *obj = rc > 0 && kwargs ? json_object() : NULL;
    int ok = rc > 0 && (!kwargs || obj)
          && collect_kwargs(self, path, pcre2_get_ovector_pointer(md), (uint32_t) rc, obj) == 0;
    pcre2_match_data_free(md);
    if (!ok) {
        json_decref(obj);
        return 0;
    }
    if (kwargs)
        *kwargs = obj;
    return 1;
}

/* ---- hiding ---- */

static int matches_samples(const cx_route *earlier, const cx_route *later)
{
    for (int k = 0; k < NSAMPLES; k++)
        if (!cx_route_match(earlier, later->samples[k], strlen(later->samples[k]), NULL))
            return 0;
    return 1;
}

int cx_route_hides(const cx_route *earlier, const cx_route *later)
{
    if (earlier->kind == later->kind && strcmp(earlier->pattern, later->pattern) == 0)
        return 1;
    return later->samples[0] && matches_samples(earlier, later);
}
