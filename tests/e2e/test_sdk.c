/*
 * The plugin SDK as a plugin author outside this repository meets it
 * (tests/abi/check-installed-sdk does the shell part): make install into a
 * staged tree; examples/chat built there with the README's pkg-config line;
 * a plugin scaffolded by the installed chanx-new-consumer builds through
 * pkg-config and its own test passes against the installed programs and
 * kit; make uninstall removes every file. Then the chat.so built outside the
 * repository is served by a worker to real clients, as the in-tree build is.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

TestSuite(sdk, .timeout = 240);

/* Runs cmd; returns its exit status and its output (owned). */
static int run(const char *cmd, char **out)
{
    unsetenv("BXFI_MAP");   /* the scaffold's criterion binary must not take itself for this test */
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    size_t size = 0, n;
    char buf[4096];
    FILE *mem = open_memstream(out, &size);
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(mem);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(sdk, installed_sdk_builds_the_chat_example_and_a_scaffolded_plugin_outside_the_repository)
{
    const char *bin = getenv("CHANX_TEST_BIN") && *getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    char work[] = "/tmp/chanx-sdk-XXXXXX", cmd[2048], chat[600];
    cr_assert_not_null(mkdtemp(work));
    snprintf(cmd, sizeof cmd, "tests/abi/check-installed-sdk %s %d %s 2>&1", bin, SANITIZED, work);
    char *out = NULL;
    int status = run(cmd, &out);
    cr_assert_eq(status, 0, "the installed SDK failed a check:\n%s", out);
    cr_assert(strstr(out, "Tested: 2 | Passing: 2 | Failing: 0 | Crashing: 0"),
              "the scaffolded plugin's test did not pass:\n%s", out);
    free(out);

    /* the chat example built outside the repository serves as the in-tree build does */
    snprintf(chat, sizeof chat, "%s/chat/chat.so", work);
    const char *files[] = { chat, NULL };
    cx_stack *stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = files, .env = (const char *const[]) { "CHANX_SEND_COMPLETION=on", NULL } });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    json_t *payload = json_pack("{s:s}", "message", "built outside");
    cx_send_message(c, "chat", payload);
    json_decref(payload);
    json_t *mine = cx_receive_until_action(c, "chat", 5000);
    cx_assert_json_eq(mine, "{\"action\": \"chat\", \"payload\": {\"message\": \"built outside\"},"
                            " \"is_mine\": true, \"is_current\": true}");
    json_decref(mine);
    cx_stack_stop(&stack);

    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", work);
}
