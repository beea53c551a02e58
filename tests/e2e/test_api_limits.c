/*
 * The publish API cannot be locked out without a key (issue 28, 6):
 * 1,010 connections trickling a request head kept libmicrohttpd's 1,000
 * slots busy and every legitimate request timed out, /healthz included;
 * each aborted request wrote a raw line into the JSON log; and a request
 * waiting for a stopped broker held even 401 answers on the API's one
 * thread. Here one address holds at most CHANX_API_MAX_CONNECTIONS_PER_ADDRESS
 * connections, a request head must be whole within CHANX_API_HEAD_TIMEOUT_SECS
 * however it trickles, the log stays JSON, and a request waiting for the
 * broker holds nobody else's answer.
 */
#include "test_events.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const settings[] = { "CHANX_API_HEAD_TIMEOUT_SECS=3", "CHANX_API_MAX_CONNECTIONS_PER_ADDRESS=16",
                                        "CHANX_API_TIMEOUT_MS=10000", "CHANX_HEARTBEAT_TIMEOUT_MS=15000", NULL };
static cx_stack *stack;
static void setup(void) { stack = events_stack_start(1, settings); }
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(api_limits, .init = setup, .fini = teardown, .timeout = 120);

static const char EVENT[] = "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"notify\", \"payload\": 1}}";

/* A TCP connection to the API from source address (127.0.0.x), -1 when refused. */
static int dial_from(const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET,
                                                              .sin_port = htons((uint16_t) cx_stack_api_port(stack)),
                                                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    inet_pton(AF_INET, source, &from.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *) &from, sizeof from) != 0
        || connect(fd, (struct sockaddr *) &to, sizeof to) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void send_text(int fd, const char *text)
{
    send(fd, text, strlen(text), MSG_NOSIGNAL);
}

/* An HTTP answer's status read within ms (0: none came: timeout or the connection ended). */
static int read_status(int fd, int ms)
{
    char buf[4096];
    size_t len = 0;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (len < sizeof buf - 1 && poll(&p, 1, ms) == 1) {
        ssize_t got = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (got <= 0)
            break;
        len += (size_t) got;
        buf[len] = '\0';
        int status = 0;
        if (strstr(buf, "\r\n") && sscanf(buf, "HTTP/1.%*d %d", &status) == 1)
            return status;
    }
    return 0;
}

/* Whether the server ended the connection (EOF or reset) within ms. */
static int ended_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char c;
    return poll(&p, 1, ms) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static void assert_log_is_json(void)
{
    char path[700], *line = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/api.log", cx_stack_log_dir(stack));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    int n = 0;
    for (ssize_t len; (len = getline(&line, &size, f)) > 0; n++) {
        json_t *record = json_loads(line, 0, NULL);
        cr_assert(json_is_object(record), "api.log line %d is not JSON: %s", n + 1, line);
        json_decref(record);
    }
    free(line);
    fclose(f);
}

static void assert_healthz_and_publish_answered(void)
{
    int fd = dial_from("127.0.0.1");
    cr_assert(fd >= 0, "the API refused a connection from a fresh address");
    send_text(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq(read_status(fd, 5000), 200, "/healthz was not answered");
    close(fd);
    json_t *reply = NULL;
    cr_assert_eq(cx_api_post(stack, "/api/broadcast", CX_TEST_API_KEY, EVENT, &reply), 200);
    json_decref(reply);
}

Test(api_limits, a_request_head_trickled_a_line_at_a_time_is_cut_at_its_deadline)
{
    int fd = dial_from("127.0.0.1");
    cr_assert(fd >= 0);
    send_text(fd, "POST /api/broadcast HTTP/1.1\r\nHost: x\r\n");
    int ended = 0;
    for (int i = 0; i < 12 && !ended; i++) {   /* one line a second: never idle, never done */
        char line[64];
        snprintf(line, sizeof line, "X-Slow-%d: 1\r\n", i);
        send_text(fd, line);
        ended = ended_within(fd, 1000);
    }
    close(fd);
    cr_assert(ended, "a head trickled for 12 s still held its connection (deadline 3 s)");
    char *log = cx_stack_log(stack, "api", "request heads too slow", 5000);
    cr_assert_not_null(log, "the cut left no log record");
    free(log);
    assert_healthz_and_publish_answered();
    assert_log_is_json();
}

Test(api_limits, a_thousand_trickling_connections_from_one_address_lock_out_nobody)
{
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    cr_assert_geq(nofile.rlim_cur, 1100, "the test needs 1,100 descriptors");
    static int fds[1010];
    for (int i = 0; i < 1010; i++) {   /* the attack: heads that never end, from 127.0.0.2 */
        fds[i] = dial_from("127.0.0.2");
        if (fds[i] >= 0)
            send_text(fds[i], "POST /api/broadcast HTTP/1.1\r\nHost: x\r\n");
    }
    assert_healthz_and_publish_answered();
    for (int i = 0; i < 1010; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    assert_log_is_json();
}

Test(api_limits, a_request_waiting_for_a_stopped_broker_holds_no_other_answer)
{
    json_t *reply = NULL;   /* the API knows the route table: the publish below is not refused before it waits */
    cr_assert_eq(cx_api_post(stack, "/api/broadcast", CX_TEST_API_KEY, EVENT, &reply), 200);
    json_decref(reply);
    pid_t broker = cx_stack_pid(stack, "broker");
    cr_assert_eq(kill(broker, SIGSTOP), 0);
    int waiting = dial_from("127.0.0.1"), other = dial_from("127.0.0.1");
    char req[512];
    snprintf(req, sizeof req,
             "POST /api/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Authorization: apikey %s\r\nConnection: close\r\n\r\n%s", strlen(EVENT), CX_TEST_API_KEY, EVENT);
    send_text(waiting, req);
    usleep(200000);   /* the publish is at the API, waiting for the broker's answer */
    snprintf(req, sizeof req,
             "POST /api/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Authorization: apikey wrong\r\nConnection: close\r\n\r\n%s", strlen(EVENT), EVENT);
    send_text(other, req);
    int status = read_status(other, 8000);   /* the publish waits 10 s (CHANX_API_TIMEOUT_MS) */
    struct pollfd p = { .fd = waiting, .events = POLLIN };
    int first_answered = poll(&p, 1, 0) == 1;
    kill(broker, SIGCONT);
    cr_assert_eq(status, 401, "the wrong key was not answered while another request waited for the broker");
    cr_assert(!first_answered, "the publish did not wait for the stopped broker: the test proves nothing");
    int later = read_status(waiting, 20000);
    cr_assert(later == 200 || later == 503, "the waiting publish was answered %d", later);
    close(waiting);
    close(other);
}
