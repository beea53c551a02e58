/*
 * logs.c — reading what a stack's processes logged, for tests of logging.
 *
 * The stack (stack.c) sends each process's stderr to <name>.log in a folder
 * /tmp/chanx-test-<test pid>-<start time>-<random> of ours alone (mkdtemp),
 * removed at cx_stack_stop. Tests
 * run one per process, so the folder is found from our own pid; the newest
 * wins should a dead test of a recycled pid have left one behind.
 *
 * Log lines are written after the event they describe, sometimes after the
 * client already saw its effect, so reading waits for an expected line
 * instead of sleeping: a test asserts on a line that marks "everything
 * before me has been written", then on what came before it.
 */
#include "chanx/testing.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int find_log_dir(char *out, size_t outlen)
{
    char prefix[64];
    int plen = snprintf(prefix, sizeof prefix, "chanx-test-%d-", (int) getpid());
    DIR *d = opendir("/tmp");
    time_t newest = 0;
    int found = 0;
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        char path[300];
        struct stat st;
        if (strncmp(e->d_name, prefix, (size_t) plen) != 0)
            continue;
        snprintf(path, sizeof path, "/tmp/%s", e->d_name);
        /* ours alone (stack.c makes it with mkdtemp): another user's folder of the same prefix is not */
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 077)
            && (!found || st.st_mtime >= newest)) {
            newest = st.st_mtime;
            snprintf(out, outlen, "%s", path);
            found = 1;
        }
    }
    if (d)
        closedir(d);
    return found;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    char buf[8192];
    for (size_t n; out && (n = fread(buf, 1, sizeof buf, f)) > 0;)
        fwrite(buf, 1, n, out);
    fclose(f);
    if (out)
        fclose(out);
    return text;
}

char *cx_stack_log(cx_stack *stack, const char *process, const char *needle, int timeout_ms)
{
    (void) stack;   /* one stack per test process: found by pid, see above */
    char dir[300], path[400];
    if (!find_log_dir(dir, sizeof dir))
        return NULL;
    snprintf(path, sizeof path, "%s/%s.log", dir, process);
    for (int waited = 0;; waited += 20) {
        char *text = read_all(path);
        if (!needle || (text && strstr(text, needle)) || waited >= timeout_ms)
            return text && (!needle || strstr(text, needle)) ? text : (free(text), NULL);
        free(text);
        usleep(20000);
    }
}
