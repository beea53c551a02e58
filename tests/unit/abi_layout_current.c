/*
 * abi_layout_current.c — where the current include/chanx/consumer.h puts
 * API 1's fields, for test_abi_layout.c (which sees API 1's header only).
 */
#include "tests/unit/abi_layout.h"

#include <chanx/consumer.h>

#define CX_ABI_OFFSET(field) offsetof(chanx_consumer, field),
#define CX_ABI_SIZE(field) sizeof(((chanx_consumer *) 0)->field),
const size_t cx_abi_current_offsets[CX_ABI_V1_NFIELDS] = { CX_ABI_V1_FIELDS(CX_ABI_OFFSET) };
const size_t cx_abi_current_sizes[CX_ABI_V1_NFIELDS] = { CX_ABI_V1_FIELDS(CX_ABI_SIZE) };
const size_t cx_abi_current_v2_offsets[CX_ABI_V2_NFIELDS] = { CX_ABI_V2_FIELDS(CX_ABI_OFFSET) };
const size_t cx_abi_current_v2_sizes[CX_ABI_V2_NFIELDS] = { CX_ABI_V2_FIELDS(CX_ABI_SIZE) };
const size_t cx_abi_current_size = sizeof(chanx_consumer);
const int cx_abi_current_version = CHANX_API_VERSION, cx_abi_current_oldest = CHANX_API_OLDEST;
