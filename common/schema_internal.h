/*
 * schema_internal.h — the compiled form of an incoming schema, shared by
 * schema_compile.c (JSON text -> tree) and schema_validate.c (tree x frame
 * -> errors). Nothing outside those two files sees it; the rest of the
 * worker uses schema.h.
 *
 * The tree is built so that the hot path never looks keywords up by name:
 * each node holds a type bitmask and its constraints as plain numbers (-1
 * meaning "none"). Actions are found by a hash of the tag, properties by
 * jansson's own hash of the incoming object.
 */
#ifndef CX_COMMON_SCHEMA_INTERNAL_H
#define CX_COMMON_SCHEMA_INTERNAL_H

#include "common/schema.h"

enum { T_NULL = 1, T_BOOL = 2, T_INT = 4, T_NUM = 8, T_STR = 16, T_ARR = 32, T_OBJ = 64 };

/* One JSON type: its schema name, pydantic's error for it, and its noun in union messages.
 * cx_schema_kinds lists them in canonical order, used to name the members of a type union. */
typedef struct {
    const char *name, *error, *msg, *noun;
    unsigned bit;
} cx_schema_kind;

#define KIND_COUNT 7
extern const cx_schema_kind cx_schema_kinds[KIND_COUNT];

typedef struct node node;

typedef struct {
    const char *name;   /* borrowed from the schema document */
    node *schema;       /* NULL: any value (required but not described) */
    int required;
} prop;

struct node {
    unsigned types;                 /* 0: any type */
    char *union_msg;                /* when types names several kinds */
    json_t *literals;               /* enum, or const as a one-element array */
    char *expected;                 /* literals in pydantic's words: "'a', 'b' or 'c'" */
    long long min_len, max_len, min_items, max_items;   /* -1: none */
    const json_t *minimum, *maximum;                    /* borrowed; NULL: none */
    prop *props;
    size_t nprops;
    int closed;                     /* additionalProperties: false */
    node *items;
};

typedef struct {
    const char *name;
    node *schema;       /* NULL with no_payload */
    int no_payload;
} action;

struct cx_schema {
    json_t *doc;
    char *action_key;
    char *expected_tags;            /* "'ping', 'chat'" */
    action *actions;
    size_t nactions;
    json_t *index;                  /* action name -> position in actions: jansson's hash table */
};

/* The property of that name, or NULL. */
prop *cx_schema_find_prop(const node *n, const char *name);
/* Python's repr of a float: the shortest text that reads back the same, with ".0" if integral. */
void cx_schema_format_real(double d, char *out, size_t outlen);

#endif
