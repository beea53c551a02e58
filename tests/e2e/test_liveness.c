/*
 * Where chanx-worker keeps its liveness file when CHANX_HEALTH_FILE is not
 * set: in a folder only its user may write ($XDG_RUNTIME_DIR first), never
 * a fixed name in the shared /tmp. Under the old default another local user
 * could create /tmp/chanx-worker.alive first; the worker then refused to
 * touch a file it did not own and every `chanx-worker --check` failed.
 *
 * The test plants exactly that file, as the user nobody, and starts a
 * worker without CHANX_HEALTH_FILE: the check must pass, from the private
 * folder, and the planted file must stay untouched.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLANTED "/tmp/chanx-worker.alive"

static cx_stack *stack;
static char *folder;
static char runtime[] = "/tmp/chanx-runtime-XXXXXX";
static char runtime_env[128];
static int planted_by_us;

/* Another local user's file at the old default's name, unless one is there already. */
static void plant_as_nobody(void)
{
    struct passwd *nobody = getpwnam("nobody");
    cr_assert(nobody, "no user nobody on this machine");
    int fd = open(PLANTED, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0)
        return;   /* already there: whoever owns it, the check must not depend on it */
    planted_by_us = 1;
    cr_assert_eq(fchown(fd, nobody->pw_uid, nobody->pw_gid), 0, "cannot give the planted file to nobody");
    close(fd);
}

static void setup(void)
{
    if (geteuid() == 0)
        plant_as_nobody();
    cr_assert(mkdtemp(runtime), "cannot make a runtime folder");
    snprintf(runtime_env, sizeof runtime_env, "XDG_RUNTIME_DIR=%s", runtime);
    unsetenv("CHANX_HEALTH_FILE");
    putenv(runtime_env);   /* for the --check this process runs, too */
    folder = cx_plugin_folder_new((const char *const[]) { "plugins/echo.so", NULL });
    stack = cx_stack_start(&(cx_stack_options) {
        .plugins = folder, .gateways = 1, .workers = 1, .env = (const char *const[]) { runtime_env, NULL } });
}

static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
    char path[256];
    snprintf(path, sizeof path, "%s/chanx-worker.alive", runtime);
    unlink(path);
    rmdir(runtime);
    if (planted_by_us)
        unlink(PLANTED);
}

TestSuite(liveness, .init = setup, .fini = teardown, .timeout = 60);

static int worker_check(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/chanx-worker --check", cx_test_bin());
    int rc = -1;
    for (int waited = 0; (rc = system(cmd)) != 0 && waited < 5000; waited += 100)
        usleep(100000);
    return rc;
}

Test(liveness, the_default_file_is_private_so_a_planted_tmp_file_cannot_fail_the_check)
{
    cr_assert_eq(worker_check(), 0, "chanx-worker --check fails with the default CHANX_HEALTH_FILE");
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/chanx-worker.alive", runtime);
    cr_assert_eq(lstat(path, &st), 0, "the worker wrote no liveness file in $XDG_RUNTIME_DIR (%s)", runtime);
    cr_assert_eq(st.st_uid, geteuid(), "the liveness file is not the worker's own");
    if (planted_by_us) {
        cr_assert_eq(lstat(PLANTED, &st), 0, "the planted file is gone");
        cr_assert_eq(st.st_size, 0, "the worker wrote into another user's file");
    }
}
