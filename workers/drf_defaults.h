/*
 * drf_defaults.h — DRF's DEFAULT_AUTHENTICATION_CLASSES and
 * DEFAULT_PERMISSION_CLASSES for consumers that name none.
 *
 * CHANX_DEFAULT_AUTHENTICATION_CLASSES and CHANX_DEFAULT_PERMISSION_CLASSES
 * are comma-separated; each entry is Chanx's name ("token", "IsAuthenticated")
 * or the DRF class path a Django settings file holds
 * ("rest_framework.authentication.TokenAuthentication",
 * "rest_framework_simplejwt.authentication.JWTAuthentication",
 * "rest_framework.permissions.IsAdminUser"), so the site's lists can be
 * pasted; a site's own class paths are mapped onto these by
 * CHANX_AUTHENTICATION_CLASS_MAP. Unset, the defaults are DRF's own as Chanx configures them: token,
 * IsAuthenticated.
 */
#ifndef CX_WORKERS_DRF_DEFAULTS_H
#define CX_WORKERS_DRF_DEFAULTS_H

#include <jansson.h>
#include <stddef.h>

/* The consumer's list, or the deployment's default, as a JSON array of Chanx names (new
 * reference); a class of CHANX_AUTHENTICATION_CLASS_MAP is {"class": "jwt", "cookie": ...,
 * "header_types": ...} or {"class": "token", "keyword": ...} (see drf_defaults.c). NULL with err
 * naming the setting and the entry when an entry is unknown. */
json_t *cx_drf_authentication(const char *const *declared, char *err, size_t errlen);
json_t *cx_drf_permissions(const char *const *declared, char *err, size_t errlen);

#endif
