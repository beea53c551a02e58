/*
 * The testing kit's own folder in /tmp must not be another user's (found by
 * qa-attack). A stack keeps its CURVE keys, its processes' logs and the
 * plugin links a worker loads in a folder under /tmp; tests run as root,
 * and the folder used to be /tmp/chanx-test-<test pid>-<start time>, made
 * with mkdir and its failure ignored. Any local user could make that name
 * first (pids and seconds are easy to guess): root's processes then logged
 * through the user's symlinks (appending to any file of root's), used the
 * user's keys (keygen keeps an existing set) and a worker loaded whatever
 * .so the user left in plugins/.
 *
 * The attack is replayed as the user nobody: every name the next stack of
 * this test process could take is planted, with broker.log a symlink to a
 * file of root's. The stack must come up in a folder of its own (ours,
 * mode 0700), serve a client, and leave root's file as it was.
 * A second test replays the same move against the kit's client selftest,
 * whose server program defaulted to /tmp/bare_echo. The fixed names are
 * the attack's: only nobody writes or removes them, and a program is
 * planted only where no file or link was (O_EXCL | O_NOFOLLOW).
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PLANTED_SECONDS 60   /* names for every start time within this window */

static char victim_dir[] = "/tmp/chanx-victim-XXXXXX";
static char victim[128];
static pid_t test_pid;
static time_t planted_from;

static void plant(void)
{
    umask(0);
    for (time_t t = planted_from; t < planted_from + PLANTED_SECONDS; t++) {
        char dir[128], plugins[160], log[160];
        snprintf(dir, sizeof dir, "/tmp/chanx-test-%d-%ld", (int) test_pid, (long) t);
        snprintf(plugins, sizeof plugins, "%s/plugins", dir);
        snprintf(log, sizeof log, "%s/broker.log", dir);
        if (mkdir(dir, 0777) != 0 || mkdir(plugins, 0777) != 0 || symlink(victim, log) != 0)
            _exit(1);
    }
    _exit(0);
}

/* What plant made, removed by nobody (root removing another user's tree in /tmp is a race that user
 * can steer), name by name: no shell, no glob that could also take someone else's folder. */
static void unplant(void)
{
    int failed = 0;
    for (time_t t = planted_from; t < planted_from + PLANTED_SECONDS; t++) {
        char dir[128], plugins[160], log[160];
        snprintf(dir, sizeof dir, "/tmp/chanx-test-%d-%ld", (int) test_pid, (long) t);
        snprintf(plugins, sizeof plugins, "%s/plugins", dir);
        snprintf(log, sizeof log, "%s/broker.log", dir);
        failed |= unlink(log) != 0 || rmdir(plugins) != 0 || rmdir(dir) != 0;
    }
    _exit(failed);
}

static void remove_planted(void)
{
    if (cx_as_nobody(unplant) != 0)
        fprintf(stderr, "could not remove the planted folders\n");
    unlink(victim);
    rmdir(victim_dir);
}

Test(kit_tmp, a_stack_folder_planted_by_a_local_user_is_not_used, .timeout = 60)
{
    cr_assert_not_null(mkdtemp(victim_dir));
    chmod(victim_dir, 0755);   /* nobody may name the file, not write it */
    snprintf(victim, sizeof victim, "%s/victim.txt", victim_dir);
    FILE *f = fopen(victim, "w");
    cr_assert_not_null(f);
    fputs("root's file\n", f);
    fclose(f);
    test_pid = getpid();
    planted_from = time(NULL);
    cr_assert_eq(cx_as_nobody(plant), 0, "nobody could not plant its folders");

    cx_stack *stack = cx_stack_start(&(cx_stack_options) { 0 });
    struct stat st;
    cr_assert_eq(lstat(cx_stack_log_dir(stack), &st), 0);
    int ours = st.st_uid == geteuid() && (st.st_mode & 0777) == 0700;
    if (ours) {   /* the stack works from its own folder */
        int64_t id = cx_db_create_user(stack, "alice", 0);
        cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, id));
        cx_assert_authenticated_status_ok(c);
        json_decref(cx_request(c, "ping", NULL, "pong", 5000));
    }
    cx_stack_stop(&stack);

    char text[64] = "";
    f = fopen(victim, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    remove_planted();
    cr_assert(ours, "the stack used a folder it did not make alone (owner %d, mode %o)", (int) st.st_uid,
              st.st_mode & 0777);
    cr_assert_str_eq(text, "root's file\n", "root's file was written through a planted symlink");
}

/* The kit's WebSocket client selftest (suite ws_client, in this binary) started BARE_ECHO, else
 * /tmp/bare_echo: run without scripts/run-tests, it ran, as root, whatever a local user had put
 * there. Replayed: nobody plants a program that leaves a mark in a folder of root's. */
static char mark_dir[] = "/tmp/chanx-mark-XXXXXX";
/* The old default, a fixed name: the attack needs it, so only nobody ever writes or removes it. */
#define PLANTED_PROGRAM "/tmp/bare_echo"

/* Made new or not at all (O_EXCL, O_NOFOLLOW): whatever else holds the name, a link included, stays
 * as it is and the test is skipped. */
static void plant_program(void)
{
    int fd = open(PLANTED_PROGRAM, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        _exit(errno == EEXIST ? 2 : 1);
    if (fprintf(f, "#!/bin/sh\ntouch %s/ran\n", mark_dir) < 0 || fclose(f) != 0)
        _exit(1);
    _exit(0);
}

static void unplant_program(void)
{
    _exit(unlink(PLANTED_PROGRAM) != 0);
}

Test(kit_tmp, the_client_selftest_runs_no_program_from_tmp, .timeout = 120)
{
    cr_assert_not_null(mkdtemp(mark_dir));
    chmod(mark_dir, 0755);
    int planted = cx_as_nobody(plant_program);
    if (planted == 2) {
        rmdir(mark_dir);
        cr_skip_test(PLANTED_PROGRAM " exists already (not ours to replace)");
    }
    cr_assert_eq(planted, 0, "nobody could not plant " PLANTED_PROGRAM);
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    char cmd[700], mark[100];
    snprintf(cmd, sizeof cmd, "env -u BARE_ECHO -u BXFI_MAP %s/tests/e2e --filter 'ws_client/ping_gets_pong*' "
             ">/dev/null 2>&1", bin);
    int status = system(cmd);
    snprintf(mark, sizeof mark, "%s/ran", mark_dir);
    int ran = access(mark, F_OK) == 0;
    cx_as_nobody(unplant_program);
    unlink(mark);
    rmdir(mark_dir);
    cr_assert_not(ran, "the selftest ran the program nobody put in /tmp");
    cr_assert_eq(status, 0, "the selftest failed without BARE_ECHO (its default is the built bare_echo)");
}
