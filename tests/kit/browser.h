/*
 * browser — runs a page in headless Chromium and returns what it reports.
 *
 * Why: what browsers do with a server's answers (subprotocol rules,
 * permessage-deflate, close codes) is only known by asking one. The kit
 * serves the page itself from a private HTTP listener on 127.0.0.1 (so the
 * page has a real http:// origin, as in production), starts Debian's
 * chromium headless with a fresh profile, and waits for the page to POST
 * its results to /report; then the browser's whole process group is ended.
 * Any test can use it: the page is plain HTML/JS of the caller's.
 *
 * Chromium runs as the current user with --no-sandbox (CI runs as root) and
 * without anything that reaches the network: no component updates, no
 * sync, no background networking, no QUIC.
 */
#ifndef CX_BROWSER_H
#define CX_BROWSER_H

#include <stddef.h>

/* The chromium binary ($CHANX_CHROMIUM, else chromium or chromium-browser on PATH), or NULL. */
const char *cx_browser_binary(void);

/* Serves html at / and waits up to timeout_ms for the page to POST /report. Returns the report's
 * body (malloc'd), or NULL with err set (no browser, it exited, timeout). */
char *cx_browser_run(const char *html, int timeout_ms, char *err, size_t errlen);

#endif
