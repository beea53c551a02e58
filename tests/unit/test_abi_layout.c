/*
 * The plugin ABI's layout rule, checked at the level of bytes: every field
 * of plugin API 1's descriptor (tests/abi/v1, the header as released) sits
 * at the same offset with the same size in the current header, the current
 * descriptor only grows, and the worker's idea of an API 1 descriptor's
 * size (what it copies from a plugin that registered without one) is API
 * 1's sizeof. A field inserted or reordered instead of appended fails here,
 * naming it, before any plugin misbehaves.
 */
#include "tests/abi/v1/chanx/consumer.h"
#include "tests/unit/abi_layout.h"

#include <criterion/criterion.h>

size_t cx_plugin_api1_descriptor_size(void);   /* workers/plugins.h, which needs the current header */

static const char *const names[] = {
#define CX_ABI_NAME(field) #field,
    CX_ABI_V1_FIELDS(CX_ABI_NAME)
};

Test(abi_layout, api1_fields_keep_their_offsets_and_sizes)
{
#define CX_ABI_OFFSET(field) offsetof(chanx_consumer, field),
#define CX_ABI_SIZE(field) sizeof(((chanx_consumer *) 0)->field),
    static const size_t v1_offsets[] = { CX_ABI_V1_FIELDS(CX_ABI_OFFSET) };
    static const size_t v1_sizes[] = { CX_ABI_V1_FIELDS(CX_ABI_SIZE) };
    for (int i = 0; i < CX_ABI_V1_NFIELDS; i++) {
        cr_assert_eq(cx_abi_current_offsets[i], v1_offsets[i], "%s moved from offset %zu to %zu: append new fields",
                     names[i], v1_offsets[i], cx_abi_current_offsets[i]);
        cr_assert_eq(cx_abi_current_sizes[i], v1_sizes[i], "%s changed size: a major release", names[i]);
    }
}

Test(abi_layout, descriptor_only_grows_and_the_worker_knows_api1s_size)
{
    cr_assert_geq(cx_abi_current_size, sizeof(chanx_consumer));
    cr_assert_eq(cx_plugin_api1_descriptor_size(), sizeof(chanx_consumer),
                 "the worker copies %zu bytes from an API 1 plugin, whose descriptor has %zu",
                 cx_plugin_api1_descriptor_size(), sizeof(chanx_consumer));
    /* the fixture is API 1, inside the range the current worker speaks */
    cr_assert_eq(CHANX_API_VERSION, 1);
    cr_assert(cx_abi_current_oldest <= CHANX_API_VERSION && CHANX_API_VERSION <= cx_abi_current_version);
}
