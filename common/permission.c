/*
 * permission.c — a recursive-descent parser and evaluator for permission
 * expressions (see permission.h).
 *
 * Grammar, with DRF's precedence (~ binds tightest, then &, then |):
 *     or   := and ('|' and)*
 *     and  := not ('&' not)*
 *     not  := '~' not | atom
 *     atom := NAME | '(' or ')'
 * The tree is tiny and lives as long as the route table, so nodes are
 * plain malloc'd structs.
 */
#include "common/permission.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { P_ALLOW_ANY, P_IS_AUTHENTICATED, P_IS_ADMIN, P_IS_SUPERUSER, P_READ_ONLY,
               P_AUTH_OR_READ_ONLY, P_NOT, P_AND, P_OR } node_kind;

struct cx_permission {
    node_kind kind;
    cx_permission *left, *right;
};

static const struct {
    const char *name;
    node_kind kind;
} CLASSES[] = {
    { "AllowAny", P_ALLOW_ANY },
    { "IsAuthenticated", P_IS_AUTHENTICATED },
    { "IsAdminUser", P_IS_ADMIN },
    { "IsSuperUser", P_IS_SUPERUSER },
    { "ReadOnly", P_READ_ONLY },
    { "IsAuthenticatedOrReadOnly", P_AUTH_OR_READ_ONLY },
};

typedef struct {
    const char *text;
    size_t pos;
    char *err;
    size_t errlen;
    int failed;
} parser;

static cx_permission *parse_or(parser *p);

static void skip_space(parser *p)
{
    while (isspace((unsigned char) p->text[p->pos]))
        p->pos++;
}

static cx_permission *fail(parser *p, const char *what)
{
    if (!p->failed)
        snprintf(p->err, p->errlen, "%s at %zu", what, p->pos + 1);
    p->failed = 1;
    return NULL;
}

static cx_permission *node(node_kind kind, cx_permission *left, cx_permission *right)
{
    cx_permission *n = calloc(1, sizeof *n);
    if (!n) {
        cx_permission_destroy(&left);
        cx_permission_destroy(&right);
        return NULL;
    }
    *n = (cx_permission) { kind, left, right };
    return n;
}

static cx_permission *parse_name(parser *p)
{
    size_t start = p->pos;
    while (isalnum((unsigned char) p->text[p->pos]) || p->text[p->pos] == '_')
        p->pos++;
    size_t len = p->pos - start;
    if (len == 0)
        return fail(p, "expected a permission class");
    for (size_t i = 0; i < sizeof CLASSES / sizeof CLASSES[0]; i++)
        if (strlen(CLASSES[i].name) == len && memcmp(CLASSES[i].name, p->text + start, len) == 0)
            return node(CLASSES[i].kind, NULL, NULL);
    p->pos = start;
    if (!p->failed)
        snprintf(p->err, p->errlen, "unknown permission class '%.*s' at %zu", (int) len, p->text + start, start + 1);
    p->failed = 1;
    return NULL;
}

static cx_permission *parse_atom(parser *p)
{
    skip_space(p);
    if (p->text[p->pos] != '(')
        return parse_name(p);
    p->pos++;
    cx_permission *inner = parse_or(p);
    skip_space(p);
    if (!inner || p->text[p->pos] != ')') {
        cx_permission_destroy(&inner);
        return fail(p, "expected ')'");
    }
    p->pos++;
    return inner;
}

static cx_permission *parse_not(parser *p)
{
    skip_space(p);
    if (p->text[p->pos] != '~')
        return parse_atom(p);
    p->pos++;
    cx_permission *operand = parse_not(p);
    return operand ? node(P_NOT, operand, NULL) : NULL;
}

static cx_permission *parse_binary(parser *p, char op, node_kind kind, cx_permission *(*operand)(parser *))
{
    cx_permission *left = operand(p);
    for (;;) {
        skip_space(p);
        if (!left || p->text[p->pos] != op)
            return left;
        p->pos++;
        cx_permission *right = operand(p);
        if (!right) {
            cx_permission_destroy(&left);
            return NULL;
        }
        left = node(kind, left, right);
    }
}

static cx_permission *parse_and(parser *p)
{
    return parse_binary(p, '&', P_AND, parse_not);
}

static cx_permission *parse_or(parser *p)
{
    return parse_binary(p, '|', P_OR, parse_and);
}

cx_permission *cx_permission_parse(const char *expr, char *err, size_t errlen)
{
    parser p = { expr ? expr : "", 0, err, errlen, 0 };
    cx_permission *tree = parse_or(&p);
    skip_space(&p);
    if (tree && p.text[p.pos] != '\0') {
        cx_permission_destroy(&tree);
        fail(&p, "unexpected text");
    }
    return tree;
}

void cx_permission_destroy(cx_permission **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_permission_destroy(&(*self_p)->left);
    cx_permission_destroy(&(*self_p)->right);
    free(*self_p);
    *self_p = NULL;
}

int cx_permission_allows(const cx_permission *n, const cx_permission_subject *s)
{
    switch (n->kind) {
    case P_ALLOW_ANY: return 1;
    case P_IS_AUTHENTICATED: return s->is_authenticated;
    case P_IS_ADMIN: return s->is_authenticated && s->is_staff;
    case P_IS_SUPERUSER: return s->is_authenticated && s->is_superuser;
    case P_READ_ONLY: return s->safe_method;
    case P_AUTH_OR_READ_ONLY: return s->is_authenticated || s->safe_method;
    case P_NOT: return !cx_permission_allows(n->left, s);
    case P_AND: return cx_permission_allows(n->left, s) && cx_permission_allows(n->right, s);
    case P_OR: return cx_permission_allows(n->left, s) || cx_permission_allows(n->right, s);
    }
    return 0;
}
