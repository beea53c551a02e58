/*
 * browser.c — headless Chromium for end-to-end tests (see browser.h).
 *
 * One blocking loop: poll() on the listener and its connections; each
 * connection is read up to its head and, for the report, its
 * Content-Length body; GET / gets the page, POST /report is kept, anything
 * else (favicon.ico) 404. Chromium is started in its own process group, so
 * killing the group ends its renderer and GPU helpers too, and with
 * PR_SET_PDEATHSIG so it dies with a test that crashes.
 */
#include "tests/kit/browser.h"
#include "tests/kit/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 16
#define MAX_REQUEST (1 << 20)

const char *cx_browser_binary(void)
{
    static char path[512];
    const char *env = getenv("CHANX_CHROMIUM");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *names[] = { "chromium", "chromium-browser" };
    const char *dirs = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
    for (size_t i = 0; i < 2; i++)
        for (const char *d = dirs; *d;) {
            size_t n = strcspn(d, ":");
            snprintf(path, sizeof path, "%.*s/%s", (int) n, d, names[i]);
            if (n && access(path, X_OK) == 0)
                return path;
            d += n + (d[n] == ':');
        }
    return NULL;
}

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *) &addr, sizeof addr) != 0 || listen(fd, 16) != 0
        || getsockname(fd, (struct sockaddr *) &addr, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

static pid_t start_chromium(const char *binary, const char *url, const char *profile)
{
    pid_t parent = getpid(), pid = fork();
    if (pid != 0)
        return pid;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0 && !getenv("CHANX_BROWSER_LOG")) {
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    char data_dir[600];
    snprintf(data_dir, sizeof data_dir, "--user-data-dir=%s", profile);
    execl(binary, binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", data_dir, url, (char *) NULL);
    _exit(127);
}

typedef struct {
    int fd;
    char *buf;
    size_t len;
} conn;

static void respond(int fd, int status, const char *type, const char *body)
{
    char head[256];
    size_t n = strlen(body);
    int h = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
                                        "cache-control: no-store\r\nconnection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Not Found", type, n);
    if (write(fd, head, (size_t) h) == h && n)
        (void) !write(fd, body, n);
}

/* A complete request in c: answers it and returns 1; *report gets a POST /report body. */
static int handle(conn *c, const char *html, char **report)
{
    char *end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
    if (!end)
        return 0;
    size_t head = (size_t) (end - c->buf) + 4, body = 0;
    *end = '\0';   /* the head as a string, for a moment */
    const char *length = strcasestr(c->buf, "\r\ncontent-length:");
    if (length)
        body = (size_t) atol(length + 17);
    *end = '\r';
    if (c->len < head + body)
        return 0;
    if (strncmp(c->buf, "POST /report ", 13) == 0) {
        *report = strndup(c->buf + head, body);
        respond(c->fd, 200, "text/plain", "ok");
    } else if (strncmp(c->buf, "GET / ", 6) == 0) {
        respond(c->fd, 200, "text/html; charset=utf-8", html);
    } else {
        respond(c->fd, 404, "text/plain", "");
    }
    return 1;
}

static void stop_chromium(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(-pid, SIGKILL);   /* the group we made for it: the browser and its helpers */
    waitpid(pid, NULL, 0);
}

static void remove_tree(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *) NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

char *cx_browser_run(const char *html, int timeout_ms, char *err, size_t errlen)
{
    const char *binary = cx_browser_binary();
    if (!binary)
        return snprintf(err, errlen, "chromium is not installed (scripts/install-deps installs it)"), NULL;
    int port, lfd = listen_local(&port);
    if (lfd < 0)
        return snprintf(err, errlen, "cannot listen: %s", strerror(errno)), NULL;
    char profile[] = "/tmp/chanx-browser-XXXXXX", url[64];
    if (!mkdtemp(profile)) {
        close(lfd);
        return snprintf(err, errlen, "mkdtemp: %s", strerror(errno)), NULL;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    pid_t pid = start_chromium(binary, url, profile);
    conn conns[MAX_CONNS];
    size_t nconns = 0;
    char *report = NULL;
    long long deadline = cx_kit_now_ms() + timeout_ms;
    snprintf(err, errlen, "the page reported nothing within %d ms", timeout_ms);
    while (!report && pid > 0 && cx_kit_now_ms() < deadline) {
        struct pollfd fds[MAX_CONNS + 1] = { { .fd = lfd, .events = POLLIN } };
        for (size_t i = 0; i < nconns; i++)
            fds[i + 1] = (struct pollfd) { .fd = conns[i].fd, .events = POLLIN };
        int n = poll(fds, nconns + 1, 200);
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            snprintf(err, errlen, "chromium exited before the page reported (CHANX_BROWSER_LOG=1 shows why)");
            pid = 0;
            break;
        }
        if (n <= 0)
            continue;
        if ((fds[0].revents & POLLIN) && nconns < MAX_CONNS) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0)
                conns[nconns++] = (conn) { fd, calloc(1, MAX_REQUEST + 1), 0 };
        }
        for (size_t i = 0; i < nconns; i++) {
            if (!(fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            conn *c = &conns[i];
            ssize_t r = c->len < MAX_REQUEST ? read(c->fd, c->buf + c->len, MAX_REQUEST - c->len) : 0;
            if (r > 0)
                c->len += (size_t) r;
            if (r <= 0 || handle(c, html, &report)) {
                close(c->fd);
                free(c->buf);
                conns[i--] = conns[--nconns];
                fds[i + 2] = fds[nconns + 1];
            }
        }
    }
    for (size_t i = 0; i < nconns; i++) {
        close(conns[i].fd);
        free(conns[i].buf);
    }
    close(lfd);
    stop_chromium(pid);
    remove_tree(profile);
    return report;
}
