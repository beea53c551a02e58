/*
 * CX_ASSERT (common/invariant.h): a holding invariant costs nothing visible;
 * a broken one stops the process with SIGABRT after one JSON error record
 * that says it is the framework's bug and where, so the crash is not taken
 * for the plugin's whose code happened to run next. Run in a child process
 * with stderr on a pipe, the way a worker's log is collected.
 */
#include "common/invariant.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void break_invariant(int scheduled)
{
    CX_ASSERT(scheduled == 1, "actor %d run while not scheduled", 7);
}

/* Runs fn(arg) in a child; returns its wait status and what it wrote to stderr (malloc'd). */
static int in_child(void (*fn)(int), int arg, char **err)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (ssize_t n; (n = read(fds[0], buf + len, cap - len - 1)) > 0;)
        if ((len += (size_t) n) == cap - 1)
            buf = realloc(buf, cap *= 2);
    buf[len] = '\0';
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    *err = buf;
    return status;
}

Test(invariant, a_holding_invariant_lets_the_process_go_on)
{
    char *err;
    int status = in_child(break_invariant, 1, &err);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_str_eq(err, "", "nothing logged: %s", err);
    free(err);
}

Test(invariant, a_broken_invariant_logs_one_record_and_aborts)
{
    char *err;
    int status = in_child(break_invariant, 0, &err);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
    json_error_t why;
    json_t *record = json_loads(err, 0, &why);   /* exactly one JSON object: the line */
    cr_assert(record, "not one JSON record (%s): %s", why.text, err);
    cr_assert_str_eq(json_string_value(json_object_get(record, "level")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(record, "event")),
                     "Invariant broken: actor 7 run while not scheduled");
    cr_assert_str_eq(json_string_value(json_object_get(record, "bug")), "chanx");
    cr_assert_str_eq(json_string_value(json_object_get(record, "assertion")), "scheduled == 1");
    cr_assert_str_eq(json_string_value(json_object_get(record, "function")), "break_invariant");
    cr_assert(strstr(json_string_value(json_object_get(record, "file")), "test_invariant.c"));
    cr_assert_gt(json_integer_value(json_object_get(record, "line")), 0);
    json_decref(record);
    free(err);
}
