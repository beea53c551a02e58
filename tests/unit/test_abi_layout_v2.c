/*
 * The plugin ABI's layout rule for API 2's descriptor (tests/abi/v2, the header as released before
 * topics): every field sits at the same offset with the same size in the current header, and the
 * worker's idea of the largest API 2 descriptor is API 2's sizeof, so an API 2 plugin is read
 * whole and its .topics (which it cannot have) stays NULL.
 */
#include "tests/abi/v2/chanx/consumer.h"
#include "tests/unit/abi_layout.h"

#include <criterion/criterion.h>

size_t cx_plugin_api2_descriptor_size(void);   /* workers/plugins.h, which needs the current header */

static const char *const names[] = {
#define CX_ABI_NAME(field) #field,
    CX_ABI_V2_FIELDS(CX_ABI_NAME)
};

Test(abi_layout, api2_fields_keep_their_offsets_and_sizes)
{
#define CX_ABI_OFFSET(field) offsetof(chanx_consumer, field),
#define CX_ABI_SIZE(field) sizeof(((chanx_consumer *) 0)->field),
    static const size_t v2_offsets[] = { CX_ABI_V2_FIELDS(CX_ABI_OFFSET) };
    static const size_t v2_sizes[] = { CX_ABI_V2_FIELDS(CX_ABI_SIZE) };
    for (int i = 0; i < CX_ABI_V2_NFIELDS; i++) {
        cr_assert_eq(cx_abi_current_v2_offsets[i], v2_offsets[i], "%s moved from offset %zu to %zu: append new fields",
                     names[i], v2_offsets[i], cx_abi_current_v2_offsets[i]);
        cr_assert_eq(cx_abi_current_v2_sizes[i], v2_sizes[i], "%s changed size: a major release", names[i]);
    }
    cr_assert_eq(CHANX_API_VERSION, 2);
    cr_assert_eq(cx_plugin_api2_descriptor_size(), sizeof(chanx_consumer),
                 "the worker reads at most %zu bytes of an API 2 descriptor, which has %zu",
                 cx_plugin_api2_descriptor_size(), sizeof(chanx_consumer));
    cr_assert_gt(cx_abi_current_size, sizeof(chanx_consumer), "API 3 appended .topics");
}
