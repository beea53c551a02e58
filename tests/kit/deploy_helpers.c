/*
 * deploy_helpers.c — plugin folders and process logs for deployment tests
 * (see deploy_helpers.h).
 *
 * cx_communicator_when_live polls with a short pause: a route appearing
 * on a gateway has no notification a test process could block on.
 */
#include "tests/kit/deploy_helpers.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define POLL_US 50000

const char *cx_test_bin(void)
{
    const char *bin = getenv("CHANX_TEST_BIN");
    return bin && *bin ? bin : "build";
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(in, 0, "cannot open %s", from);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    cr_assert_geq(out, 0, "cannot create %s", to);
    struct stat st;
    cr_assert_eq(fstat(in, &st), 0);
    for (off_t off = 0; off < st.st_size;)
        cr_assert_gt(sendfile(out, in, &off, (size_t) (st.st_size - off)), 0, "cannot copy %s", from);
    close(in);
    cr_assert_eq(close(out), 0);
}

char *cx_plugin_folder_new(const char *const *plugins)
{
    char *folder = strdup("/tmp/chanx-plugins-XXXXXX");
    cr_assert(folder && mkdtemp(folder), "cannot create a plugin folder");
    for (; plugins && *plugins; plugins++) {
        const char *base = strrchr(*plugins, '/');
        char from[PATH_MAX], to[PATH_MAX];
        snprintf(from, sizeof from, "%s/%s", cx_test_bin(), *plugins);
        snprintf(to, sizeof to, "%s/%s", folder, base ? base + 1 : *plugins);
        copy_file(from, to);
    }
    return folder;
}

void cx_plugin_folder_drop(const char *folder, const char *source, const char *name)
{
    char from[PATH_MAX], tmp[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof from, "%s/%s", cx_test_bin(), source);
    snprintf(tmp, sizeof tmp, "%s/.%s.partial", folder, name);
    snprintf(to, sizeof to, "%s/%s", folder, name);
    copy_file(from, tmp);
    cr_assert_eq(rename(tmp, to), 0, "cannot rename %s to %s", tmp, to);
}

void cx_plugin_folder_drop_version(const char *folder, const char *source, const char *name, const char *tag)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.%s.version", folder, name);
    char from[PATH_MAX];
    snprintf(from, sizeof from, "%s/%s", cx_test_bin(), source);
    copy_file(from, tmp);
    FILE *f = fopen(tmp, "a");   /* after the last section: the loader maps by program headers only */
    cr_assert(f && fputs(tag, f) >= 0 && fclose(f) == 0, "cannot append to %s", tmp);
    char to[PATH_MAX];
    snprintf(to, sizeof to, "%s/%s", folder, name);
    cr_assert_eq(rename(tmp, to), 0, "cannot rename %s to %s", tmp, to);
}

void cx_plugin_folder_remove(char **folder_p)
{
    if (!folder_p || !*folder_p)
        return;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", *folder_p);
    if (strncmp(*folder_p, "/tmp/chanx-plugins-", 19) == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", *folder_p);
    free(*folder_p);
    *folder_p = NULL;
}

const char *cx_plugin_folder_write(const char *folder, const char *name, const char *text)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

json_t *cx_stack_log_record(cx_stack *self, const char *process, const char *needle, int timeout_ms)
{
    char *log = cx_stack_log(self, process, needle, timeout_ms);
    cr_assert_not_null(log, "no record with %s in %s's log", needle, process);
    const char *at = strstr(log, needle), *begin = at;
    while (begin > log && begin[-1] != '\n')
        begin--;
    size_t len = strcspn(begin, "\n");
    json_error_t err;
    json_t *record = json_loadb(begin, len, 0, &err);
    cr_assert_not_null(record, "not one JSON record (%s): %.*s", err.text, (int) len, begin);
    free(log);
    return record;
}

int cx_parent_pid(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    int ppid = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "PPid: %d", &ppid) == 1)
            break;
    if (f)
        fclose(f);
    return ppid;
}

int cx_stack_log_count(cx_stack *self, const char *process, const char *needle)
{
    char *text = cx_stack_log(self, process, NULL, 0);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(text);
    return n;
}

cx_communicator *cx_communicator_when_live(cx_stack *stack, int gateway, const char *path,
                                           const char *const *headers, int timeout_ms)
{
    for (int waited = 0;; waited += 2 * POLL_US / 1000) {
        cx_communicator *c = cx_communicator_on(stack, gateway, path, headers);
        if (cx_communicator_connected(c))
            return c;
        int status = cx_communicator_http_status(c);
        cx_communicator_disconnect(c);
        if (waited >= timeout_ms || (status != 404 && status != 503))
            return NULL;
        usleep(2 * POLL_US);
    }
}

FILE *cx_python_client(cx_stack *stack, int gateway, const char *path, const char *token, const char *script)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"$CX_PY_CLIENT\" 'ws://127.0.0.1:%d%s?token=%s'",
             cx_stack_gateway_port(stack, gateway), path, token);
    setenv("CX_PY_CLIENT", script, 1);   /* the script travels in the environment: no shell quoting */
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run python3");
    return p;
}

void cx_python_line(FILE *p, char *line, size_t size, const char *what)
{
    cr_assert_not_null(fgets(line, (int) size, p), "the python client printed no %s", what);
    line[strcspn(line, "\n")] = '\0';
}

char *cx_shell_output(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "could not run %s", cmd);
    char *out = NULL;
    size_t len = 0;
    if (getdelim(&out, &len, '\0', p) < 0) {
        free(out);
        out = strdup("");
    }
    *status = pclose(p);
    return out;
}

char *cx_asyncapi_valid(cx_stack *stack, const char *needle)
{
    int status = 0;
    char *body = NULL;
    for (int tries = 0; tries < 50; tries++) {
        free(body);
        body = cx_http_get(cx_stack_gateway_port(stack, 0), "/asyncapi.json", &status);
        if (status == 200 && body && strstr(body, needle))
            break;
        usleep(100 * 1000);
    }
    cr_assert(status == 200 && body && strstr(body, needle), "/asyncapi.json (HTTP %d) has no %s", status, needle);
    char file[512], cmd[700];
    snprintf(file, sizeof file, "%s/asyncapi.json", cx_stack_log_dir(stack));
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f, "cannot write %s", file);
    fputs(body, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/docs/validate_asyncapi.py %s", file);
    cr_assert_eq(system(cmd), 0, "the document is valid AsyncAPI 3.0");
    return body;
}

int cx_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    cr_assert(fd >= 0 && !bind(fd, (struct sockaddr *) &addr, sizeof addr)
              && !getsockname(fd, (struct sockaddr *) &addr, &len), "no free port on 127.0.0.1");
    close(fd);
    return ntohs(addr.sin_port);
}

int cx_as_nobody(void (*fn)(void))
{
    struct passwd *pw = getpwnam("nobody");
    cr_assert_not_null(pw, "no user 'nobody' on this machine");
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            _exit(99);
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

cx_communicator *cx_user_client(cx_stack *stack, const char *name, int flags, const char *path)
{
    int64_t id = cx_db_create_user(stack, name, flags);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}
