/*
 * django_vectors.h — the vectors Django itself produced
 * (tests/fixtures/make_django_vectors.py), shared by the unit tests of
 * Django's signing, sessions, passwords and simplejwt tokens.
 */
#ifndef CX_TEST_DJANGO_VECTORS_H
#define CX_TEST_DJANGO_VECTORS_H

#include <criterion/criterion.h>
#include <jansson.h>

#define DJANGO_VECTORS "tests/fixtures/django_vectors.json"

static inline json_t *vectors(void)
{
    json_error_t jerr;
    json_t *doc = json_load_file(DJANGO_VECTORS, 0, &jerr);
    cr_assert_not_null(doc, "cannot load %s (run from the repo root): %s", DJANGO_VECTORS, jerr.text);
    return doc;
}

static inline const char *str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

#endif
