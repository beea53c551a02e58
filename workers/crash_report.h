/*
 * crash_report.h — what a worker process says when a plugin crashes it.
 *
 * A fatal signal in a consumer's code (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT, SIGSYS, SIGTRAP) cannot be survived: the process's memory may be
 * corrupt. What it can do before it dies is say where: one JSON log record
 * ("consumer crashed") with the signal, the plugin file, consumer, callback,
 * action, connection, message and user, and a backtrace; and a fixed-size
 * note to its supervisor (workers/supervisor.c) through a pipe, so the
 * broker closes that connection with 1011 "consumer crashed" at once.
 *
 * The record's fields are set before each callback (cx_crash_enter: a copy
 * of a few pointers into a thread-local scope, no formatting), and the
 * handler formats them with async-signal-safe code only: no malloc, no
 * stdio, no locks; backtrace() is called once at install so its library is
 * loaded before any crash. Every thread that runs callbacks gets an
 * alternate signal stack, so a stack overflow is reported too. After
 * reporting, the handler restores the default action and re-raises: the
 * system's core dump behaviour (ulimit -c, systemd-coredump) is unchanged.
 */
#ifndef CX_WORKERS_CRASH_REPORT_H
#define CX_WORKERS_CRASH_REPORT_H

#include <stdint.h>

/* What the calling thread is running, for the report. Strings are borrowed: they must live while the
 * callback runs (a consumer's names, a message's action). */
typedef struct {
    const char *plugin_file;   /* the plugin's file as deployed (not the private copy it was loaded from) */
    const char *consumer;      /* "plugin.consumer" */
    const char *callback;      /* "receive_message", "receive_event", "timer", "build_groups", "load", ... */
    const char *action;        /* the message's or event's action, or NULL */
    const char *message_id;    /* the message being handled (as in the log records), or NULL */
    uint64_t conn;
    int64_t user_id;
} cx_crash_scope;

/* The note a crashing worker process writes to its supervisor: one write(2) of this size (under
 * PIPE_BUF, so notes of two children never interleave). Strings are NUL-terminated, cut to fit. */
#define CX_CRASH_NOTE_MAGIC 0x63786372u   /* "cxcr" */
typedef struct {
    uint32_t magic;
    int32_t pid;                /* the worker process that crashed */
    int32_t signo;
    uint32_t pad;
    uint64_t conn;              /* 0: no connection's callback */
    char consumer[128];
    char callback[32];
    char plugin_file[256];
} cx_crash_note;

/* Installs the fatal-signal handlers for the process and the calling thread's alternate stack.
 * note_fd: the supervisor's pipe for cx_crash_note, or -1 (no supervisor). Returns 0, -1 on error. */
int cx_crash_report_install(int note_fd);
/* Each other thread that runs plugin code: its alternate signal stack (start), freed at its end (stop). */
void cx_crash_report_thread_start(void);
void cx_crash_report_thread_stop(void);

/* The calling thread enters a callback (scope is copied) / leaves it. Cheap: a few stores. */
void cx_crash_enter(const cx_crash_scope *scope);
void cx_crash_leave(void);

/* A plugin was dlopen'd as loaded_name (its private copy) from file: backtrace frames in loaded_name are
 * reported under file, the name addr2line needs. Link thread only; at most 256 objects are mapped. */
void cx_crash_report_name_object(const char *loaded_name, const char *file);

#endif
