/*
 * permission.h — DRF permission classes and their composition.
 *
 * A consumer's permissions are expressions over DRF's classes, composed as
 * DRF composes them with &, |, ~ and parentheses:
 *     "IsAuthenticated & (IsAdminUser | ~IsSuperUser)"
 * The worker parses them when it loads a plugin (so a typo refuses the
 * plugin at start) and the gateway evaluates them on every connection.
 */
#ifndef CX_COMMON_PERMISSION_H
#define CX_COMMON_PERMISSION_H

#include <stddef.h>

typedef struct cx_permission cx_permission;

/* What the classes look at. */
typedef struct {
    int is_authenticated;
    int is_staff;
    int is_superuser;
    int safe_method;   /* auth_method is GET, HEAD or OPTIONS (for IsAuthenticatedOrReadOnly) */
} cx_permission_subject;

/* NULL with a reason ("unknown permission class 'IsAdmn' at 1") on error. */
cx_permission *cx_permission_parse(const char *expr, char *err, size_t errlen);
void cx_permission_destroy(cx_permission **self_p);
int cx_permission_allows(const cx_permission *self, const cx_permission_subject *subject);

#endif
