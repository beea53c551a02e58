/*
 * deploy_helpers.h — testing-kit additions for deployment tests: plugin
 * folders that change while a stack runs, and the processes' logs.
 *
 * Deploy tools publish a plugin by writing it under a temporary name and
 * renaming it into place, so a watcher never sees half a file;
 * cx_plugin_folder_drop does exactly that. Processes' logs are read with
 * the kit's cx_stack_log.
 */
#ifndef CX_DEPLOY_HELPERS_H
#define CX_DEPLOY_HELPERS_H

#include <chanx/testing.h>
#include <stdio.h>

/* Folder of the stack's binaries: $CHANX_TEST_BIN or "build" (borrowed). */
const char *cx_test_bin(void);
/* A fresh temporary plugin folder holding copies of the given .so files (paths relative to
 * cx_test_bin(), NULL-terminated). Owned: remove with cx_plugin_folder_remove. Unlike
 * cx_stack_options.plugin_files, the folder is the test's to change while the stack runs. */
char *cx_plugin_folder_new(const char *const *plugins);
/* Publishes source (relative to cx_test_bin()) as folder/name by write-then-rename. */
void cx_plugin_folder_drop(const char *folder, const char *source, const char *name);
/* Publishes source as folder/name, as cx_plugin_folder_drop does, with tag appended after its last byte:
 * a new version of the file (other bytes, the same code), as a rebuild with a fix would be. */
void cx_plugin_folder_drop_version(const char *folder, const char *source, const char *name, const char *tag);
void cx_plugin_folder_remove(char **folder_p);
/* Writes text into folder/name as it is (a file that is not a plugin: bad input); returns the path
 * (static, valid until the next call). Fails the test when it cannot. */
const char *cx_plugin_folder_write(const char *folder, const char *name, const char *text);
/* The first record of the process's log containing needle, parsed (owned), waiting up to timeout_ms for
 * it; fails the test when none came or that line is not one JSON record. */
json_t *cx_stack_log_record(cx_stack *self, const char *process, const char *needle, int timeout_ms);
/* Runs fn in a child process as the unprivileged user "nobody" (a local attacker, for tests of what
 * other users can do); fn ends with _exit. The child's exit status, 128 when it did not exit. */
int cx_as_nobody(void (*fn)(void));
/* The parent of process pid (its PPid in /proc), 0 when it is gone: a worker process's is chanx-worker,
 * its supervisor. */
int cx_parent_pid(int pid);
/* How many times needle occurs in the process's log so far (cx_stack_log without waiting). */
int cx_stack_log_count(cx_stack *self, const char *process, const char *needle);
/* Connects to path on a gateway, retrying while the route is unknown or unserved (404/503),
 * for routes that go live while the stack runs. NULL on timeout. */
cx_communicator *cx_communicator_when_live(cx_stack *stack, int gateway, const char *path,
                                           const char *const *headers, int timeout_ms);
/* A client nobody here wrote: runs a python3-websockets script (/usr/bin/python3) with the URL of
 * path on a gateway, ?token= appended, as sys.argv[1]; returns its stdout (pclose it). For what the
 * kit's own libwebsockets 4.1 client cannot see, e.g. it reads a 1012 close as 1002. */
FILE *cx_python_client(cx_stack *stack, int gateway, const char *path, const char *token, const char *script);
/* The next line the script printed, without the newline; fails the test naming what was awaited. */
void cx_python_line(FILE *p, char *line, size_t size, const char *what);
/* Runs cmd with /bin/sh; returns all it printed (owned, never NULL) and stores pclose's status
 * (wait status) in *status. */
char *cx_shell_output(const char *cmd, int *status);
/* The gateway's /asyncapi.json once it contains needle (the route table reaches the gateway soon
 * after start; 5 s at most), checked to be valid AsyncAPI 3.0 (tests/docs/validate_asyncapi.py):
 * the document (owned). Fails the test otherwise. */
char *cx_asyncapi_valid(cx_stack *stack, const char *needle);
/* A new user named name (CX_USER_* flags) connected to path by token and past its authentication message
 * (cx_assert_authenticated_status_ok): the usual first line of a test. Owned by the caller. */
cx_communicator *cx_user_client(cx_stack *stack, const char *name, int flags, const char *path);
/* A TCP port on 127.0.0.1 nothing listens on right now (the kernel's choice), for a process a test
 * starts itself (a second PostgreSQL cluster, PgBouncer). Fails the test when none is free. */
int cx_test_free_port(void);

#endif
