/*
 * getpid.c — getpid() answered from memory, for libzmq's sake.
 *
 * libzmq guards every signal between a socket's thread and its I/O thread
 * against a fork (signaler.cpp: "if (pid != getpid ()) return"): each
 * zmq_send that wakes the I/O thread, each zmq_msg_recv or zmq_poll that
 * looks at a mailbox calls getpid(). Since glibc 2.25 does not cache the
 * pid, each call is a syscall: 3.4 per echo round trip across the gateway,
 * the broker and the worker, a quarter of all their syscalls
 * (docs/benchmarks.md, "8 December").
 *
 * Every executable of ours links this file, so its getpid() comes first in
 * the dynamic linker's search: libzmq's calls, and ours, land here and read
 * a variable. The pid is read once at start and again in a child after
 * fork() (pthread_atfork: the worker supervisor forks its workers). glibc
 * dropped its own cache because a child made by a raw clone() without fork()
 * would read its parent's pid; none of our processes makes one, and the
 * child of posix_spawn or vfork only runs exec (glibc's own code there calls
 * its internal __getpid, not this one).
 */
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static pid_t cached_pid;

static void read_pid(void)
{
    __atomic_store_n(&cached_pid, (pid_t) syscall(SYS_getpid), __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void cache_pid(void)
{
    read_pid();
    pthread_atfork(NULL, NULL, read_pid);
}

pid_t getpid(void)
{
    pid_t pid = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);
    if (pid == 0) {   /* a constructor of another object ran first and asked */
        read_pid();
        pid = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);
    }
    return pid;
}
