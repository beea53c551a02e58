/*
 * supervisor.c — chanx-worker keeps CHANX_WORKER_PROCESSES worker processes
 * running, the way nginx's master, PostgreSQL's postmaster and gunicorn's
 * arbiter do.
 *
 * Why: plugins are native code, and a crash in one callback cannot be caught
 * inside the process that ran it. So the plugins live in children, and the
 * supervisor, which loads no plugin code, survives them: a child that dies
 * is restarted at once, and with a growing delay (100 ms doubling to 30 s)
 * when it keeps dying within STABLE_MS of its start, so a plugin that
 * crashes while loading, or on every connection, never makes it loop hot.
 *
 * How the broker learns of a death at once: the supervisor has a broker
 * link of its own (HELLO with the supervisor flag; it serves nothing) and
 * sends WORKER_EXIT the moment it reaps a child (SIGCHLD, through a
 * self-pipe into its poll loop), instead of the broker waiting for the
 * child's heartbeats to stop. Which connection's callback crashed comes
 * from the child itself: its fatal-signal handler writes a fixed-size note
 * into a pipe every child inherits (workers/crash_report.h) before it dies,
 * so the note is always there when the death is reaped. The pipe is not
 * an inter-program contract: both ends are this program.
 *
 * Children are started by fork and exec of this same program
 * (/proc/self/exe, with --worker-process): a clean process, with none of
 * the supervisor's ZeroMQ state, which does not survive a fork. A child
 * dies with its supervisor (PR_SET_PDEATHSIG SIGKILL): a supervisor killed
 * outright leaves no worker behind, as a single worker process did.
 * SIGTERM or SIGINT to the supervisor is passed to every child, each drains
 * as a worker always has (closes its connections with 1012), and the
 * supervisor exits once all have. A child that exits with
 * CX_WORKER_EXIT_CONFIG (a wrong routing file) stops everything: a restart
 * would fail the same way. A plugin that keeps crashing is quarantined
 * (workers/quarantine.h): the processes started next do not load that
 * version; the loop watches for a new one, so a lift is logged (and, under
 * isolation, the file's processes started) when it is deployed.
 *
 * With CHANX_ISOLATE=plugin (workers/isolation.h) each plugin file gets
 * CHANX_WORKER_PROCESSES processes of its own, each loading only that file
 * (--only), so a crash never touches another plugin's connections. Slots
 * then follow the folder: a file that appears gets processes, a file that
 * goes has its processes drained and not restarted, and a quarantined file
 * gets no process until a new version of it is deployed.
 */

#include "workers/supervisor.h"
#include "workers/crash_report.h"
#include "workers/isolation.h"
#include "workers/quarantine.h"
#include "common/link.h"
#include "common/log.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCESSES 64         /* per plugin file under CHANX_ISOLATE=plugin */
#define MAX_SLOTS 256
#define STABLE_MS 10000        /* a child that lived this long was healthy: restarted at once */
#define FIRST_DELAY_MS 100
#define MAX_DELAY_MS 30000

typedef struct {
    int used;                  /* the slot is in use (under isolation a slot is freed when its file goes) */
    char plugin[256];          /* CHANX_ISOLATE=plugin: the one plugin file it loads ("chat.so"); "": all */
    int retiring;              /* its plugin file went: drained and not restarted */
    int held;                  /* its plugin file is quarantined: not started until a new version comes */
    pid_t pid;                 /* 0: not running */
    int64_t started;
    int64_t restart_at;        /* when not running: when to start it */
    int delay_ms;              /* the last restart's delay, doubled while it keeps dying */
    cx_crash_note note;        /* its crash note, if it wrote one (note.pid == pid) */
    int quarantined;           /* its crash quarantined the plugin (told to the broker) */
} child;

struct cx_supervisor {
    cx_supervisor_options opt;
    char node[200];            /* our link's name; children are node-<pid> */
    char exe[512];             /* this program's path: the children's argv[0], which crash reports' frames name */
    cx_link *link;
    int notes[2];              /* children's crash notes: they write [1], we read [0] */
    int processes;             /* CHANX_WORKER_PROCESSES: in all, or per plugin file under isolation */
    int nslots;                /* slots [0, nslots) may be in use */
    child children[MAX_SLOTS];
    cx_isolation *isolation;   /* CHANX_ISOLATE=plugin: the folder's plugin files; NULL otherwise */
    int config_error;
    cx_quarantine *quarantine; /* plugin files that crashed too often (quarantine.h) */
};

static int sigchld_pipe[2] = { -1, -1 };

static void on_sigchld(int sig)
{
    (void) sig;
    int saved = errno;
    if (write(sigchld_pipe[1], "c", 1) < 0) { /* full: a wake-up is already pending */ }
    errno = saved;
}

static int make_pipe(int fds[2], int cloexec_write_end)
{
    if (pipe2(fds, O_NONBLOCK) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    if (cloexec_write_end)
        fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

cx_supervisor *cx_supervisor_new(const cx_supervisor_options *options)
{
    cx_supervisor *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->opt = *options;
    self->processes = options->processes < 1 ? 1 : options->processes > MAX_PROCESSES ? MAX_PROCESSES
                                                                                       : options->processes;
    self->notes[0] = self->notes[1] = -1;
    self->quarantine = cx_quarantine_new();
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(self->node, sizeof self->node, "worker-%s-%d", host, (int) getpid());
    ssize_t n = readlink("/proc/self/exe", self->exe, sizeof self->exe - 1);
    snprintf(self->exe + (n > 0 ? n : 0), sizeof self->exe - (size_t) (n > 0 ? n : 0), "%s", n > 0 ? "" : "chanx-worker");
    /* The children inherit the notes' write end across exec (it is their crash pipe); nothing else. */
    if (!self->quarantine || make_pipe(self->notes, 0) != 0 || (sigchld_pipe[0] < 0 && make_pipe(sigchld_pipe, 1) != 0)) {
        cx_error("cannot make the supervisor's pipes: %s", strerror(errno));
        cx_supervisor_destroy(&self);
        return NULL;
    }
    if (options->isolate && !(self->isolation = cx_isolation_new(options->plugins))) {
        cx_supervisor_destroy(&self);
        return NULL;
    }
    if (!options->isolate)
        for (int i = self->nslots = self->processes; i-- > 0;)
            self->children[i].used = 1;
    self->link = cx_link_new(options->endpoint, CX_ROLE_WORKER, self->node);
    if (!self->link) {
        cx_supervisor_destroy(&self);
        return NULL;
    }
    cx_link_set_hello_flags(self->link, CX_HELLO_SUPERVISOR);
    struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    return self;
}

void cx_supervisor_destroy(cx_supervisor **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_supervisor *self = *self_p;
    cx_link_destroy(&self->link);
    cx_quarantine_destroy(&self->quarantine);
    cx_isolation_destroy(&self->isolation);
    for (int i = 0; i < 2; i++)
        if (self->notes[i] >= 0)
            close(self->notes[i]);
    free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------ children */

/* fork, then exec this program as a worker process. Between the two only async-signal-safe calls: the
 * supervisor's ZeroMQ threads are not in the child. */
static void start_child(cx_supervisor *self, int slot)
{
    child *c = &self->children[slot];
    char fd[16], index[16];
    snprintf(fd, sizeof fd, "%d", self->notes[1]);
    snprintf(index, sizeof index, "%d", slot);
    char *argv[18 + 2 * CX_QUARANTINE_MAX] = { self->exe, "--broker", (char *) self->opt.endpoint, "--plugins",
                       (char *) self->opt.plugins, "--worker-process", self->node, "--slot", index,
                       "--crash-fd", fd };
    int n = 11;
    if (self->opt.routing) {
        argv[n++] = "--routing";
        argv[n++] = (char *) self->opt.routing;
    }
    if (c->plugin[0]) {
        argv[n++] = "--only";
        argv[n++] = c->plugin;
    }
    n += cx_quarantine_args(self->quarantine, argv + n);
    argv[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    if (pid < 0) {
        cx_error("cannot start worker process %d: %s", slot, strerror(errno));
        c->restart_at = cx_now_ms() + MAX_DELAY_MS / 10;
        return;
    }
    c->pid = pid;
    c->started = cx_now_ms();
    c->note = (cx_crash_note) { 0 };
    c->quarantined = 0;
    char peer[240];
    snprintf(peer, sizeof peer, "%s-%d", self->node, (int) pid);
    json_t *fields = json_pack("{s:i, s:i, s:s}", "slot", slot, "pid", (int) pid, "peer", peer);
    if (c->plugin[0])
        json_object_set_new(fields, "plugin_file", json_string(c->plugin));
    cx_log_fields(CX_LOG_INFO, "worker process started", fields);
}

/* Notes written by children about to die: kept with the child they name. */
static void read_notes(cx_supervisor *self)
{
    cx_crash_note note;
    while (read(self->notes[0], &note, sizeof note) == (ssize_t) sizeof note) {
        if (note.magic != CX_CRASH_NOTE_MAGIC)
            continue;
        note.consumer[sizeof note.consumer - 1] = note.callback[sizeof note.callback - 1] = '\0';
        note.plugin_file[sizeof note.plugin_file - 1] = '\0';
        int quarantined = cx_quarantine_count_crash(self->quarantine, note.plugin_file);
        for (int i = 0; i < self->nslots; i++)
            if (self->children[i].pid == note.pid) {
                self->children[i].note = note;
                self->children[i].quarantined = quarantined;
            }
    }
}

static void tell_broker(cx_supervisor *self, const child *c, int signo)
{
    char node[240];
    snprintf(node, sizeof node, "%s-%d", self->node, (int) c->pid);
    int noted = c->note.pid == c->pid;
    cx_env env = { .type = CX_ENV_WORKER_EXIT, .node = cx_slice_of(node), .pid = (uint64_t) c->pid,
                   .code = (uint32_t) signo, .conn = noted ? c->note.conn : 0,
                   .consumer = cx_slice_of(noted ? c->note.consumer : ""),
                   .text = cx_slice_of(noted ? c->note.callback : ""),
                   .flags = noted && c->quarantined ? CX_WORKER_EXIT_QUARANTINED : 0 };
    if (cx_link_send(self->link, &env) != 0)
        cx_warn("cannot tell the broker that worker process %d died", (int) c->pid);
}

/* When a child that died is started again: at once after a healthy run, later each time it dies young. */
static void schedule_restart(child *c, int64_t now)
{
    if (now - c->started >= STABLE_MS)
        c->delay_ms = 0;
    else
        c->delay_ms = c->delay_ms ? (c->delay_ms * 2 > MAX_DELAY_MS ? MAX_DELAY_MS : c->delay_ms * 2) : FIRST_DELAY_MS;
    c->restart_at = now + c->delay_ms;
}

static void child_died(cx_supervisor *self, int slot, int status, int stopping)
{
    child *c = &self->children[slot];
    if (c->retiring) {   /* its plugin file went: the slot is free again */
        cx_log_fields(CX_LOG_INFO, "worker process stopped: its plugin file was removed",
                      json_pack("{s:i, s:i, s:s}", "slot", slot, "pid", (int) c->pid, "plugin_file", c->plugin));
        *c = (child) { 0 };
        return;
    }
    int signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0, code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int noted = c->note.pid == c->pid;
    if (!stopping || signo) {
        json_t *fields = json_pack("{s:i, s:i, s:i, s:i}", "slot", slot, "pid", (int) c->pid, "signal", signo,
                                   "exit_status", code);
        if (noted)
            json_object_update_new(fields, json_pack("{s:s, s:s, s:s, s:I}", "plugin_file", c->note.plugin_file,
                                                     "consumer", c->note.consumer, "callback", c->note.callback,
                                                     "conn", (json_int_t) c->note.conn));
        const char *what = !noted ? "worker process died"
                           : c->note.callback[0] ? "worker process crashed in a consumer callback"
                                                 : "worker process crashed";
        cx_log_fields(stopping ? CX_LOG_INFO : CX_LOG_ERROR, what, fields);
    }
    if (!stopping)
        tell_broker(self, c, signo);
    if (code == CX_WORKER_EXIT_CONFIG)
        self->config_error = 1;
    int64_t now = cx_now_ms();
    schedule_restart(c, now);
    c->pid = 0;
    if (!stopping && !self->config_error && c->delay_ms > 0)
        cx_log_fields(CX_LOG_WARNING, "worker process keeps dying: restart delayed",
                      json_pack("{s:i, s:i}", "slot", slot, "delay_ms", c->delay_ms));
}

/* Every child that ended since the last call. */
static void reap(cx_supervisor *self, int stopping)
{
    char drain[64];
    while (read(sigchld_pipe[0], drain, sizeof drain) > 0) {}
    read_notes(self);   /* before waitpid: a crashed child's note was written before it died */
    int status;
    for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;)
        for (int i = 0; i < self->nslots; i++)
            if (self->children[i].pid == pid)
                child_died(self, i, status, stopping);
}

/* ------------------------------------------------ one plugin per process */

/* A free slot, or NULL when all MAX_SLOTS are taken. */
static child *free_slot(cx_supervisor *self)
{
    for (int i = 0; i < MAX_SLOTS; i++)
        if (!self->children[i].used) {
            if (i >= self->nslots)
                self->nslots = i + 1;
            return &self->children[i];
        }
    return NULL;
}

/* Running or due processes of the plugin file (not counting those being stopped). */
static int processes_of(const cx_supervisor *self, const char *file)
{
    int n = 0;
    for (int i = 0; i < self->nslots; i++)
        n += self->children[i].used && !self->children[i].retiring && strcmp(self->children[i].plugin, file) == 0;
    return n;
}

/* CHANX_ISOLATE=plugin: the slots follow the folder. A file that went has its processes drained (SIGTERM,
 * as at shutdown: their clients get 1012 and reconnect); a new file gets CHANX_WORKER_PROCESSES slots,
 * started by start_due. */
static void follow_folder(cx_supervisor *self)
{
    for (int i = 0; i < self->nslots; i++) {
        child *c = &self->children[i];
        if (!c->used || c->retiring || cx_isolation_has(self->isolation, c->plugin))
            continue;
        if (!c->pid) {
            *c = (child) { 0 };
            continue;
        }
        c->retiring = 1;
        kill(c->pid, SIGTERM);
    }
    for (size_t f = 0; f < cx_isolation_count(self->isolation); f++) {
        const char *file = cx_isolation_file(self->isolation, f);
        for (int n = processes_of(self, file); n < self->processes; n++) {
            child *c = free_slot(self);
            if (!c) {
                cx_error("plugin %s: no room for its worker processes (at most %d in all)", file, MAX_SLOTS);
                return;
            }
            *c = (child) { .used = 1 };
            snprintf(c->plugin, sizeof c->plugin, "%s", file);
        }
    }
}

/* Under isolation, whether c's plugin file is quarantined: its processes wait for a new version (the
 * folder's inotify event wakes the loop), which then starts at once, without the backoff it had. */
static int isolated_held(cx_supervisor *self, child *c, int64_t now)
{
    if (!c->plugin[0])
        return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", self->opt.plugins, c->plugin);
    int held = cx_quarantine_holds(self->quarantine, path);
    if (c->held && !held) {
        c->restart_at = now;
        c->delay_ms = 0;
    }
    c->held = held;
    return held;
}

static int start_due(cx_supervisor *self)
{
    int64_t now = cx_now_ms(), next = -1;
    for (int i = 0; i < self->nslots; i++) {
        child *c = &self->children[i];
        if (!c->used || c->pid || isolated_held(self, c, now))
            continue;
        if (c->restart_at <= now)
            start_child(self, i);
        else if (next < 0 || c->restart_at - now < next)
            next = c->restart_at - now;
    }
    return (int) next;
}

static int running(const cx_supervisor *self)
{
    int n = 0;
    for (int i = 0; i < self->nslots; i++)
        n += self->children[i].pid != 0;
    return n;
}

/* -------------------------------------------------------------- the loop */

/* HELLO (as a supervisor) and an empty re-announcement: we hold no connection. */
static void introduce(cx_supervisor *self)
{
    cx_link_hello(self->link);
    cx_env done = { .type = CX_ENV_RESUME, .conn = 0 };
    cx_link_send(self->link, &done);
}

static void drain_link(cx_supervisor *self)
{
    cx_env env;
    for (cx_link_event ev; (ev = cx_link_recv(self->link, &env)) != CX_LINK_NONE;)
        if (ev == CX_LINK_REINTRODUCE)
            introduce(self);
}

/* SIGTERM to each child; they drain; we wait for all (reaping as they go). */
static void stop_children(cx_supervisor *self)
{
    for (int i = 0; i < self->nslots; i++)
        if (self->children[i].pid)
            kill(self->children[i].pid, SIGTERM);
    while (running(self) > 0) {
        struct pollfd fd = { .fd = sigchld_pipe[0], .events = POLLIN };
        poll(&fd, 1, 200);
        reap(self, 1);
    }
}

int cx_supervisor_run(cx_supervisor *self, volatile int *stop)
{
    if (self->isolation) {
        cx_info("worker supervisor %s keeps %d worker processes per plugin file running (CHANX_ISOLATE=plugin, "
                "%zu files)", self->node, self->processes, cx_isolation_count(self->isolation));
        follow_folder(self);
    } else {
        cx_info("worker supervisor %s keeps %d worker processes running", self->node, self->processes);
    }
    introduce(self);
    /* The folders of quarantined files (a new version lifts at once), then, under isolation, the
     * plugin folder; either may be absent (-1: zmq_poll ignores no fd, so they go last). */
    zmq_pollitem_t items[5] = {
        { .socket = cx_link_socket(self->link), .events = ZMQ_POLLIN },
        { .fd = sigchld_pipe[0], .events = ZMQ_POLLIN },
        { .fd = self->notes[0], .events = ZMQ_POLLIN },
    };
    int nitems = 3, watch = -1, folder = -1;
    if (cx_quarantine_fd(self->quarantine) >= 0)
        items[watch = nitems++] = (zmq_pollitem_t) { .fd = cx_quarantine_fd(self->quarantine), .events = ZMQ_POLLIN };
    if (self->isolation && cx_isolation_fd(self->isolation) >= 0)
        items[folder = nitems++] = (zmq_pollitem_t) { .fd = cx_isolation_fd(self->isolation), .events = ZMQ_POLLIN };
    while (!*stop && !self->config_error) {
        int due = start_due(self), tick = cx_link_next_tick_ms(self->link) + 1;
        if (zmq_poll(items, nitems, due >= 0 && due < tick ? due : tick) < 0 && zmq_errno() != EINTR)
            break;
        if (watch >= 0 && (items[watch].revents & ZMQ_POLLIN))
            cx_quarantine_rescan(self->quarantine);   /* logs a lift; start_due starts a held file's processes */
        if (folder >= 0 && (items[folder].revents & ZMQ_POLLIN) && cx_isolation_rescan(self->isolation))
            follow_folder(self);
        drain_link(self);
        reap(self, 0);
        if (cx_link_tick(self->link))
            introduce(self);
    }
    stop_children(self);
    if (self->config_error)
        cx_error("a worker process could not start (configuration): stopping");
    zclock_sleep(50);   /* let the last WORKER_EXIT leave before the socket goes */
    return self->config_error ? 1 : 0;
}
