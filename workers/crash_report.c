/*
 * crash_report.c — the fatal-signal handler of a worker process (see crash_report.h).
 *
 * Everything the handler calls is async-signal-safe or as good as: write,
 * clock_gettime, sigaction, raise, alarm and hand-written formatting into a
 * static buffer (no malloc, no stdio, no locale). Two exceptions, both
 * standard practice (glibc's own backtrace_symbols_fd makes them): backtrace()
 * (its unwinder library is loaded at install, so it no longer allocates) and
 * dladdr() for the frames' names. Should either hang, the alarm set on entry
 * ends the process after a few seconds, so a crash never leaves a wedged
 * process behind.
 *
 * The backtrace starts at the faulting instruction (read from the signal's
 * context), not in the handler. A frame names its function where the object
 * exports a symbol for it, and always its object file and offset, for
 * `addr2line -f -e FILE OFFSET`. Plugins run from private copies that are
 * removed once mapped (plugin_copy.c), so frames in a copy are reported
 * under the plugin's deployed file instead (cx_crash_report_name_object).
 *
 * Only the first thread to crash reports; another that crashes meanwhile
 * waits for it (the process is about to die anyway) and then dies too.
 */

#include "workers/crash_report.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define ALT_STACK_SIZE (64 * 1024)
#define MAX_FRAMES 48
#define MAX_OBJECTS 256
#define REPORT_MAX 16384

static const int FATAL[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP };

static __thread cx_crash_scope current;
static __thread void *alt_stack;
static int note_fd = -1;
static atomic_int reporting;

static struct {
    char loaded[256];
    char file[512];
} objects[MAX_OBJECTS];
static atomic_size_t nobjects;

static struct {
    char data[REPORT_MAX];
    size_t len;
} out;

/* ----------------------------------------------------- safe formatting */

static void put_n(const char *s, size_t n)
{
    if (n > sizeof out.data - 64 - out.len)   /* room is kept for the record's closing */
        n = sizeof out.data - 64 - out.len;
    memcpy(out.data + out.len, s, n);
    out.len += n;
}

static void put(const char *s)
{
    put_n(s, strlen(s));
}

static void put_u64(uint64_t v, int base, int min_digits)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % (uint64_t) base];
        v /= (uint64_t) base;
    } while (v || n < min_digits);
    while (n > 0)
        put_n(&tmp[--n], 1);
}

static void put_i64(int64_t v)
{
    if (v < 0) {
        put("-");
        put_u64((uint64_t) 0 - (uint64_t) v, 10, 1);
    } else {
        put_u64((uint64_t) v, 10, 1);
    }
}

/* A JSON string, or null. Control characters are escaped; bytes >= 0x80 pass (UTF-8 from our own names). */
static void put_json_string(const char *s)
{
    if (!s) {
        put("null");
        return;
    }
    put("\"");
    for (size_t i = 0; s[i] && i < 1024; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char) c };
            put_n(esc, 2);
        } else if (c < 0x20) {
            put("\\u00");
            put_u64(c, 16, 2);
        } else {
            put_n((const char *) &c, 1);
        }
    }
    put("\"");
}

static void put_field(const char *key)
{
    put(",\"");
    put(key);
    put("\":");
}

/* ISO 8601 UTC with milliseconds, as common/log.c writes it, without gmtime (not async-signal-safe). */
static void put_timestamp(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
    /* civil_from_days (H. Hinnant): days since 1970-01-01 to year, month, day */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    put("\"");
    put_u64((uint64_t) y, 10, 4);
    put("-");
    put_u64((uint64_t) m, 10, 2);
    put("-");
    put_u64((uint64_t) d, 10, 2);
    put("T");
    put_u64((uint64_t) (secs / 3600), 10, 2);
    put(":");
    put_u64((uint64_t) (secs / 60 % 60), 10, 2);
    put(":");
    put_u64((uint64_t) (secs % 60), 10, 2);
    put(".");
    put_u64((uint64_t) (ts.tv_nsec / 1000000), 10, 3);
    put("Z\"");
}

static const char *signal_name(int signo)
{
    switch (signo) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGSYS: return "SIGSYS";
    case SIGTRAP: return "SIGTRAP";
    default: return "?";
    }
}

/* ----------------------------------------------------------- backtrace */

static const char *deployed_name(const char *loaded)
{
    size_t n = atomic_load_explicit(&nobjects, memory_order_acquire);
    for (size_t i = 0; loaded && i < n; i++)
        if (strcmp(objects[i].loaded, loaded) == 0)
            return objects[i].file;
    return loaded;
}

static void put_frame(void *address)
{
    Dl_info info;
    if (!dladdr(address, &info) || !info.dli_fname) {
        put("\"0x");
        put_u64((uintptr_t) address, 16, 1);
        put("\"");
        return;
    }
    /* One string: "function+0xN (file+0xM)" or "file+0xM"; the file name's quotes and controls dropped. */
    put("\"");
    if (info.dli_sname && info.dli_saddr) {
        put(info.dli_sname);
        put("+0x");
        put_u64((uintptr_t) address - (uintptr_t) info.dli_saddr, 16, 1);
        put(" (");
    }
    const char *file = deployed_name(info.dli_fname);
    for (size_t i = 0; file[i] && i < 512; i++)
        if (file[i] != '"' && file[i] != '\\' && (unsigned char) file[i] >= 0x20)
            put_n(&file[i], 1);
    put("+0x");
    put_u64((uintptr_t) address - (uintptr_t) info.dli_fbase, 16, 1);
    if (info.dli_sname && info.dli_saddr)
        put(")");
    put("\"");
}

/* Where the signal struck, so the backtrace starts there and not in this handler. */
static void *faulting_pc(const void *context)
{
    const ucontext_t *uc = context;
#if defined(__x86_64__)
    return uc ? (void *) uc->uc_mcontext.gregs[REG_RIP] : NULL;
#elif defined(__aarch64__)
    return uc ? (void *) uc->uc_mcontext.pc : NULL;
#else
    (void) uc;
    return NULL;
#endif
}

static void put_backtrace(const void *context)
{
    void *frames[MAX_FRAMES];
    int n = backtrace(frames, MAX_FRAMES), first = 0;
    void *pc = faulting_pc(context);
    for (int i = 0; pc && i < n; i++)
        if (frames[i] == pc) {
            first = i;
            break;
        }
    put_field("backtrace");
    put("[");
    for (int i = first; i < n; i++) {
        if (i > first)
            put(",");
        put_frame(frames[i]);
    }
    put("]");
}

/* -------------------------------------------------------------- handler */

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t) n;
    }
}

static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static void note_supervisor(int signo, const cx_crash_scope *s)
{
    if (note_fd < 0)
        return;
    cx_crash_note note;
    memset(&note, 0, sizeof note);
    note.magic = CX_CRASH_NOTE_MAGIC;
    note.pid = (int32_t) getpid();
    note.signo = signo;
    note.conn = s->callback ? s->conn : 0;
    copy_field(note.consumer, sizeof note.consumer, s->consumer);
    copy_field(note.callback, sizeof note.callback, s->callback);
    copy_field(note.plugin_file, sizeof note.plugin_file, s->plugin_file);
    write_all(note_fd, (const char *) &note, sizeof note);
}

static void write_record(int signo, const cx_crash_scope *s, const void *context)
{
    out.len = 0;
    put("{\"ts\":");
    put_timestamp();
    put(",\"level\":\"error\",\"process\":\"worker\",\"event\":");
    put(s->callback ? "\"consumer crashed\"" : "\"worker crashed outside any consumer callback\"");
    put_field("signal");
    put_json_string(signal_name(signo));
    put_field("pid");
    put_i64(getpid());
    put_field("plugin_file");
    put_json_string(s->plugin_file);
    put_field("consumer");
    put_json_string(s->consumer);
    put_field("callback");
    put_json_string(s->callback);
    put_field("action");
    put_json_string(s->action);
    put_field("conn");
    put_u64(s->conn, 10, 1);
    put_field("message_id");
    put_json_string(s->message_id && s->message_id[0] ? s->message_id : NULL);
    put_field("user_id");
    put_i64(s->user_id);
    put_backtrace(context);
    out.len = out.len > sizeof out.data - 64 ? sizeof out.data - 64 : out.len;
    put_n("}\n", 2);
    write_all(STDERR_FILENO, out.data, out.len);
}

static void on_fatal(int signo, siginfo_t *info, void *context)
{
    (void) info;
    int expected = 0;
    if (atomic_compare_exchange_strong(&reporting, &expected, 1)) {
        alarm(5);   /* a hung report must not keep a dead process around */
        cx_crash_scope s = current;
        note_supervisor(signo, &s);
        write_record(signo, &s, context);
    } else {
        struct timespec wait = { 2, 0 };   /* another thread reports; the process dies with its signal */
        nanosleep(&wait, NULL);
    }
    /* SA_RESETHAND restored the default action: re-raised, the signal ends the process as it would
     * have without us (a core where the system keeps them). Delivered once this handler returns. */
    signal(signo, SIG_DFL);
    raise(signo);
}

/* ------------------------------------------------------------- install */

void cx_crash_report_thread_start(void)
{
    if (alt_stack)
        return;
    void *mem = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return;   /* no alternate stack: every crash but a stack overflow is still reported */
    stack_t ss = { .ss_sp = mem, .ss_size = ALT_STACK_SIZE, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, ALT_STACK_SIZE);
        return;
    }
    alt_stack = mem;
}

void cx_crash_report_thread_stop(void)
{
    if (!alt_stack)
        return;
    stack_t ss = { .ss_flags = SS_DISABLE };
    sigaltstack(&ss, NULL);
    munmap(alt_stack, ALT_STACK_SIZE);
    alt_stack = NULL;
}

int cx_crash_report_install(int fd)
{
    note_fd = fd;
    void *warm[2];
    backtrace(warm, 2);   /* loads the unwinder now: the handler must not be the first to call it */
    Dl_info info;
    dladdr((void *) cx_crash_report_install, &info);
    cx_crash_report_thread_start();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof FATAL / sizeof *FATAL; i++)
        if (sigaction(FATAL[i], &sa, NULL) != 0)
            return -1;
    return 0;
}

void cx_crash_enter(const cx_crash_scope *scope)
{
    current = *scope;
}

void cx_crash_leave(void)
{
    current = (cx_crash_scope) { 0 };
}

void cx_crash_report_name_object(const char *loaded_name, const char *file)
{
    size_t n = atomic_load_explicit(&nobjects, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        if (strcmp(objects[i].loaded, loaded_name) == 0)
            return;
    if (n == MAX_OBJECTS)
        return;
    copy_field(objects[n].loaded, sizeof objects[n].loaded, loaded_name);
    copy_field(objects[n].file, sizeof objects[n].file, file);
    atomic_store_explicit(&nobjects, n + 1, memory_order_release);
}
