/*
 * The testing kit's promises, checked from outside:
 *  - a test that fails, or crashes, leaves no process behind: this binary is
 *    run again on the "kit_deliberate" suite (skipped unless asked for),
 *    whose tests start a stack, write down its pids and then fail or crash;
 *    afterwards every one of those pids must be gone;
 *  - a child process that logged a sanitizer report fails the test;
 *  - failure messages say what was awaited and what arrived instead;
 *  - `make new-consumer` scaffolds a plugin whose test builds and passes as
 *    generated, against this build's libchanx-testing.a.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static const char *bin(void)
{
    const char *b = getenv("CHANX_TEST_BIN");
    return b && *b ? b : "build";
}

/* Runs a shell command; returns its exit status (-1 if it did not exit) and
 * the tail of its output (where criterion's summary and failures are) in out. */
static int run(const char *cmd, char *out, size_t len)
{
    /* criterion's sandbox tells a test process it is one through BXFI_MAP; a
     * criterion binary started from a test would take itself for this test */
    unsetenv("BXFI_MAP");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    char *all = NULL, buf[4096];
    size_t size = 0, n;
    FILE *mem = open_memstream(&all, &size);
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(mem);
    int status = pclose(p);
    snprintf(out, len, "%s", size >= len ? all + size - (len - 1) : all);
    free(all);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------- deliberately failing tests */

/* Started only by the kit suite below, with CHANX_KIT_DELIBERATE naming a pid file. */
static cx_stack *victim;

static void start_victim(void)
{
    const char *pidfile = getenv("CHANX_KIT_DELIBERATE");
    if (!pidfile)
        cr_skip_test("only run by kit::failed_and_crashed_tests_leave_no_process_behind");
    victim = cx_stack_start(&(cx_stack_options) { 0 });
    FILE *f = fopen(pidfile, "a");
    cr_assert_not_null(f);
    fprintf(f, "%d %d %d %s\n", cx_stack_pid(victim, "broker"), cx_stack_pid(victim, "worker0"),
            cx_stack_pid(victim, "gateway0"), cx_stack_log_dir(victim));
    fclose(f);
    int64_t alice = cx_db_create_user(victim, "alice", 0);
    cx_communicator *c = cx_communicator_new(victim, "/ws/echo/", cx_db_token_header(victim, alice));
    cx_assert_authenticated_status_ok(c);
}

static void stop_victim(void) { cx_stack_stop(&victim); }

TestSuite(kit_deliberate, .fini = stop_victim, .timeout = 60);

Test(kit_deliberate, fails_an_assertion)
{
    start_victim();
    cr_assert_fail("deliberate failure");
}

Test(kit_deliberate, crashes)
{
    start_victim();
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
}

Test(kit_deliberate, is_killed)
{
    start_victim();
    kill(getpid(), SIGKILL);
}

Test(kit_deliberate, child_logs_a_sanitizer_report)
{
    start_victim();
    char log[600];
    snprintf(log, sizeof log, "%s/worker0.log", cx_stack_log_dir(victim));
    FILE *f = fopen(log, "a");
    cr_assert_not_null(f);
    fputs("==1==ERROR: LeakSanitizer: detected memory leaks (written by the test)\n", f);
    fclose(f);
}

Test(kit_deliberate, times_out_waiting_for_an_action)
{
    start_victim();
    cx_communicator *c = cx_communicator_new(victim, "/ws/echo/", cx_db_token_header(victim, 1));
    cx_assert_authenticated_status_ok(c);
    cx_send_message(c, "ping", NULL);
    json_t *never = cx_receive_until_action(c, "never", 500);
    json_decref(never);
}

/* --------------------------------------------------------- kit suite */

TestSuite(kit, .timeout = 180);

/* A process is gone when kill() cannot find it or it is a zombie awaiting its reaper. */
static int gone(int pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    char path[64], stat[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *state = strrchr(stat, ')');
    return state && state[1] == ' ' && state[2] == 'Z';
}

/* Reads the victims' "broker worker gateway logdir" lines, removing the file. Returns the count. */
static int read_victims(const char *pidfile, int pids[][3], int max)
{
    FILE *f = fopen(pidfile, "r");
    unlink(pidfile);
    int n = 0;
    char logdir[256], cmd[300];
    while (f && n < max && fscanf(f, "%d %d %d %255s", &pids[n][0], &pids[n][1], &pids[n][2], logdir) == 4) {
        n++;
        /* crashed tests keep their logs for a person to read; these were deliberate */
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", logdir);
        if (strncmp(logdir, "/tmp/chanx-test-", 16) == 0 && system(cmd) != 0)
            cr_log_warn("could not remove %s", logdir);
    }
    if (f)
        fclose(f);
    return n;
}

/* The first line of a file, removing the file ("" if none). */
static void read_first_line(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    unlink(path);
    if (!f || !fgets(out, (int) len, f))
        out[0] = '\0';
    if (f)
        fclose(f);
}

Test(kit, failed_and_crashed_tests_leave_no_process_behind)
{
    char pidfile[] = "/tmp/chanx-kit-pids-XXXXXX", reports[] = "/tmp/chanx-kit-reports-XXXXXX", cmd[1500],
         out[16384], report[1024];
    int fd = mkstemp(pidfile), fd2 = mkstemp(reports);
    cr_assert(fd >= 0 && fd2 >= 0);
    close(fd);
    close(fd2);
    /* its own report file: the deliberate report must not fail this run */
    snprintf(cmd, sizeof cmd, "CHANX_KIT_DELIBERATE=%s CHANX_TEST_REPORTS=%s /proc/%d/exe --filter 'kit_deliberate/*' "
             "-j1 2>&1", pidfile, reports, (int) getpid());
    int status = run(cmd, out, sizeof out);
    int pids[8][3];
    int stacks = read_victims(pidfile, pids, 8);
    read_first_line(reports, report, sizeof report);

    for (int s = 0; s < stacks; s++)
        for (int i = 0; i < 3; i++) {
            cr_assert_gt(pids[s][i], 0);
            for (int waited = 0; !gone(pids[s][i]) && waited < 5000; waited += 50) {
                struct timespec ts = { 0, 50 * 1000 * 1000 };
                nanosleep(&ts, NULL);
            }
            cr_assert(gone(pids[s][i]), "process %d of a failed test still runs 5 s later", pids[s][i]);
        }
    cr_assert_eq(stacks, 5, "expected 5 stacks started, found %d:\n%s", stacks, out);
    cr_assert_neq(status, 0, "the deliberate failures did not fail:\n%s", out);
    /* the sanitizer report's test is flagged and recorded, but criterion counts it as passed */
    cr_assert(strstr(out, "Tested: 5 | Passing: 1 | Failing: 4 | Crashing: 2"), "unexpected summary:\n%s", out);
    cr_assert(strstr(out, "sanitizer report in worker0.log"), "the sanitizer report was not shown:\n%s", out);
    cr_assert(strstr(report, "sanitizer report in worker0.log"), "reports file says: %s", report);
    cr_assert(strstr(out, "/ws/echo/: waited 500 ms for a message with action \"never\"; received instead: "
                          "[{\"action\":\"pong\",\"payload\":null}]; connection: still open"),
              "the timeout did not say what arrived:\n%s", out);
}

Test(kit, scaffolded_consumer_builds_and_its_test_passes)
{
    char tmp[] = "/tmp/chanx-scaffold-XXXXXX", cmd[2000], out[16384], root[1024];
    cr_assert_not_null(mkdtemp(tmp));
    cr_assert_not_null(getcwd(root, sizeof root));
    snprintf(cmd, sizeof cmd, "scripts/new-consumer greeter %s/greeter 2>&1 && "
             "make --no-print-directory -C %s/greeter test CHANX_BUILD=%s%s%s SAN=%d 2>&1",
             tmp, tmp, bin()[0] == '/' ? "" : root, bin()[0] == '/' ? "" : "/", bin(), SANITIZED);
    int status = run(cmd, out, sizeof out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", tmp);
    cr_assert_eq(status, 0, "the scaffolded plugin did not build or pass:\n%s", out);
    cr_assert(strstr(out, "Tested: 2 | Passing: 2 | Failing: 0 | Crashing: 0"), "unexpected output:\n%s", out);
}

Test(kit, scaffold_refuses_a_name_that_is_not_an_identifier)
{
    char out[2048];
    cr_assert_eq(run("scripts/new-consumer 'bad-name' /tmp/chanx-never-created 2>&1", out, sizeof out), 2);
    cr_assert(strstr(out, "NAME must match"), "%s", out);
    cr_assert_neq(access("/tmp/chanx-never-created", F_OK), 0, "a refused name still created its folder");
}

/* `make new-consumer` without NAME= used to stop with bash's "line 15: 1: usage: new-consumer NAME [DIR]". */
Test(kit, scaffold_without_a_name_says_how_to_give_one)
{
    char out[2048];
    cr_assert_eq(run("make --no-print-directory new-consumer 2>&1", out, sizeof out), 2);
    cr_assert(strstr(out, "make new-consumer NAME=foo"), "%s", out);
    cr_assert_eq(run("scripts/new-consumer '' 2>&1", out, sizeof out), 2);
}
