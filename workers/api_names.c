/*
 * api_names.c — the plugin API's function names and the nearest one to a misspelling.
 *
 * One table, in the order of the headers, with the level that added each name (a comment): the
 * worker exports exactly these (workers/exports.map), and tests/unit/test_api_names.c keeps the
 * three in step. The distance is Damerau-Levenshtein (optimal string alignment) over names of at
 * most 63 bytes, on the stack: this runs once per refused plugin, never on a message path.
 */
#include "workers/api_names.h"

#include <string.h>

static const char *const names[] = {
    /* level 1: consumer.h */
    "chanx_register_consumer", "chanx_state", "chanx_user_of", "chanx_auth_class", "chanx_obj",
    "chanx_url_kwarg", "chanx_url_kwargs", "chanx_query_param", "chanx_query_params", "chanx_header",
    "chanx_cookie", "chanx_client_addr", "chanx_path", "chanx_connection_id", "chanx_consumer_name",
    "chanx_subprotocol", "chanx_msg_action", "chanx_msg_payload", "chanx_msg_json", "chanx_msg_is",
    "chanx_send_message", "chanx_send_json", "chanx_send_group_message", "chanx_send_group_json",
    "chanx_group_add", "chanx_group_discard", "chanx_group_presence", "chanx_topic_presence", "chanx_groups_add", "chanx_groups_addf", "chanx_close",
    "chanx_log",
    /* level 1: db.h, timer.h */
    "chanx_db_query", "chanx_db_exec", "chanx_db_transaction",
    "chanx_call_later", "chanx_call_every", "chanx_timer_cancel",
    /* level 2 */
    "chanx_register_consumer_sized",
    /* level 3: topics; a restarted consumer */
    "chanx_topic_name", "chanx_topic_param", "chanx_ref", "chanx_topic_publish", "chanx_restarted",
    NULL,
};

const char *const *cx_api_names(void)
{
    return names;
}

#define MAX_NAME 64

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Edits from a[0..n) to b[0..m), both under MAX_NAME bytes. */
static size_t distance(const char *a, size_t n, const char *b, size_t m)
{
    size_t d[MAX_NAME + 1][MAX_NAME + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    return d[n][m];
}

const char *cx_api_name_nearest(const char *name, size_t len)
{
    if (len >= MAX_NAME)
        return NULL;
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; names[i]; i++) {
        size_t m = strlen(names[i]);
        if (m >= MAX_NAME || (m > len ? m - len : len - m) >= best_d)
            continue;
        size_t d = distance(name, len, names[i], m);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}
