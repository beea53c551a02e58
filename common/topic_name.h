/*
 * topic_name.h — topic patterns ("room:{name}") and the group a topic maps to.
 *
 * A topic is a subscribable stream on a connection (Chanx 2.10's Topic,
 * chanx/core/topic.py). Workers match a subscribe frame's topic against the
 * patterns their consumers declare; publishers (chanx-api, chanx-admin
 * publish, a consumer's chanx_topic_publish) name the same topic. Both must
 * land on one channel group, so the mapping lives here once, exactly as
 * Chanx's code does it:
 *
 *  - Pattern: "{param}" placeholders (names of [A-Za-z0-9_]) between literal
 *    text. A parameter matches one or more characters other than ':' (so
 *    "run:{id}" cannot swallow a following segment); the whole topic must
 *    match. Chanx compiles "^" + escaped literals + "(?P<p>[^:]+)" + "$"; this
 *    matcher backtracks the same way (greedy), so "a:{x}-{y}" splits
 *    "a:p-q-r" as x="p-q", y="r" in both.
 *  - Group: safe_group_name(topic, namespace=<the topic's declared name>)
 *    (chanx/utils/groups.py): in each segment every run of characters outside
 *    [A-Za-z0-9._-] becomes one '-', leading and trailing '-' are stripped,
 *    empty segments are dropped, the rest joined with '.'. A name over 99
 *    characters (Chanx's MAX_GROUP_NAME_LENGTH) keeps its first 86 and gets
 *    '.' plus the 12-hex BLAKE2s digest (digest_size=6, Python's
 *    hashlib.blake2s(name.encode(), digest_size=6)) of the whole name: 99
 *    characters, deterministic and distinct for names sharing a prefix.
 *    "room:lobby" declared as "RoomTopic" is the group "RoomTopic.room-lobby".
 *  - One group per topic (cx_topic_group_of, what subscribers and publishers
 *    use): Chanx's slug gives "room:!staff" the group of "room:staff", and a
 *    consumer's authorize judges the spelling it is shown, so a topic keeps
 *    Chanx's name only when it is the one topic of its pattern with that name;
 *    another spelling is named by a digest of the topic as written.
 */
#ifndef CX_COMMON_TOPIC_NAME_H
#define CX_COMMON_TOPIC_NAME_H

#include <stddef.h>
#include <jansson.h>

#define CX_TOPIC_MAX_GROUP 99   /* Chanx's MAX_GROUP_NAME_LENGTH */
#define CX_TOPIC_MAX_PARAMS 16

typedef struct cx_topic_pattern cx_topic_pattern;

/* Compiles pattern ("room:{name}"). NULL with a reason in err for an empty pattern, an unclosed or
 * empty "{}", a parameter name outside [A-Za-z0-9_], two parameters side by side ("{a}{b}": no
 * literal tells them apart), a parameter named twice or more than CX_TOPIC_MAX_PARAMS. */
cx_topic_pattern *cx_topic_pattern_new(const char *pattern, char *err, size_t errlen);
void cx_topic_pattern_destroy(cx_topic_pattern **self_p);
const char *cx_topic_pattern_text(const cx_topic_pattern *self);
size_t cx_topic_pattern_nparams(const cx_topic_pattern *self);
const char *cx_topic_pattern_param(const cx_topic_pattern *self, size_t i);   /* in pattern order */
/* Whether topic (len bytes, need not be NUL-terminated) matches. With params non-NULL, a match
 * sets each parameter's value as a JSON string (params is an object, borrowed). 1 or 0. */
int cx_topic_pattern_match(const cx_topic_pattern *self, const char *topic, size_t len, json_t *params);
/* Fills the pattern from values (an object of strings or integers: URL kwargs), as Python's
 * pattern.format(**params). New string, or NULL when a parameter is missing (err names it). */
char *cx_topic_pattern_fill(const cx_topic_pattern *self, const json_t *values, char *err, size_t errlen);

/* safe_group_name(topic, namespace=ns) into out (room for CX_TOPIC_MAX_GROUP + 1). 0, or -1 when
 * nothing of either survives (Chanx raises ValueError there). ns may be NULL (no namespace). */
int cx_topic_group_name(const char *topic, size_t len, const char *ns, char out[CX_TOPIC_MAX_GROUP + 1]);
/* Whether topic (which matches self) is the only topic of self whose group it names: 1, or 0 when
 * another topic of the pattern maps to the same group ("room:!staff" and "room:staff" are both
 * "room-staff", as are "room:staff-" and "room: staff"), when the slug collapses a run or strips an
 * end, or when the topic holds a NUL. A subscriber may only hold a topic that owns its group: an
 * authorize callback judges the topic it is shown, and the group must carry nothing else. */
int cx_topic_group_is_own(const cx_topic_pattern *self, const char *topic, size_t len);
/* The group a topic of self is delivered on, one per topic: Chanx's name (cx_topic_group_name) when
 * the topic owns it; for a spelling that does not (cx_topic_group_is_own: "room:!staff", "room:日本",
 * which Chanx puts in another topic's group) what survives of Chanx's name, cut to 86 characters,
 * '.' and the 12-hex BLAKE2s digest of ns, a NUL and the topic as written. 0, or -1 (out of memory,
 * or a topic that owns a name shaped as such a digest name, which is refused: "room:x.0123456789ab"). */
int cx_topic_group_of(const cx_topic_pattern *self, const char *topic, size_t len, const char *ns,
                      char out[CX_TOPIC_MAX_GROUP + 1]);

#endif
