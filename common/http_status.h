/*
 * http_status.h — the status texts of the authentication message.
 *
 * Both the gateway (refusals at the edge) and the worker (has_permission
 * refusals) write {"status_code": 403, "status_text": "Forbidden", ...};
 * the texts are HTTP's reason phrases, as DRF's Response carries them.
 */
#ifndef CX_COMMON_HTTP_STATUS_H
#define CX_COMMON_HTTP_STATUS_H

const char *cx_http_status_text(int status);

#endif
