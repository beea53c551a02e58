/*
 * topic_name.c — topic patterns and topic → group names (see topic_name.h).
 *
 * A pattern is kept as alternating parts: literal, parameter, literal, ...
 * (Python's _PARAM_RE.split gives the same list). Matching walks them with a
 * small backtracking search, longest value first, which is what Python's
 * greedy "[^:]+" does; patterns are the developer's and have few parameters,
 * and topics are capped by the caller, so the search stays small.
 *
 * The digest is BLAKE2s from libb2 (Debian's libb2-dev), whose blake2s()
 * takes the output length, as hashlib.blake2s(digest_size=6) does.
 */
#include "common/topic_name.h"

#include <blake2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cx_topic_pattern {
    char *text;
    size_t nparts;                      /* literals and parameters, alternating, literal first */
    char *parts[2 * CX_TOPIC_MAX_PARAMS + 1];
};

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int add_part(cx_topic_pattern *self, const char *s, size_t n)
{
    return (self->parts[self->nparts++] = strndup(s, n)) ? 0 : -1;
}

static int param_known(const cx_topic_pattern *self, const char *s, size_t n)
{
    for (size_t i = 1; i < self->nparts; i += 2)
        if (strlen(self->parts[i]) == n && !memcmp(self->parts[i], s, n))
            return 1;
    return 0;
}

/* Splits text into literal/parameter parts; NULL on the first problem, described in err. */
static const char *split(cx_topic_pattern *self, const char *text)
{
    const char *lit = text;
    for (const char *p = text; *p; p++) {
        if (*p != '{')
            continue;
        const char *name = p + 1, *end = name;
        while (is_word(*end))
            end++;
        if (*end != '}')
            return *end ? "a parameter name may hold only letters, digits and '_'" : "unclosed '{'";
        if (end == name)
            return "empty '{}'";
        if (self->nparts > 0 && p == lit)
            return "two parameters side by side";
        if (self->nparts >= 2 * CX_TOPIC_MAX_PARAMS)
            return "too many parameters";
        if (param_known(self, name, (size_t) (end - name)))
            return "a parameter named twice";
        if (add_part(self, lit, (size_t) (p - lit)) || add_part(self, name, (size_t) (end - name)))
            return "out of memory";
        lit = p = end;
        lit++;
    }
    return add_part(self, lit, strlen(lit)) ? "out of memory" : NULL;
}

cx_topic_pattern *cx_topic_pattern_new(const char *pattern, char *err, size_t errlen)
{
    if (!pattern || !*pattern)
        return snprintf(err, errlen, "empty topic pattern"), NULL;
    cx_topic_pattern *self = calloc(1, sizeof *self);
    const char *why = self && (self->text = strdup(pattern)) ? split(self, pattern) : "out of memory";
    if (why) {
        snprintf(err, errlen, "topic pattern '%.64s': %s", pattern, why);
        cx_topic_pattern_destroy(&self);
    }
    return self;
}

void cx_topic_pattern_destroy(cx_topic_pattern **self_p)
{
    cx_topic_pattern *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nparts; i++)
        free(self->parts[i]);
    free(self->text);
    free(self);
    *self_p = NULL;
}

const char *cx_topic_pattern_text(const cx_topic_pattern *self)
{
    return self->text;
}

size_t cx_topic_pattern_nparams(const cx_topic_pattern *self)
{
    return self->nparts / 2;
}

const char *cx_topic_pattern_param(const cx_topic_pattern *self, size_t i)
{
    return i < self->nparts / 2 ? self->parts[2 * i + 1] : NULL;
}

/* Matches parts[k..] against s[0..n); spans[] gets each parameter's (offset, length). */
static int match_from(const cx_topic_pattern *self, size_t k, const char *s, size_t n, size_t off, size_t *spans)
{
    const char *lit = self->parts[k];
    size_t ll = strlen(lit);
    if (n - off < ll || memcmp(s + off, lit, ll))
        return 0;
    off += ll;
    if (k + 1 == self->nparts)
        return off == n;
    size_t run = 0;   /* the longest value a parameter may take here: no ':' */
    while (off + run < n && s[off + run] != ':')
        run++;
    for (size_t len = run; len >= 1; len--) {
        spans[k] = off, spans[k + 1] = len;
        if (match_from(self, k + 2, s, n, off + len, spans))
            return 1;
    }
    return 0;
}

int cx_topic_pattern_match(const cx_topic_pattern *self, const char *topic, size_t len, json_t *params)
{
    size_t spans[2 * CX_TOPIC_MAX_PARAMS + 1];
    if (!match_from(self, 0, topic, len, 0, spans))
        return 0;
    for (size_t k = 1; params && k < self->nparts; k += 2)
        json_object_set_new(params, self->parts[k], json_stringn(topic + spans[k - 1], spans[k]));
    return 1;
}

/* One value as text: strings as they are, integers in decimal (Python's str.format). */
static int value_text(const json_t *v, char *buf, size_t cap, const char **out)
{
    if (json_is_string(v))
        return *out = json_string_value(v), 0;
    if (json_is_integer(v))
        return snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), *out = buf, 0;
    return -1;
}

char *cx_topic_pattern_fill(const cx_topic_pattern *self, const json_t *values, char *err, size_t errlen)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f)
        return snprintf(err, errlen, "out of memory"), NULL;
    int ok = 1;
    for (size_t k = 0; k < self->nparts && ok; k++) {
        char num[32];
        const char *text = self->parts[k];
        if (k % 2 && value_text(json_object_get(values, self->parts[k]), num, sizeof num, &text)) {
            snprintf(err, errlen, "topic pattern '%s' needs the URL parameter '%s'", self->text, self->parts[k]);
            ok = 0;
        }
        fputs(text, f);
    }
    fclose(f);
    if (!ok)
        free(out), out = NULL;
    return out;
}

static int safe_char(unsigned char c)
{
    return is_word((char) c) || c == '.' || c == '-';
}

/* _slug(): runs of unsafe characters become one '-', then '-' is stripped at both ends. Appends
 * to out (which has room for n more bytes), returns the bytes written. */
static size_t slug(const char *s, size_t n, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (safe_char((unsigned char) s[i])) {
            out[w++] = s[i++];
            continue;
        }
        while (i < n && !safe_char((unsigned char) s[i]))
            i++;
        out[w++] = '-';
    }
    size_t start = 0;
    while (start < w && out[start] == '-')
        start++;
    while (w > start && out[w - 1] == '-')
        w--;
    memmove(out, out + start, w - start);
    return w - start;
}

/* Chanx's name before its length bound: the namespace's slug, '.', the topic's slug (malloc'd; its
 * length in *w, 0 when nothing survives). NULL when out of memory. */
static char *full_name(const char *topic, size_t len, const char *ns, size_t *w_out)
{
    size_t nslen = ns ? strlen(ns) : 0;
    char *name = malloc(nslen + len + 2);
    if (!name)
        return NULL;
    size_t w = ns ? slug(ns, nslen, name) : 0;
    if (w)
        name[w++] = '.';
    size_t t = slug(topic, len, name + w);
    *w_out = t ? w + t : (w ? w - 1 : 0);   /* an empty segment is dropped, and its '.' with it */
    return name;
}

enum { DIGEST = 6, KEEP = CX_TOPIC_MAX_GROUP - 2 * DIGEST - 1 };

/* out = the first min(keep, KEEP) characters of name, '.', and the 12-hex BLAKE2s digest of bytes. */
static void digest_form(char *out, const char *name, size_t keep, const void *bytes, size_t n)
{
    uint8_t digest[DIGEST];
    blake2s(digest, bytes, NULL, DIGEST, n, 0);
    keep = keep < KEEP ? keep : KEEP;
    memcpy(out, name, keep);
    out[keep] = '.';
    for (int i = 0; i < DIGEST; i++)
        snprintf(out + keep + 1 + 2 * i, 3, "%02x", digest[i]);
}

int cx_topic_group_name(const char *topic, size_t len, const char *ns, char out[CX_TOPIC_MAX_GROUP + 1])
{
    size_t w = 0;
    char *name = full_name(topic, len, ns, &w);
    if (!name || w == 0)
        return free(name), -1;
    if (w <= CX_TOPIC_MAX_GROUP) {
        memcpy(out, name, w);
        out[w] = '\0';
    } else {
        digest_form(out, name, KEEP, name, w);
    }
    free(name);
    return 0;
}

/* ------------------------------------------------------------ one group, one topic */

typedef struct {
    const cx_topic_pattern *pattern;
    const char *topic, *group;   /* the topic and its slug, both len bytes */
    size_t len;
    unsigned char *memo;         /* per (literal, offset, differs): 0 unknown, 1 no, 2 yes */
} other_search;

/* Whether parts[k..] (k a literal) can spell group[off..) as the slug of a topic that differs from
 * ours (differs: it already does before off). Such a topic has the pattern's literals and, in its
 * parameters, the group's characters themselves (a parameter holds no ':', so the only topics that
 * may share the group are made of safe characters there). Memoized: O(parts x len^2) at worst. */
static int other_topic_from(const other_search *s, size_t k, size_t off, int differs)
{
    unsigned char *seen = &s->memo[((k / 2) * (s->len + 1) + off) * 2 + (size_t) differs];
    if (*seen)
        return *seen == 2;
    const char *lit = s->pattern->parts[k];
    size_t ll = strlen(lit);
    int found = 0;
    if (s->len - off >= ll) {
        int ok = 1;
        for (size_t i = 0; i < ll && ok; i++) {
            ok = safe_char((unsigned char) lit[i]) ? s->group[off + i] == lit[i] : s->group[off + i] == '-';
            differs |= s->topic[off + i] != lit[i];
        }
        off += ll;
        if (!ok)
            found = 0;
        else if (k + 1 == s->pattern->nparts)
            found = off == s->len && differs;
        else
            for (size_t end = off + 1, d = (size_t) differs; end <= s->len && !found; end++) {
                d |= s->topic[end - 1] != s->group[end - 1];
                found = other_topic_from(s, k + 2, end, (int) d);
            }
    }
    *seen = found ? 2 : 1;
    return found;
}

int cx_topic_group_is_own(const cx_topic_pattern *self, const char *topic, size_t len)
{
    if (len == 0 || memchr(topic, '\0', len))
        return 0;
    char *group = malloc(len);
    unsigned char *memo = calloc((self->nparts / 2 + 1) * (len + 1) * 2, 1);
    int own = 0;
    if (group && memo && slug(topic, len, group) == len) {   /* no run collapsed, nothing stripped */
        other_search s = { self, topic, group, len, memo };
        own = !other_topic_from(&s, 0, 0, 0);
    }
    free(group);
    free(memo);
    return own;
}

/* Whether name (w characters) ends as digest_form's names do: '.' and 12 lower-case hex digits. */
static int digest_shaped(const char *name, size_t w)
{
    if (w < 2 * DIGEST + 1 || name[w - 2 * DIGEST - 1] != '.')
        return 0;
    for (size_t i = w - 2 * DIGEST; i < w; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return 1;
}

int cx_topic_group_of(const cx_topic_pattern *self, const char *topic, size_t len, const char *ns,
                      char out[CX_TOPIC_MAX_GROUP + 1])
{
    size_t w = 0;
    char *name = full_name(topic, len, ns, &w);
    if (!name)
        return -1;
    int own = cx_topic_group_is_own(self, topic, len), rc = 0;
    if (own && w > CX_TOPIC_MAX_GROUP)
        digest_form(out, name, KEEP, name, w);   /* Chanx's long name */
    else if (own && w > 0 && !digest_shaped(name, w)) {
        memcpy(out, name, w);
        out[w] = '\0';
    } else if (own) {
        rc = -1;   /* nothing survives, or a short name shaped as a digest name: another group's */
    } else {
        /* a spelling whose Chanx name another topic also has: a name of its own, the digest of the
         * namespace and the topic as written (NUL-separated), after what survives of Chanx's */
        size_t nslen = ns ? strlen(ns) : 0;
        char *raw = malloc(nslen + 1 + len);
        if (!raw)
            rc = -1;
        else {
            if (nslen)
                memcpy(raw, ns, nslen);
            raw[nslen] = '\0';
            memcpy(raw + nslen + 1, topic, len);
            const char *prefix = w ? name : "topic";
            digest_form(out, prefix, w ? w : 5, raw, nslen + 1 + len);
            free(raw);
        }
    }
    free(name);
    return rc;
}
