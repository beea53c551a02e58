/*
 * playground.c — the playground's files, linked into the gateway (docs.c).
 *
 * .incbin copies the files into .rodata at build time, so the gateway serves
 * them without reading anything at run time and the page always matches the
 * binary. Paths are relative to the top of the tree, where make runs the
 * compiler; the Makefile lists both files as prerequisites of this object.
 */
__asm__(".section .rodata\n"
        ".balign 16\n"
        ".globl cx_playground_html\n"
        "cx_playground_html:\n"
        ".incbin \"gateway/playground/index.html\"\n"
        ".globl cx_playground_html_end\n"
        "cx_playground_html_end:\n"
        ".byte 0\n"
        ".balign 16\n"
        ".globl cx_playground_client\n"
        "cx_playground_client:\n"
        ".incbin \"clients/js/chanx.js\"\n"
        ".globl cx_playground_client_end\n"
        "cx_playground_client_end:\n"
        ".byte 0\n"
        ".previous\n");
