/*
 * ws_client selftest — the test client tested against a real server.
 *
 * Why against bench/bare_echo and not a mock: everything the project's e2e
 * tests conclude rests on this client reporting statuses, close codes and
 * message order truthfully, and only real sockets exercise the lws paths that
 * produce them (refused upgrades, dropped TCP, partial writes of big frames).
 *
 * Each test gets its own bare_echo child (BARE_ECHO, default $CHANX_TEST_BIN/bench/bare_echo)
 * on a free port, so the SIGKILL test cannot disturb the others. The child
 * asks the kernel to kill it when the test process dies, so a crashing test
 * leaves no server behind even when criterion's fini never runs.
 */
#include "ws_client.h"
#include "tests/kit/clock.h"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static pid_t s_server = -1;
static int s_port;
static int s_stdout = -1;
static char s_url[128];

/* A port nothing listens on right now (the kernel picked it, we let go). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    cr_assert(fd >= 0);
    cr_assert(!bind(fd, (struct sockaddr *) &sa, sizeof sa));
    cr_assert(!getsockname(fd, (struct sockaddr *) &sa, &sl));
    close(fd);
    return ntohs(sa.sin_port);
}

/* Reads the child's stdout until "listening" shows up or 5 s pass. */
static int wait_listening(int fd)
{
    char buf[256];
    size_t used = 0;
    int64_t deadline = cx_kit_now_ms() + 5000;
    while (cx_kit_now_ms() < deadline && used < sizeof buf - 1) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0)
            return 0;
        used += (size_t) n;
        buf[used] = 0;
        if (strstr(buf, "listening"))
            return 1;
    }
    return 0;
}

static void start_server(void)
{
    /* never a default in /tmp: anyone may put a program there, and the tests run as root */
    char built[600];
    snprintf(built, sizeof built, "%s/bench/bare_echo", getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build");
    const char *bin = getenv("BARE_ECHO") ? getenv("BARE_ECHO") : built;
    int pipefd[2];
    char port[16];
    s_port = free_port();
    snprintf(port, sizeof port, "%d", s_port);
    snprintf(s_url, sizeof s_url, "ws://127.0.0.1:%d", s_port);
    cr_assert(!pipe(pipefd));
    s_server = fork();
    cr_assert(s_server >= 0);
    if (s_server == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execl(bin, "bare_echo", "--port", port, (char *) NULL);
        _exit(127);
    }
    close(pipefd[1]);
    s_stdout = pipefd[0];
    cr_assert(wait_listening(s_stdout), "%s did not print 'listening' (built? BARE_ECHO=%s)", bin, bin);
}

static void kill_server(void)
{
    if (s_server > 0) {
        kill(s_server, SIGKILL);
        waitpid(s_server, NULL, 0);
    }
    s_server = -1;
}

static void stop_server(void)
{
    kill_server();
    if (s_stdout >= 0)
        close(s_stdout);
    s_stdout = -1;
}

TestSuite(ws_client, .init = start_server, .fini = stop_server, .timeout = 60);

static cx_ws *open_client(const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", s_url, path);
    cx_ws *ws = cx_ws_connect(url, NULL, 3000);
    cr_assert_not_null(ws);
    cr_assert(cx_ws_is_open(ws), "not open: status %d, %s", cx_ws_http_status(ws), cx_ws_error(ws));
    return ws;
}

static void expect_text(cx_ws *ws, const char *want)
{
    size_t len = 0;
    char *got = cx_ws_recv_text(ws, 3000, &len);
    cr_assert_not_null(got, "no reply, expected %s", want);
    cr_expect_eq(len, strlen(want));
    cr_expect_str_eq(got, want);
    free(got);
}

Test(ws_client, ping_gets_pong_with_custom_headers_and_query)
{
    const char *headers[] = { "Authorization: Bearer abc", "Origin: http://localhost", NULL };
    char url[256];
    snprintf(url, sizeof url, "%s/ws/chat/room?token=x&y=2", s_url);
    cx_ws *ws = cx_ws_connect(url, headers, 3000);
    cr_assert(cx_ws_is_open(ws), "%s", cx_ws_error(ws));
    cr_expect_eq(cx_ws_http_status(ws), 101);
    const char ping[] = "{\"action\": \"ping\", \"payload\": null}";
    cr_assert_eq(cx_ws_send_text(ws, ping, strlen(ping)), 0);
    expect_text(ws, "{\"action\":\"pong\",\"payload\":null}");
    cr_expect(!cx_ws_is_closed(ws));
    cx_ws_destroy(&ws);
    cr_expect_null(ws);
    cx_ws_destroy(&ws);   /* NULL-safe */
}

Test(ws_client, one_mib_text_and_binary_both_ways)
{
    cx_ws *ws = open_client("/");
    char *big = malloc(MIB + 1);
    for (size_t i = 0; i < MIB; i++)
        big[i] = (char) ('a' + i % 23);
    big[MIB] = 0;
    cr_assert_eq(cx_ws_send_text(ws, big, MIB), 0);
    size_t len = 0;
    char *got = cx_ws_recv_text(ws, 5000, &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, (size_t) MIB);
    cr_expect(!memcmp(got, big, MIB), "1 MiB echo differs");
    free(got);

    big[7] = 0;   /* binary may hold NULs */
    int binary = 0;
    cr_assert_eq(cx_ws_send_binary(ws, big, MIB), 0);
    got = cx_ws_recv(ws, 5000, &len, &binary);
    cr_assert_not_null(got);
    cr_expect_eq(len, (size_t) MIB);
    cr_expect_eq(binary, 1);
    cr_expect(!memcmp(got, big, MIB), "1 MiB binary echo differs");
    free(got);

    cr_assert_eq(cx_ws_send_text(ws, "big:1048576", 11), 0);
    got = cx_ws_recv_text(ws, 5000, &len);
    cr_assert_not_null(got);
    cr_expect_eq(len, (size_t) MIB);
    cr_expect_eq(strspn(got, "x"), (size_t) MIB);
    free(got);
    free(big);
    cx_ws_destroy(&ws);
}

Test(ws_client, fragmented_message_is_reassembled)
{
    cx_ws *ws = open_client("/");
    cr_assert_eq(cx_ws_send_text(ws, "frag:30", 7), 0);
    expect_text(ws, "abcdefghijklmnopqrstuvwxyzabcd");
    cr_assert_eq(cx_ws_send_text(ws, "after", 5), 0);
    expect_text(ws, "after");   /* the next message starts clean */
    cx_ws_destroy(&ws);
}

Test(ws_client, burst_of_1000_arrives_in_order)
{
    cx_ws *ws = open_client("/burst");
    char msg[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(msg, sizeof msg, "m%04d", i);
        cr_assert_eq(cx_ws_send_text(ws, msg, (size_t) n), 0);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(msg, sizeof msg, "m%04d", i);
        char *got = cx_ws_recv_text(ws, 3000, NULL);
        cr_assert_not_null(got, "message %d missing", i);
        cr_assert_str_eq(got, msg);
        free(got);
    }
    cr_expect_eq(cx_ws_pending(ws), 0);
    cx_ws_destroy(&ws);
}

Test(ws_client, refused_upgrade_reports_404)
{
    char url[256];
    snprintf(url, sizeof url, "%s/missing/room", s_url);
    cx_ws *ws = cx_ws_connect(url, NULL, 3000);
    cr_assert_not_null(ws);
    cr_expect(!cx_ws_is_open(ws));
    cr_expect(cx_ws_is_closed(ws));
    cr_expect_eq(cx_ws_http_status(ws), 404, "status %d (%s)", cx_ws_http_status(ws), cx_ws_error(ws));
    cr_expect_eq(cx_ws_send_text(ws, "x", 1), -1);
    cr_expect_null(cx_ws_recv_text(ws, 100, NULL));
    cx_ws_destroy(&ws);
}

Test(ws_client, extra_headers_reach_the_server)
{
    char url[256];
    snprintf(url, sizeof url, "%s/auth/room?x=1", s_url);
    cx_ws *ws = cx_ws_connect(url, NULL, 3000);
    cr_expect(!cx_ws_is_open(ws));
    cr_expect_eq(cx_ws_http_status(ws), 403);
    cx_ws_destroy(&ws);
    const char *headers[] = { "Cookie: sessionid=1", "Authorization: Bearer ok", NULL };
    ws = cx_ws_connect(url, headers, 3000);
    cr_expect(cx_ws_is_open(ws), "status %d", cx_ws_http_status(ws));
    cx_ws_destroy(&ws);
}

Test(ws_client, server_close_code_is_reported)
{
    cx_ws *ws = open_client("/");
    cr_assert_eq(cx_ws_send_text(ws, "hello", 5), 0);
    cr_assert_eq(cx_ws_send_text(ws, "close:4403", 10), 0);
    int code = 0;
    cr_assert_eq(cx_ws_wait_closed(ws, 3000, &code), 1);
    cr_expect_eq(code, 4403);
    cr_expect(cx_ws_is_closed(ws));
    expect_text(ws, "hello");   /* received before the close, still queued */
    cr_expect_null(cx_ws_recv_text(ws, 100, NULL));
    cr_expect_eq(cx_ws_send_text(ws, "x", 1), -1);
    cx_ws_destroy(&ws);
}

Test(ws_client, killed_server_gives_1006_and_keeps_queue)
{
    cx_ws *ws = open_client("/");
    cr_assert_eq(cx_ws_send_text(ws, "kept", 4), 0);
    int code = 0;
    /* Times out (server alive) but services the loop: the echo gets queued. */
    cr_assert_eq(cx_ws_wait_closed(ws, 300, &code), 0);
    cr_assert_eq(cx_ws_pending(ws), 1);
    kill_server();
    cr_assert_eq(cx_ws_wait_closed(ws, 3000, &code), 1);
    cr_expect_eq(code, 1006);
    expect_text(ws, "kept");
    cx_ws_destroy(&ws);
}

Test(ws_client, client_close_and_recv_timeout)
{
    cx_ws *ws = open_client("/");
    int64_t t0 = cx_kit_now_ms();
    cr_expect_null(cx_ws_recv_text(ws, 300, NULL));
    int64_t waited = cx_kit_now_ms() - t0;
    cr_expect(waited >= 290 && waited < 1500, "recv timeout took %lld ms", (long long) waited);
    cx_ws_close(ws, 4000);
    cr_expect(cx_ws_is_closed(ws));
    cr_expect_eq(cx_ws_close_code(ws), 4000);
    cx_ws_destroy(&ws);
}

/* Short waits are where a timer ripening just before lws computes its poll
 * timeout would strand us in poll() until an unrelated lws timer (~30 s). */
Test(ws_client, short_timeouts_never_overshoot)
{
    cx_ws *ws = open_client("/");
    int64_t worst = 0;
    for (int i = 0; i < 300; i++) {
        int64_t t0 = cx_kit_now_ms();
        cr_assert_null(cx_ws_recv_text(ws, 1 + i % 3, NULL));
        int64_t took = cx_kit_now_ms() - t0;
        worst = took > worst ? took : worst;
    }
    cr_expect(worst < 500, "a <=3 ms wait took %lld ms", (long long) worst);
    cx_ws_destroy(&ws);
}

Test(ws_client, closed_port_fails_fast_with_status_0)
{
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", free_port());
    int64_t t0 = cx_kit_now_ms();
    cx_ws *ws = cx_ws_connect(url, NULL, 2000);
    int64_t took = cx_kit_now_ms() - t0;
    cr_assert_not_null(ws);
    cr_expect(!cx_ws_is_open(ws));
    cr_expect_eq(cx_ws_http_status(ws), 0);
    cr_expect(took < 2500, "connect took %lld ms", (long long) took);
    int code = 0;
    cr_expect_eq(cx_ws_wait_closed(ws, 10, &code), 1);
    cx_ws_destroy(&ws);
}

Test(ws_client, bad_url_gives_null)
{
    cr_expect_null(cx_ws_connect("ftp://127.0.0.1:1/", NULL, 100));
    cr_expect_null(cx_ws_connect("", NULL, 100));
}

