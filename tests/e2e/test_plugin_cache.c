/*
 * A worker, often root, loads plugins from copies (workers/plugin_copy.c).
 * Local users must not be able to steer that copy: the attack replayed here
 * planted symlinks, as an unprivileged user in a world-writable cache
 * folder, at the names the worker used to write to (chanx-<pid>-<plugin>-
 * <generation>.so, opened without O_EXCL or O_NOFOLLOW), and so had a root
 * worker overwrite a file of root's with an ELF, or load the attacker's code.
 *
 * Now the worker follows nothing in that folder and leaves nothing in it.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cx_stack *stack;
static char *folder;
static char cache[] = "/tmp/chanx-test-cache-XXXXXX";
static char victim_dir[] = "/tmp/chanx-test-victim-XXXXXX";
static char victim[128];
static int64_t alice;

static void setup(void)
{
    cr_assert_not_null(mkdtemp(cache));
    cr_assert_eq(chmod(cache, 01777), 0, "the cache folder is a /tmp: anyone may create in it");
    cr_assert_not_null(mkdtemp(victim_dir));
    chmod(victim_dir, 0755);
    snprintf(victim, sizeof victim, "%s/victim.txt", victim_dir);
    FILE *f = fopen(victim, "w");
    cr_assert_not_null(f);
    fputs("root's file\n", f);
    fclose(f);
    folder = cx_plugin_folder_new((const char *const[]) { "plugins/echo.so", NULL });
    char env[200];
    snprintf(env, sizeof env, "CHANX_PLUGIN_CACHE=%s", cache);
    stack = cx_stack_start(&(cx_stack_options) { .plugins = folder, .env = (const char *const[]) { env, NULL } });
    alice = cx_db_create_user(stack, "alice", 0);
}

static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s' '%s'", cache, victim_dir) >= 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", cache);
    free(cmd);
}

TestSuite(plugin_cache, .init = setup, .fini = teardown, .timeout = 60);

static int worker_pid;

/* The attacker's move: a symlink to root's file at every name the worker could write next. */
static void plant_symlinks(void)
{
    for (unsigned gen = 1; gen <= 64; gen++) {
        char name[256];
        snprintf(name, sizeof name, "%s/chanx-%d-dep_probe-%u.so", cache, worker_pid, gen);
        if (symlink(victim, name) != 0)
            _exit(1);
    }
}

/* What the attacker then finds: only its own symlinks, nothing of the worker's to replace. */
static void find_only_own_entries(void)
{
    DIR *d = opendir(cache);
    if (!d)
        _exit(2);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != getuid())
            _exit(3);
    }
    closedir(d);
}

Test(plugin_cache, symlinks_planted_by_a_local_user_are_not_followed_and_nothing_is_left_to_replace)
{
    worker_pid = cx_stack_pid(stack, "worker0");
    cr_assert_gt(worker_pid, 0);
    cr_assert_eq(cx_as_nobody(plant_symlinks), 0, "nobody could not plant its symlinks");

    cx_plugin_folder_drop(folder, "test-plugins/dep_probe.so", "dep_probe.so");
    cx_communicator *c = cx_communicator_when_live(stack, 0, "/ws/dep_probe/", cx_db_token_header(stack, alice), 10000);
    cr_assert_not_null(c, "the plugin dropped beside the planted symlinks never went live");
    cx_assert_authenticated_status_ok(c);
    json_t *p = cx_request(c, "whoami", NULL, "whoami", 5000);
    cr_assert_eq(json_integer_value(json_object_get(p, "version")), 1, "the worker must run the plugin it was given");
    json_decref(p);

    FILE *f = fopen(victim, "r");
    char line[64] = "";
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert_str_eq(line, "root's file\n", "the worker wrote through a planted symlink");
    cr_assert_eq(cx_as_nobody(find_only_own_entries), 0,
                 "the cache folder holds an entry of the worker's that a local user could replace or follow");
}
