/*
 * abi_layout.h — the fields of plugin API 1's chanx_consumer, in order, as
 * an X-macro list: test_abi_layout.c measures them in API 1's header
 * (tests/abi/v1), test_abi_layout_v2.c API 2's in its header (tests/abi/v2),
 * abi_layout_current.c both in the current one. The two
 * translation units cannot share one, since both headers define the same
 * names. When a release raises CHANX_API_VERSION, its fields get a list too.
 */
#ifndef CX_TESTS_ABI_LAYOUT_H
#define CX_TESTS_ABI_LAYOUT_H

#include <stddef.h>

#define CX_ABI_V1_FIELDS(X)                                                                  \
    X(routes) X(authentication) X(permissions) X(queryset) X(object_permission)            \
    X(auth_method) X(incoming) X(action_key) X(state_size) X(has_permission)               \
    X(build_groups) X(post_authentication) X(receive_message) X(disconnect)                \
    X(send_completion) X(send_authentication_message) X(log_received_message)              \
    X(log_sent_message) X(camelize) X(log_ignored_actions)

/* API 2 appended these (tests/abi/v2). */
#define CX_ABI_V2_FIELDS(X)                                                                  \
    CX_ABI_V1_FIELDS(X) X(subprotocols) X(outgoing) X(events) X(passthrough_events) X(receive_event)   \
    X(throttle_rate)

#define CX_ABI_COUNT(field) +1
enum { CX_ABI_V1_NFIELDS = 0 CX_ABI_V1_FIELDS(CX_ABI_COUNT) };
enum { CX_ABI_V2_NFIELDS = 0 CX_ABI_V2_FIELDS(CX_ABI_COUNT) };

/* Offsets and sizes of the API 1 fields in the current header (abi_layout_current.c). */
extern const size_t cx_abi_current_offsets[CX_ABI_V1_NFIELDS];
extern const size_t cx_abi_current_sizes[CX_ABI_V1_NFIELDS];
extern const size_t cx_abi_current_size;
/* Offsets and sizes of the API 2 fields in the current header. */
extern const size_t cx_abi_current_v2_offsets[CX_ABI_V2_NFIELDS];
extern const size_t cx_abi_current_v2_sizes[CX_ABI_V2_NFIELDS];
extern const int cx_abi_current_version, cx_abi_current_oldest;

#endif
