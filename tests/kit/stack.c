/*
 * stack.c — a private Chanx stack for one test: broker, workers and
 * gateways as child processes on free ports, plus database helpers.
 *
 * Children are started with PR_SET_PDEATHSIG so that they die with the test
 * process however it ends (criterion runs each test in its own process; an
 * assertion or a crash ends it). The kit never starts PostgreSQL itself: a
 * cluster started from inside a test process would outlive a crashed test, so
 * the database comes from CHANX_TEST_DATABASE_URL, which scripts/run-tests
 * sets after starting a cluster it stops on exit, whatever happened.
 *
 * Children's stderr goes to a log folder. Its tail is printed when a stack
 * fails to start, so the failure says why; at stop the logs are scanned for
 * sanitizer reports, so a leak or UB in a child fails the test that caused
 * it instead of scrolling past. A test that crashes keeps its log folder.
 */
#include "chanx/testing.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 8
#define MAX_TOKENS 64

typedef struct {
    pid_t pid;
    int port;
    int metrics_port;   /* CHANX_METRICS_LISTEN, with options.metrics */
    char name[32];
} proc;

struct cx_stack {
    cx_stack_options opt;
    char bin[512], plugins[600], logdir[256], broker[64], database[512], keys[300];
    proc broker_proc, standby_proc, workers[MAX_PROCS], gateways[MAX_PROCS], api_proc;
    char peers_broker[140];   /* CHANX_BROKER of the processes: the broker, or "broker,standby" */
    char **env;               /* the stack's copy of opt.env: processes started later (restarts) still get it */
    PGconn *db;
    struct { int64_t user; char key[48]; const char *headers[2]; char header[80]; } tokens[MAX_TOKENS];
    int ntokens;
    int ports[4 * MAX_PROCS + 2], nports;
    cx_communicator *comms[256];
    int ncomms;
};

/* Implemented in communicator.c. */
void cx_communicator_destroy(cx_communicator **self_p);

/* A port for a child to listen on. Drawn below the kernel's ephemeral range
 * (32768+), which client sockets take their ports from, and never one this
 * stack already handed out: a port is free when tested but bound only later,
 * by the child, so two children could otherwise be given the same one. */
static int free_port(cx_stack *self)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int port = 20000 + rand() % 12000, taken = 0;
        for (int i = 0; i < self->nports; i++)
            taken |= self->ports[i] == port;
        int fd = taken ? -1 : socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int ok = fd >= 0 && bind(fd, (struct sockaddr *) &addr, sizeof addr) == 0;
        if (fd >= 0)
            close(fd);
        if (ok && self->nports < (int) (sizeof self->ports / sizeof self->ports[0])) {
            self->ports[self->nports++] = port;
            return port;
        }
    }
    cr_assert_fail("no free port");
    return -1;
}

static void spawn(cx_stack *self, proc *p, const char *program, char *const argv[])
{
    char path[700], log[400];
    snprintf(path, sizeof path, "%s/%s", self->bin, program);
    snprintf(log, sizeof log, "%s/%s.log", self->logdir, p->name);
    /* A program missing from the bin folder would only show later as a port that never answers. */
    cr_assert(access(path, X_OK) == 0, "cannot start %s: %s: %s (the stack's programs come from .bin, "
              "CHANX_TEST_BIN or build/)", p->name, path, strerror(errno));
    char metrics[64] = "";
    if (self->opt.metrics && !p->metrics_port)
        p->metrics_port = free_port(self);
    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", p->metrics_port);
    pid_t parent = getpid();
    p->pid = fork();
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        FILE *f = fopen(log, "a");
        if (f)
            dup2(fileno(f), STDERR_FILENO);
        setenv("CHANX_BROKER", self->peers_broker, 1);
        setenv("CHANX_FAILOVER_MS", "500", 0);
        setenv("CHANX_DATABASE_URL", self->database, 1);
        setenv("CHANX_HEARTBEAT_MS", "100", 0);
        setenv("CHANX_HEARTBEAT_TIMEOUT_MS", "800", 0);
        setenv("CHANX_DRAIN_MS", "1000", 0);
        if (self->keys[0])
            setenv("CHANX_CURVE_DIR", self->keys, 1);
        if (p->metrics_port)
            setenv("CHANX_METRICS_LISTEN", metrics, 1);
        for (const char *const *e = self->opt.env; e && *e; e++)
            putenv(strdup(*e));
        execv(path, argv);
        fprintf(stderr, "cannot execute %s: %s\n", path, strerror(errno));
        _exit(127);
    }
}

static int cx_env_true(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* A key set as a deployment makes it (chanx-admin keygen), in the log folder. */
static void make_keys(cx_stack *self)
{
    char admin[700];
    snprintf(self->keys, sizeof self->keys, "%s/keys", self->logdir);
    snprintf(admin, sizeof admin, "%s/chanx-admin", self->bin);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execl(admin, "chanx-admin", "keygen", self->keys, (char *) NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "chanx-admin keygen %s failed (status %d)", self->keys,
              status);
}

static void start_worker(cx_stack *self, int i)
{
    proc *p = &self->workers[i];
    snprintf(p->name, sizeof p->name, "worker%d", i);
    char *argv[] = { "chanx-worker", "--plugins", (char *) self->opt.plugins, self->opt.routing ? "--routing" : NULL,
                     (char *) self->opt.routing, NULL };
    spawn(self, p, "chanx-worker", argv);
}

void cx_stack_start_gateway(cx_stack *self, int i)
{
    proc *p = &self->gateways[i];
    snprintf(p->name, sizeof p->name, "gateway%d", i);
    if (!p->port)
        p->port = free_port(self);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p->port);
    char *argv[] = { "chanx-gateway", "--listen", listen, NULL };
    spawn(self, p, "chanx-gateway", argv);
}

/* The publish API; its port is drawn like a gateway's. */
static void start_api(cx_stack *self)
{
    proc *p = &self->api_proc;
    snprintf(p->name, sizeof p->name, "api");
    if (!p->port)
        p->port = free_port(self);
    char listen[64], key[80];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p->port);
    snprintf(key, sizeof key, "CHANX_API_KEY=%s", CX_TEST_API_KEY);
    putenv(key);   /* inherited by the child only: spawn's env list may still override it */
    char *argv[] = { "chanx-api", "--listen", listen, NULL };
    spawn(self, p, "chanx-api", argv);
    unsetenv("CHANX_API_KEY");
}

/* Whether GET /healthz on 127.0.0.1:port answers 200 within ms: chanx-api is ready once it listens, hears
 * the broker and has its route table. A test must not meet a refused connection or a 503 "try again" it
 * would take for the behaviour under test. */
static int healthy_within(int port, int ms)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (int waited = 0; waited <= ms; waited += 20) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        char head[16] = "";
        struct timeval tv = { 1, 0 };
        int ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0
                 && connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0
                 && send(fd, request, sizeof request - 1, MSG_NOSIGNAL) == (ssize_t) sizeof request - 1
                 && recv(fd, head, sizeof head - 1, MSG_WAITALL) > 12 && strncmp(head + 9, "200", 3) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 1;
        usleep(20000);
    }
    return 0;
}

int cx_stack_api_port(const cx_stack *self) { return self->api_proc.port; }
const char *cx_stack_broker(const cx_stack *self) { return self->broker; }

static void stop_proc(proc *p, int sig)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, sig);
    for (int i = 0; i < 300 && waitpid(p->pid, NULL, WNOHANG) == 0; i++)
        usleep(10000);
    if (waitpid(p->pid, NULL, WNOHANG) == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    p->pid = 0;
}

/* GET /healthz; returns the body when the status is 200. */
static int healthz(int port, char *body, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[2048] = "";
    ssize_t n = 0, got;
    if (connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0) {
        const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        /* headers and body may come in separate segments: read until the server closes */
        if (write(fd, req, sizeof req - 1) > 0)
            while (n < (ssize_t) sizeof buf - 1 && (got = read(fd, buf + n, sizeof buf - 1 - (size_t) n)) > 0)
                n += got;
    }
    close(fd);
    if (n < 12 || strncmp(buf + 9, "200", 3) != 0)
        return 0;
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, len, "%s", b ? b + 4 : "");
    return 1;
}

int cx_stack_wait_ready(cx_stack *self, int gateway, int timeout_ms)
{
    char body[512];
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (healthz(self->gateways[gateway].port, body, sizeof body) && !strstr(body, "\"available\":0"))
            return 1;
        usleep(20000);
    }
    return 0;
}

static void print_logs(cx_stack *self)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "tail -n 20 %s/*.log >&2", self->logdir);
    if (system(cmd) != 0)
        fprintf(stderr, "(no logs in %s)\n", self->logdir);
}

static void connect_db(cx_stack *self)
{
    const char *url = getenv("CHANX_TEST_DATABASE_URL");
    cr_assert(url && *url, "CHANX_TEST_DATABASE_URL is not set: run the tests through scripts/run-tests, which "
                           "starts a private PostgreSQL and stops it afterwards (or point it at a test database)");
    snprintf(self->database, sizeof self->database, "%s", url);
    self->db = PQconnectdb(self->database);
    if (PQstatus(self->db) != CONNECTION_OK)
        cr_assert_fail("test database %s: %s", self->database, PQerrorMessage(self->db));
    /* Fixtures say CREATE ... IF NOT EXISTS; "already exists, skipping" is not news. */
    PQclear(PQexec(self->db, "SET client_min_messages = warning"));
}

/* Django's tables plus the test's own, emptied so every test starts clean. */
static void empty_tables(cx_stack *self)
{
    char sql[2048] = "TRUNCATE authtoken_token, django_session, auth_user";
    for (const char *const *t = self->opt.tables; t && *t; t++) {
        size_t n = strlen(sql);
        snprintf(sql + n, sizeof sql - n, ", %s", *t);
    }
    strncat(sql, " RESTART IDENTITY CASCADE", sizeof sql - strlen(sql) - 1);
    cx_db_exec(self, sql);
}

/* Links each "[name=]path.so" of plugin_files into a private folder, so one
 * stack can serve plugins built in different places (an example next to a
 * test plugin), each under the name the routing file uses. */
static void link_plugin_files(cx_stack *self)
{
    snprintf(self->plugins, sizeof self->plugins, "%s/plugins", self->logdir);
    mkdir(self->plugins, 0755);
    for (const char *const *f = self->opt.plugin_files; *f; f++) {
        const char *eq = strchr(*f, '='), *path = eq ? eq + 1 : *f;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        char real[PATH_MAX], link[PATH_MAX + 700];
        cr_assert(realpath(path, real), "plugin file %s: %s", path, strerror(errno));
        if (eq)
            snprintf(link, sizeof link, "%s/%.*s.so", self->plugins, (int) (eq - *f), *f);
        else
            snprintf(link, sizeof link, "%s/%s", self->plugins, base);
        cr_assert(symlink(real, link) == 0, "cannot link %s as %s: %s", real, link, strerror(errno));
    }
    self->opt.plugins = self->plugins;
}

cx_stack *cx_stack_start(const cx_stack_options *options)
{
    cx_stack *self = calloc(1, sizeof *self);
    cr_assert_not_null(self);
    srand((unsigned) getpid() ^ (unsigned) time(NULL));   /* each test process draws its own ports */
    self->opt = *options;
    /* A copy of env: processes started later (restarts, a late gateway) read it after the caller's
     * array (often a compound literal in a setup function) is gone. */
    size_t nenv = 0;
    while (options->env && options->env[nenv])
        nenv++;
    self->env = calloc(nenv + 1, sizeof *self->env);
    cr_assert_not_null(self->env);
    for (size_t i = 0; i < nenv; i++)
        cr_assert_not_null(self->env[i] = strdup(options->env[i]));
    self->opt.env = (const char *const *) self->env;
    if (self->opt.gateways <= 0)
        self->opt.gateways = 1;
    if (self->opt.workers <= 0)
        self->opt.workers = 1;
    cr_assert(self->opt.gateways <= MAX_PROCS && self->opt.workers <= MAX_PROCS, "at most %d workers and gateways",
              MAX_PROCS);
    const char *bin = options->bin ? options->bin : getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(self->bin, sizeof self->bin, "%s", bin);
    /* A folder no one else made or may enter (mkdtemp: a fresh name, mode 0700): it holds the keys,
     * the logs our processes write as root and the plugin links a root worker loads, and a
     * predictable name in /tmp could be made first by any local user (test kit_tmp/...). */
    snprintf(self->logdir, sizeof self->logdir, "/tmp/chanx-test-%d-%ld-XXXXXX", (int) getpid(), (long) time(NULL));
    cr_assert_not_null(mkdtemp(self->logdir), "cannot create the stack's folder in /tmp: %s", strerror(errno));
    if (self->opt.plugin_files)
        link_plugin_files(self);
    else if (!self->opt.plugins) {
        snprintf(self->plugins, sizeof self->plugins, "%s/plugins", bin);
        self->opt.plugins = self->plugins;
    }
    if (!self->opt.plain_links && !cx_env_true("CHANX_TEST_PLAIN_LINKS"))
        make_keys(self);
    connect_db(self);
    for (const char *const *f = options->schema_files; f && *f; f++)
        cx_db_exec_file(self, *f);
    if (!options->keep_tables)
        empty_tables(self);
    snprintf(self->broker, sizeof self->broker, "tcp://127.0.0.1:%d", free_port(self));
    snprintf(self->peers_broker, sizeof self->peers_broker, "%s", self->broker);
    if (self->opt.standby_broker) {
        int port = free_port(self);
        snprintf(self->peers_broker, sizeof self->peers_broker, "%s,tcp://127.0.0.1:%d", self->broker, port);
        snprintf(self->standby_proc.name, sizeof self->standby_proc.name, "standby");
        char bind[64];
        snprintf(bind, sizeof bind, "tcp://127.0.0.1:%d", port);
        char *argv[] = { "chanx-broker", "--bind", bind, NULL };
        spawn(self, &self->standby_proc, "chanx-broker", argv);
    }
    cx_stack_start_broker(self);
    for (int i = 0; i < self->opt.workers; i++)
        start_worker(self, i);
    for (int i = 0; i < self->opt.gateways; i++)
        cx_stack_start_gateway(self, i);
    if (self->opt.api)
        start_api(self);
    for (int i = 0; i < self->opt.gateways; i++)
        if (!cx_stack_wait_ready(self, i, 10000)) {
            print_logs(self);
            cr_assert_fail("gateway %d did not become ready (logs in %s)", i, self->logdir);
        }
    if (self->opt.api && !healthy_within(self->api_proc.port, 10000)) {
        print_logs(self);
        cr_assert_fail("chanx-api was not ready (GET /healthz 200) within 10 s (logs in %s)", self->logdir);
    }
    return self;
}

static int has_sanitizer_report(const char *text)
{
    return strstr(text, "ERROR: AddressSanitizer") || strstr(text, "runtime error:") || strstr(text, "LeakSanitizer")
           || strstr(text, "WARNING: ThreadSanitizer");
}

/* Returns the number of child logs holding a sanitizer report, printing each. */
static int scan_logs_for_sanitizers(cx_stack *self, char *names, size_t len)
{
    DIR *d = opendir(self->logdir);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0)
            continue;
        char path[600], *text = NULL;
        size_t size = 0;
        snprintf(path, sizeof path, "%s/%s", self->logdir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f && getdelim(&text, &size, '\0', f) > 0 && has_sanitizer_report(text)) {
            fprintf(stderr, "==== sanitizer report in %s\n%s\n", path, text);
            if (strlen(names) + n + 3 < len) {
                if (found)
                    strcat(names, ", ");
                strcat(names, e->d_name);
            }
            found++;
        }
        free(text);
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return found;
}

/* criterion decides a test's status before its .fini runs, where stacks are
 * usually stopped, so neither an assertion nor a crash there fails the test.
 * The report is written to $CHANX_TEST_REPORTS, which scripts/run-tests
 * checks after the run (failing it), and the test process aborts so the
 * test is flagged in criterion's output. */
static void report_sanitizer_failure(const char *reports, const char *logdir)
{
    const char *path = getenv("CHANX_TEST_REPORTS");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "sanitizer report in %s (kept in %s)\n", reports, logdir);
        fclose(f);
    }
    cr_log_error("sanitizer report in %s (kept in %s): failing the test", reports, logdir);
    abort();
}

void cx_stack_stop(cx_stack **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_stack *self = *self_p;
    for (int i = 0; i < self->ncomms; i++)
        cx_communicator_destroy(&self->comms[i]);
    stop_proc(&self->api_proc, SIGTERM);
    for (int i = 0; i < self->opt.gateways; i++)
        stop_proc(&self->gateways[i], SIGTERM);
    for (int i = 0; i < self->opt.workers; i++)
        stop_proc(&self->workers[i], SIGTERM);
    stop_proc(&self->broker_proc, SIGTERM);
    stop_proc(&self->standby_proc, SIGTERM);
    PQfinish(self->db);
    char reports[256] = "", logdir[sizeof self->logdir];
    int dirty = scan_logs_for_sanitizers(self, reports, sizeof reports);
    snprintf(logdir, sizeof logdir, "%s", self->logdir);
    if (!dirty && !getenv("CHANX_TEST_KEEP_LOGS")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", self->logdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", self->logdir);
    }
    for (size_t i = 0; self->env && self->env[i]; i++)
        free(self->env[i]);
    free(self->env);
    free(self);
    *self_p = NULL;
    if (dirty)
        report_sanitizer_failure(reports, logdir);
}

const char *cx_stack_database(const cx_stack *self) { return self->database; }
int cx_stack_gateway_port(const cx_stack *self, int index) { return self->gateways[index].port; }

const char *cx_stack_log_dir(const cx_stack *self) { return self->logdir; }
const char *cx_stack_keys_dir(const cx_stack *self) { return self->keys[0] ? self->keys : NULL; }
const char *cx_stack_broker_endpoint(const cx_stack *self) { return self->broker; }

int cx_stack_metrics_port(const cx_stack *self, const char *name)
{
    if (strcmp(name, "broker") == 0)
        return self->broker_proc.metrics_port;
    if (strcmp(name, "standby") == 0)
        return self->standby_proc.metrics_port;
    for (int i = 0; i < MAX_PROCS; i++) {
        if (strcmp(self->workers[i].name, name) == 0)
            return self->workers[i].metrics_port;
        if (strcmp(self->gateways[i].name, name) == 0)
            return self->gateways[i].metrics_port;
    }
    return 0;
}

/* A worker's first worker process (chanx-worker supervises the processes that run the plugins), waiting
 * up to 5 s for one to be running; the supervisor itself when it runs none (CHANX_WORKER_PROCESSES=0). */
static int worker_process(pid_t supervisor)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int) supervisor, (int) supervisor);
    for (int waited = 0; supervisor > 0 && waited < 5000; waited += 20) {
        FILE *f = fopen(path, "r");
        int child = 0;
        if (f && fscanf(f, "%d", &child) != 1)
            child = 0;
        if (f)
            fclose(f);
        if (child > 0 || !f)
            return child > 0 ? child : supervisor;
        usleep(20 * 1000);
    }
    return supervisor;
}

int cx_stack_pid(const cx_stack *self, const char *name)
{
    if (strcmp(name, "broker") == 0)
        return self->broker_proc.pid;
    if (strcmp(name, "api") == 0)
        return self->api_proc.pid;
    for (int i = 0; i < MAX_PROCS; i++) {
        if (strcmp(self->workers[i].name, name) == 0)
            return worker_process(self->workers[i].pid);
        if (strcmp(self->gateways[i].name, name) == 0)
            return self->gateways[i].pid;
    }
    return 0;
}

void cx_stack_kill_worker(cx_stack *self, int index, int sig) { stop_proc(&self->workers[index], sig); }
void cx_stack_kill_gateway(cx_stack *self, int index, int sig) { stop_proc(&self->gateways[index], sig); }
void cx_stack_restart_worker(cx_stack *self, int index) { start_worker(self, index); }
void cx_stack_kill_broker(cx_stack *self, int sig) { stop_proc(&self->broker_proc, sig); }

/* On the stack's endpoint, so a restarted broker is found by the peers' reconnects. */
void cx_stack_start_broker(cx_stack *self)
{
    snprintf(self->broker_proc.name, sizeof self->broker_proc.name, "broker");
    char *argv[] = { "chanx-broker", NULL };
    spawn(self, &self->broker_proc, "chanx-broker", argv);
}

/* Registry so forgotten communicators close at cx_stack_stop. */
void cx_stack_adopt_communicator(cx_stack *self, cx_communicator *c)
{
    if (self->ncomms < (int) (sizeof self->comms / sizeof self->comms[0]))
        self->comms[self->ncomms++] = c;
}

/* ------------------------------------------------------------ database */

void cx_db_exec(cx_stack *self, const char *sql)
{
    PGresult *res = PQexec(self->db, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char err[512];
        snprintf(err, sizeof err, "%s", PQresultErrorMessage(res));
        PQclear(res);
        cr_assert_fail("SQL failed: %s\n%s", err, sql);
    }
    PQclear(res);
}

void cx_db_exec_file(cx_stack *self, const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    char *sql = NULL;
    size_t len = 0;
    if (getdelim(&sql, &len, '\0', f) < 0)
        cr_assert_fail("cannot read %s", path);
    fclose(f);
    cx_db_exec(self, sql);
    free(sql);
}

int64_t cx_db_create_user(cx_stack *self, const char *username, int flags)
{
    const char *params[4] = { username, flags & CX_USER_STAFF_FLAG ? "t" : "f",
                              flags & CX_USER_SUPERUSER_FLAG ? "t" : "f", flags & CX_USER_INACTIVE_FLAG ? "f" : "t" };
    PGresult *res = PQexecParams(self->db,
                                 "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
                                 "email, is_staff, is_active, date_joined) VALUES ('!', $3, $1, '', '', '', $2, $4, "
                                 "now()) RETURNING id", 4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        cr_assert_fail("cannot create user %s: %s", username, PQresultErrorMessage(res));
    int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return id;
}

static int token_slot(cx_stack *self, int64_t user)
{
    for (int i = 0; i < self->ntokens; i++)
        if (self->tokens[i].user == user)
            return i;
    cr_assert_lt(self->ntokens, MAX_TOKENS);
    int i = self->ntokens++;
    self->tokens[i].user = user;
    char key[48];
    snprintf(key, sizeof key, "%016llx%016llx%08x", (unsigned long long) user * 7919, (unsigned long long) random(),
             (unsigned) getpid());
    memcpy(self->tokens[i].key, key, sizeof key);
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long) user);
    const char *params[2] = { self->tokens[i].key, id };
    PGresult *res = PQexecParams(self->db, "INSERT INTO authtoken_token (key, created, user_id) VALUES ($1, now(), $2)",
                                 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        cr_assert_fail("cannot create token: %s", PQresultErrorMessage(res));
    PQclear(res);
    snprintf(self->tokens[i].header, sizeof self->tokens[i].header, "Authorization: Token %s", key);
    self->tokens[i].headers[0] = self->tokens[i].header;
    self->tokens[i].headers[1] = NULL;
    return i;
}

const char *cx_db_token(cx_stack *self, int64_t user_id)
{
    return self->tokens[token_slot(self, user_id)].key;
}

const char *const *cx_db_token_header(cx_stack *self, int64_t user_id)
{
    return self->tokens[token_slot(self, user_id)].headers;
}
