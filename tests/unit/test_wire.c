/*
 * The gateway's recv() (gateway/wire.h) on a real socket: a socketpair whose
 * one end is registered as a client socket and read through wire.c, as
 * libwebsockets reads it; the other end is the client. Here: requests the
 * client pipelines into one segment, each head checked, and frames after a
 * pipelined upgrade audited (found by tests/fuzz/fuzz_wire).
 */
#include "gateway/wire.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int client, gateway_fd;

static void setup(void)
{
    int sv[2];
    cr_assert_eq(cx_wire_init(), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    gateway_fd = sv[0];
    client = sv[1];
    fcntl(gateway_fd, F_SETFL, O_NONBLOCK);
    cx_wire_accept(gateway_fd);
}

static void teardown(void)
{
    close(gateway_fd);
    close(client);
}

TestSuite(wire, .init = setup, .fini = teardown, .timeout = 30);

static void client_sends(const void *bytes, size_t n)
{
    cr_assert_eq(write(client, bytes, n), (ssize_t) n);
}

typedef struct {
    int code, is_close, calls;
} verdict;

static void on_verdict(uint64_t conn, int code, const char *reason, int is_close, void *arg)
{
    verdict *v = arg;
    cr_assert_eq(conn, 7);
    cr_assert(reason != NULL);
    v->code = code;
    v->is_close = is_close;
    v->calls++;
}

Test(wire, a_head_pipelined_after_a_plain_request_is_checked_too)
{
    /* Before: only the first head of a segment was scanned, so %00 (and heads past 8192 bytes)
     * reached lws in the second. */
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /ws/a%00b/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    client_sends(req, sizeof req - 1);
    char buf[4096];
    cr_assert_eq(recv(gateway_fd, buf, sizeof buf, 0), 0, "the stream must end for lws at the refused head");
    char answer[512] = "";
    cr_assert_gt(read(client, answer, sizeof answer - 1), 0);
    cr_assert(strncmp(answer, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "answer: %s", answer);
    cr_assert(strstr(answer, "%00") != NULL, "the answer says why: %s", answer);
}

Test(wire, frames_after_a_pipelined_upgrade_are_audited)
{
    /* Before: the upgrade in the second head went unnoticed, and its frames passed unaudited. */
    const char plain[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const char upgrade[] = "GET /ws/echo/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    const unsigned char unmasked[] = { 0x81, 0x02, 'h', 'i' };
    char seg[512];
    size_t n = 0;
    memcpy(seg + n, plain, sizeof plain - 1), n += sizeof plain - 1;
    memcpy(seg + n, "\r\n", 2), n += 2;   /* an empty line between requests, which lws would refuse */
    memcpy(seg + n, upgrade, sizeof upgrade - 1), n += sizeof upgrade - 1;
    memcpy(seg + n, unmasked, sizeof unmasked), n += sizeof unmasked;
    client_sends(seg, n);

    char buf[4096];
    ssize_t got = recv(gateway_fd, buf, sizeof buf, 0);
    size_t heads = sizeof plain - 1 + sizeof upgrade - 1;
    cr_assert_eq(got, (ssize_t) heads, "lws gets both heads, without the empty line or the bad frame");
    cr_assert(memcmp(buf, plain, sizeof plain - 1) == 0);
    cr_assert(memcmp(buf + sizeof plain - 1, upgrade, sizeof upgrade - 1) == 0);
    cx_wire_established(gateway_fd, 7, 0);
    verdict v = { 0 };
    cx_wire_collect(on_verdict, &v);
    cr_assert_eq(v.calls, 1);
    cr_assert_eq(v.code, 1002, "an unmasked client frame fails the connection with 1002");
    cr_assert_eq(v.is_close, 0);
}

Test(wire, a_segment_holding_two_plain_requests_passes_whole)
{
    const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    client_sends(req, sizeof req - 1);
    char buf[4096];
    cr_assert_eq(recv(gateway_fd, buf, sizeof buf, 0), (ssize_t) sizeof req - 1);
    cr_assert(memcmp(buf, req, sizeof req - 1) == 0);
    errno = 0;
    cr_assert_eq(recv(gateway_fd, buf, sizeof buf, 0), -1);
    cr_assert_eq(errno, EAGAIN, "nothing more: the connection waits for lws's answers");
}
