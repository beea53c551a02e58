/*
 * getpid() is answered from memory in every process of ours (common/getpid.c),
 * and the pid it gives goes into each worker's HELLO, its crash reports and its
 * logs: the broker ties a crash the supervisor reports to a worker by that pid.
 * So a forked child (the supervisor forks each worker) must read its own pid,
 * never its parent's, from its first instruction on and on every thread.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *pid_on_thread(void *arg)
{
    (void) arg;
    return (void *) (intptr_t) getpid();
}

/* 0 when getpid() agrees with the kernel on this thread and on a new one, else which check failed. */
static int pid_checks(void)
{
    pid_t kernel = (pid_t) syscall(SYS_getpid);
    if (getpid() != kernel)
        return 1;
    pthread_t t;
    void *seen;
    if (pthread_create(&t, NULL, pid_on_thread, NULL) != 0 || pthread_join(t, &seen) != 0)
        return 2;
    return (pid_t) (intptr_t) seen == kernel ? 0 : 3;
}

Test(getpid, is_the_kernels_pid_in_the_process_and_its_threads)
{
    cr_assert_eq(pid_checks(), 0);
}

Test(getpid, a_forked_child_and_its_child_read_their_own_pids)
{
    pid_t parent = getpid();
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        if (getpid() == parent)
            _exit(10);
        int rc = pid_checks();
        if (rc)
            _exit(10 + rc);
        pid_t grandchild = fork();   /* a worker that forks in turn: the cache follows each fork */
        if (grandchild == 0)
            _exit(getpid() == (pid_t) syscall(SYS_getpid) ? 0 : 20);
        int status;
        waitpid(grandchild, &status, 0);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 30);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "check %d failed in the child", WEXITSTATUS(status));
    cr_assert_eq(getpid(), parent);
}
