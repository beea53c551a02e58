/*
 * user_model.h — which table holds the site's users: Django's AUTH_USER_MODEL.
 *
 * Django's own User is the table auth_user with a username column; a site
 * with a custom user model (AUTH_USER_MODEL = "accounts.User", often logging
 * in by email) keeps its users in another table. CHANX_USER_TABLE names that
 * table (default auth_user; "schema.table" allowed) and CHANX_USERNAME_FIELD
 * the column Django's USERNAME_FIELD names (default username). The table
 * must also have id, password, is_active, is_staff and is_superuser, as
 * AbstractUser (or AbstractBaseUser + PermissionsMixin with an is_staff
 * field) gives it. Both names are SQL identifiers (letters, digits, _),
 * checked once; anything else stops the gateway at start naming the
 * variable, so no setting is ever spliced into SQL unchecked.
 *
 * Threading: cx_user_model_check runs once at start (main thread); after it
 * the strings are read-only and shared by the authentication threads.
 */
#ifndef CX_GATEWAY_USER_MODEL_H
#define CX_GATEWAY_USER_MODEL_H

/* Reads and checks the settings; 0, or -1 after printing which one is wrong. */
int cx_user_model_check(void);
/* "u.id, u.<username field>, u.is_active, u.is_staff, u.is_superuser" (borrowed, static). */
const char *cx_user_model_columns(void);
/* The user table as SQL, quoted: "auth_user" or "accounts"."user" (borrowed, static). */
const char *cx_user_model_table(void);

#endif
