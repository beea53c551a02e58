/*
 * invariant.h — CX_ASSERT: a framework invariant, checked in every build.
 *
 * A broken invariant of ours (an actor run on two threads, a connection's
 * callbacks run after its disconnect, an actor freed while it may still
 * run) would otherwise surface later as a crash inside whatever plugin code
 * happened to run next, and be reported against the plugin. CX_ASSERT stops
 * the process at the broken invariant instead, with one error record on the
 * log (common/log.h: the message, the condition, file, line and function,
 * "bug": "chanx") and abort(), so the core dump and the sanitizers' stack
 * point at the framework.
 *
 * Not for input: what another process, a client or a plugin may send is
 * checked and refused with an error, never asserted. Not compiled out by
 * NDEBUG: the checks chosen are cheap and the invariants hold in production
 * too. Usage: CX_ASSERT(self->scheduled, "actor %p run while not scheduled", self).
 */
#ifndef CX_COMMON_INVARIANT_H
#define CX_COMMON_INVARIANT_H

#define CX_ASSERT(cond, ...)                                                                     \
    do {                                                                                         \
        if (__builtin_expect(!(cond), 0))                                                        \
            cx_invariant_broken(#cond, __FILE__, __LINE__, __func__, __VA_ARGS__);               \
    } while (0)

/* Logs the broken invariant (fmt: what it means, printf-style) and aborts. */
void cx_invariant_broken(const char *cond, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 5, 6)));

#endif
