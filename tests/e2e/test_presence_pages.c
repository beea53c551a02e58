/*
 * Presence in pages (issue 25: "presence for a topic with 100,000 members is
 * paged or capped, and documented"), through real processes: 1,100 users,
 * each on a real authenticated WebSocket connection (chanx-bench's idle
 * scenario holds them: one process, no thread per connection), in one group.
 *
 * What a user of the API relies on: POST /api/presence answers at most
 * 1,000 users (or "limit") a page, ordered by user id, with "count" (every
 * user) and "next" (the cursor of the following page, null on the last), as
 * DRF's CursorPagination does; walking the pages lists every user exactly
 * once; the Python client walks them for you and chanx-admin takes
 * --limit/--cursor; presence_stats stays counts only; a bad limit or cursor
 * is a clear 400. The stack and clients are test_history.h's; the crowd's
 * room is hist_probe's brief/ route (no presence pushes: 1,100 joins would
 * otherwise push 1,100 × 1,100 frames).
 */
#include "tests/e2e/test_history.h"

#include <sys/wait.h>

#define CROWD 1100
#define GROUP "brief_crowd"

static pid_t holder;

static void release_crowd(void)
{
    if (holder > 0) {
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
        holder = 0;
    }
}

static void crowd_teardown(void)
{
    release_crowd();
    history_teardown();
}

TestSuite(presence_pages, .fini = crowd_teardown, .timeout = 180);

/* CROWD users crowd1.. with DRF tokens "crowd<35 digits>", written one a line to tokens_file. */
static void create_crowd(const char *tokens_file)
{
    char sql[600];
    snprintf(sql, sizeof sql, "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
             "email, is_staff, is_active, date_joined) SELECT '!', false, 'crowd' || i, '', '', '', false, true, "
             "now() FROM generate_series(1, %d) i", CROWD);
    cx_db_exec(stack, sql);
    cx_db_exec(stack, "INSERT INTO authtoken_token (key, created, user_id) SELECT 'crowd' || "
                      "lpad(substr(username, 6), 35, '0'), now(), id FROM auth_user WHERE username LIKE 'crowd%'");
    FILE *f = fopen(tokens_file, "w");
    cr_assert_not_null(f);
    for (int i = 1; i <= CROWD; i++)
        fprintf(f, "crowd%035d\n", i);
    fclose(f);
}

/* chanx-bench idle holds CROWD connections, one per user, in the crowd's room until stopped. */
static void hold_crowd(const char *tokens_file)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "exec %s/bench/chanx-bench idle --url ws://127.0.0.1:%d/ws/hist_probe/brief/crowd/ "
             "-n %d --tokens-file %s --concurrency 100 --settle 600 --label crowd >/dev/null 2>&1", bin,
             cx_stack_gateway_port(stack, 0), CROWD, tokens_file);
    holder = fork();
    cr_assert_geq(holder, 0);
    if (holder == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
        _exit(127);
    }
}

static void crowd_present(void)
{
    for (int waited = 0;; waited += 200) {
        json_t *reply = NULL;
        int status = cx_api_post(stack, "/api/presence_stats", CX_TEST_API_KEY, "{\"group\": \"" GROUP "\"}", &reply);
        json_int_t users = status == 200 ? json_integer_value(json_object_get(reply, "users")) : -1;
        json_decref(reply);
        if (users == CROWD)
            return;
        cr_assert(waited < 90000, "the crowd never came: %lld users present", (long long) users);
        usleep(200 * 1000);
    }
}

/* Walks every page of limit users (0: the default); asserts each page's shape, that ids ascend across
 * pages, and that every user comes exactly once. Returns how many pages. */
static int walk(int limit, int per_page)
{
    char body[200], cursor[40] = "";
    json_int_t last = 0, seen = 0;
    int pages = 0;
    do {
        int n = snprintf(body, sizeof body, "{\"group\": \"" GROUP "\"");
        if (limit)
            n += snprintf(body + n, sizeof body - (size_t) n, ", \"limit\": %d", limit);
        if (*cursor)
            n += snprintf(body + n, sizeof body - (size_t) n, ", \"cursor\": \"%s\"", cursor);
        snprintf(body + n, sizeof body - (size_t) n, "}");
        json_t *page = api_expect("presence", body, 200);
        pages++;
        cr_assert_eq(json_integer_value(json_object_get(page, "count")), CROWD, "count is every user, on every page");
        json_t *users = json_object_get(page, "users"), *next = json_object_get(page, "next");
        size_t want = (size_t) (CROWD - seen < per_page ? CROWD - seen : per_page);
        cr_assert_eq(json_array_size(users), want, "page %d of %d: %zu users", pages, per_page, json_array_size(users));
        size_t i;
        json_t *u;
        json_array_foreach(users, i, u) {
            json_int_t id = json_integer_value(json_object_get(u, "user_id"));
            cr_assert_gt(id, last, "ordered by user id, none twice");
            cr_assert_eq(json_array_size(json_object_get(u, "connections")), 1);
            last = id;
            seen++;
        }
        cr_assert_eq(json_is_true(json_object_get(page, "truncated")), !json_is_null(next));
        if (seen < CROWD) {
            cr_assert(json_is_string(next), "a page before the last has a next cursor");
            snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        } else {
            cr_assert(json_is_null(next), "the last page's next is null");
            *cursor = '\0';
        }
        json_decref(page);
    } while (*cursor);
    cr_assert_eq(seen, CROWD);
    return pages;
}

Test(presence_pages, more_than_1000_present_users_come_in_pages_each_exactly_once)
{
    start(1, 0);
    char tokens[] = "/tmp/chanx-crowd-XXXXXX";
    int fd = mkstemp(tokens);
    cr_assert_geq(fd, 0);
    close(fd);
    create_crowd(tokens);
    hold_crowd(tokens);
    crowd_present();

    cr_assert_eq(walk(0, 1000), 2, "1,000 users a page by default");
    cr_assert_eq(walk(400, 400), 3);
    json_t *stats = api_expect("presence_stats", "{\"group\": \"" GROUP "\"}", 200);
    cx_assert_json_eq(stats, "{\"group\": \"" GROUP "\", \"users\": 1100, \"connections\": 1100, \"anonymous\": 0}");
    json_decref(stats);

    char cmd[1500];   /* the Python client walks the pages for you */
    snprintf(cmd, sizeof cmd,
             "cd clients/python && CHANX_API_URL=http://127.0.0.1:%d CHANX_API_KEY='%s' /usr/bin/python3 -c '\n"
             "import chanx_client\n"
             "ids = [u[\"user_id\"] for u in chanx_client.presence_users_sync(\"" GROUP "\", limit=300)]\n"
             "page = chanx_client.presence_sync(topic=None, group=\"" GROUP "\", limit=2)\n"
             "print(len(ids), len(set(ids)), ids == sorted(ids), page[\"count\"], len(page[\"users\"]), page[\"next\"])\n"
             "' 2>&1", cx_stack_api_port(stack), CX_TEST_API_KEY);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", out);
    long all, distinct, count, listed;
    char sorted[8], next[40];
    cr_assert_eq(sscanf(out, "%ld %ld %7s %ld %ld %39s", &all, &distinct, sorted, &count, &listed, next), 6, "%s", out);
    cr_assert(all == CROWD && distinct == CROWD && !strcmp(sorted, "True") && count == CROWD && listed == 2, "%s", out);
    free(out);

    /* chanx-admin: one page from a cursor, straight to the broker */
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    const char *keys = cx_stack_keys_dir(stack);
    snprintf(cmd, sizeof cmd, "CHANX_BROKER='%s' CHANX_CURVE_DIR='%s' %s/chanx-admin presence --group " GROUP
             " --limit 3 --cursor %s 2>&1", cx_stack_broker(stack), keys ? keys : "", bin, next);
    out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", out);
    json_t *page = json_loads(out, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(page, "users")), 3, "%s", out);
    cr_assert_gt(json_integer_value(json_object_get(json_array_get(json_object_get(page, "users"), 0), "user_id")),
                 atoll(next), "the page after the cursor: %s", out);
    json_decref(page);
    free(out);
    unlink(tokens);
}

Test(presence_pages, a_bad_limit_or_cursor_is_a_clear_400)
{
    start(1, 0);
    cx_communicator *a = client(0, "/ws/hist_probe/brief/crowd/", alice);
    (void) a;
    const char *bad[] = { "{\"group\": \"" GROUP "\", \"limit\": 0}", "{\"group\": \"" GROUP "\", \"limit\": 1001}",
                          "{\"group\": \"" GROUP "\", \"limit\": \"10\"}", "{\"group\": \"" GROUP "\", \"limit\": 2.5}",
                          "{\"group\": \"" GROUP "\", \"cursor\": \"abc\"}", "{\"group\": \"" GROUP "\", \"cursor\": \"-5\"}",
                          "{\"group\": \"" GROUP "\", \"cursor\": 5}", "{\"group\": \"" GROUP "\", \"cursor\": \"99999999999999999999\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *reply = api_expect("presence", bad[i], 400);
        const char *code = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
        cr_assert_str_eq(code, "invalid_field", "%s", bad[i]);
        json_decref(reply);
    }
    json_t *reply = api_expect("presence_stats", "{\"group\": \"" GROUP "\", \"limit\": 10}", 400);   /* counts only */
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "unknown_field");
    json_decref(reply);
    reply = api_expect("presence", "{\"group\": \"" GROUP "\", \"limit\": 1, \"cursor\": null}", 200);   /* the first page */
    cr_assert_eq(json_array_size(json_object_get(reply, "users")), 1);
    cr_assert(json_is_null(json_object_get(reply, "next")), "alice alone: one page");
    json_decref(reply);
}
