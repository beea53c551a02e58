/*
 * django_signing.c — Django's signing and session formats.
 *
 * Design: follow Django's Python source step by step (django/core/signing.py,
 * contrib/sessions/backends/base.py, contrib/auth/hashers.py, utils/crypto.py)
 * instead of a generic JWS/JSON library, because compatibility is judged
 * byte for byte: a session chanx-admin writes must verify in Django, and a
 * session Django wrote must verify here. That is why this file carries its
 * own JSON writer: Django signs the exact bytes of Python's
 * json.dumps(separators=(',', ':')) (ASCII only, lowercase \u escapes), which
 * jansson's dumper does not reproduce.
 *
 * What Django derives from a user (password hashes, the session auth hash,
 * simplejwt tokens) is in django_auth.c, built on the primitives here.
 *
 * Decoding is defensive: signatures are checked before anything is
 * decompressed (Django's own zip-bomb argument), inflation is capped, and
 * every failure ends in a short, secret-free reason.
 */
#include "common/django_signing.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define INFLATE_CAP (8u << 20) /* far above any real session, far below a bomb */
#define LEGACY_SESSION_SALT "django.contrib.sessionsSessionStore" /* _hash(): no dot */

static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char BASE62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void set_err(char *err, size_t errlen, const char *reason)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", reason);
}

/* ---------------------------------------------------------------- base64 */

static char *b64_encode(const void *data, size_t len, const char *alphabet, int pad)
{
    const unsigned char *in = data;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    unsigned long acc = 0;
    size_t o = 0;
    int bits = 0;
    for (size_t i = 0; out && i < len; i++) {
        acc = acc << 8 | in[i];
        for (bits += 8; bits >= 6; bits -= 6)
            out[o++] = alphabet[(acc >> (bits - 6)) & 63];
    }
    if (out && bits)
        out[o++] = alphabet[(acc << (6 - bits)) & 63];
    while (out && pad && o % 4)
        out[o++] = '=';
    if (out)
        out[o] = '\0';
    return out;
}

/* Strict alphabet, optional '=' padding; returns NUL-terminated bytes. */
static unsigned char *b64_decode(const char *text, size_t len, const char *alphabet, size_t *out_len)
{
    while (len && text[len - 1] == '=' && len % 4 != 1)
        len--;
    unsigned char *out = len % 4 == 1 ? NULL : malloc(len / 4 * 3 + 3);
    unsigned long acc = 0;
    size_t o = 0;
    int bits = 0;
    for (size_t i = 0; out && i < len; i++) {
        const char *p = text[i] ? strchr(alphabet, text[i]) : NULL;
        if (!p) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (unsigned long) (p - alphabet);
        if ((bits += 6) >= 8)
            out[o++] = (unsigned char) (acc >> (bits -= 8));
    }
    if (out) {
        out[o] = '\0';
        *out_len = o;
    }
    return out;
}

void cx_django_hex(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
    out[2 * len] = '\0';
}

char *cx_django_b64url_encode(const void *data, size_t len)
{
    return b64_encode(data, len, B64_URL, 0);
}

char *cx_django_b64_encode(const void *data, size_t len)
{
    return b64_encode(data, len, B64_STD, 1);
}

unsigned char *cx_django_b64url_decode(const char *text, size_t len, size_t *out_len)
{
    return b64_decode(text, len, B64_URL, out_len);
}

/* ------------------------------------------------------------------ HMAC */

int cx_django_salted_hmac(const char *md_name, const char *key_salt, const char *secret, const void *value,
                          size_t value_len, unsigned char *out, unsigned int *out_len)
{
    const EVP_MD *md = EVP_get_digestbyname(md_name);
    unsigned char key[EVP_MAX_MD_SIZE];
    unsigned int key_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* key = H(key_salt + secret): Django always derives, whatever the length. */
    int ok = md && ctx && EVP_DigestInit_ex(ctx, md, NULL)
             && EVP_DigestUpdate(ctx, key_salt, strlen(key_salt))
             && EVP_DigestUpdate(ctx, secret, strlen(secret)) && EVP_DigestFinal_ex(ctx, key, &key_len);
    EVP_MD_CTX_free(ctx);
    ok = ok && HMAC(md, key, (int) key_len, value, value_len, out, out_len);
    OPENSSL_cleanse(key, sizeof key);
    return ok ? 0 : -1;
}

/* Signer.signature(): base64url(salted_hmac(salt + "signer", value)). */
static char *signer_signature(const char *md, const char *salt, const char *secret, const char *value,
                              size_t len)
{
    char key_salt[128];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len;
    snprintf(key_salt, sizeof key_salt, "%ssigner", salt);
    if (cx_django_salted_hmac(md, key_salt, secret, value, len, mac, &mac_len) != 0)
        return NULL;
    return cx_django_b64url_encode(mac, mac_len);
}

int cx_django_equal_ct(const char *a, size_t a_len, const char *b)
{
    return b && strlen(b) == a_len && CRYPTO_memcmp(a, b, a_len) == 0;
}

/* Signer.unsign(): sha256, or the sha1 legacy_algorithm Django 3.1/3.2 accept. */
static int signature_ok(const char *salt, const char *secret, const char *value, size_t len, const char *sig)
{
    char *sha256 = signer_signature("sha256", salt, secret, value, len);
    char *sha1 = signer_signature("sha1", salt, secret, value, len);
    size_t sig_len = strlen(sig);
    int ok = cx_django_equal_ct(sig, sig_len, sha256) | cx_django_equal_ct(sig, sig_len, sha1);
    free(sha256);
    free(sha1);
    return ok;
}

/* ------------------------------------------------------------------ zlib */

static unsigned char *inflate_capped(const unsigned char *in, size_t in_len, size_t *out_len)
{
    z_stream zs = { .next_in = (unsigned char *) in, .avail_in = (uInt) in_len };
    size_t cap = in_len < INFLATE_CAP / 4 ? in_len * 4 + 256 : INFLATE_CAP, used = 0;
    unsigned char *out = NULL;
    int rc = in_len > UINT_MAX ? Z_DATA_ERROR : inflateInit(&zs);
    if (rc != Z_OK)
        return NULL;
    while (rc == Z_OK) {
        unsigned char *grown = realloc(out, cap + 1);
        if (!grown) {
            rc = Z_MEM_ERROR;
            break;
        }
        out = grown;
        zs.next_out = out + used;
        zs.avail_out = (uInt) (cap - used);
        rc = inflate(&zs, Z_NO_FLUSH);
        used = cap - zs.avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            break;
        if (zs.avail_out) /* room left but no end: the stream is truncated */
            rc = Z_DATA_ERROR;
        else if (cap >= INFLATE_CAP) /* a zip bomb, or not a session */
            rc = Z_MEM_ERROR;
        else {
            rc = Z_OK;
            cap = cap * 2 < INFLATE_CAP ? cap * 2 : INFLATE_CAP;
        }
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    out[used] = '\0';
    *out_len = used;
    return out;
}

/* -------------------------------------------------------------- decoding */

static json_t *parse_object(const unsigned char *bytes, size_t len)
{
    json_t *obj = json_loadb((const char *) bytes, len, 0, NULL);
    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static int is_base62(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] && strchr(BASE62, s[i]))
        i++;
    return len > 0 && i == len;
}

/* signing.loads(data, salt=key_salt): "payload:timestamp:signature". */
static json_t *decode_signed(const char *data, const char *secret, const char **reason)
{
    const char *sig = strrchr(data, ':');
    const char *ts = sig ? memrchr(data, ':', (size_t) (sig - data)) : NULL;
    *reason = "not a session";
    if (!ts || !is_base62(ts + 1, (size_t) (sig - ts - 1)))
        return NULL;
    if (secret && !signature_ok(CX_DJANGO_SESSION_SALT, secret, data, (size_t) (sig - data), sig + 1)) {
        *reason = "bad signature";
        return NULL;
    }
    int compressed = data[0] == '.';
    size_t raw_len = 0, json_len = 0;
    unsigned char *raw = cx_django_b64url_decode(data + compressed, (size_t) (ts - data) - compressed, &raw_len);
    unsigned char *json = compressed && raw ? inflate_capped(raw, raw_len, &json_len) : raw;
    if (!compressed)
        json_len = raw_len;
    json_t *obj = json ? parse_object(json, json_len) : NULL;
    if (json != raw)
        free(json);
    free(raw);
    return obj;
}

/* SessionBase._legacy_decode: base64("<sha1 hexdigest>:<json>"). */
static json_t *decode_legacy(const char *data, const char *secret, const char **reason)
{
    size_t len;
    unsigned char *raw = b64_decode(data, strlen(data), B64_STD, &len);
    unsigned char *colon = raw ? memchr(raw, ':', len) : NULL;
    json_t *obj = NULL;
    *reason = "not a session";
    if (colon && secret) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        size_t body_len = len - (size_t) (colon + 1 - raw);
        if (cx_django_salted_hmac("sha1", LEGACY_SESSION_SALT, secret, colon + 1, body_len, mac, &mac_len) == 0) {
            cx_django_hex(mac, mac_len, hex);
            if (!cx_django_equal_ct((const char *) raw, (size_t) (colon - raw), hex)) {
                *reason = "bad signature";
                colon = NULL;
            }
        } else
            colon = NULL;
    }
    if (colon)
        obj = parse_object(colon + 1, len - (size_t) (colon + 1 - raw));
    free(raw);
    return obj;
}

int cx_django_session_field(const char *session_data, const char *secret_key, const char *field,
                            char *out, size_t outlen, char *err, size_t errlen)
{
    const char *reason = "not a session";
    json_t *obj = NULL;
    if (session_data && *session_data && field && out && outlen)
        obj = strchr(session_data, ':') ? decode_signed(session_data, secret_key, &reason)
                                        : decode_legacy(session_data, secret_key, &reason);
    if (!obj) {
        set_err(err, errlen, reason);
        return -1;
    }
    json_t *v = json_object_get(obj, field);
    int n = -1, is_user = !strcmp(field, "_auth_user_id");
    if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
        n = snprintf(out, outlen, "%s", json_string_value(v));
    else if (json_is_integer(v))
        n = snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    json_decref(obj);
    if (n >= 0 && (size_t) n < outlen)
        return 0;
    out[0] = '\0';
    if (n < 0 && err && errlen)
        snprintf(err, errlen, "no %s in session", is_user ? "user" : field);
    else
        set_err(err, errlen, is_user ? "user id too long" : "value too long");
    return -1;
}

int cx_django_session_user_id(const char *session_data, const char *secret_key, char *user_id,
                              size_t user_id_len, char *err, size_t errlen)
{
    return cx_django_session_field(session_data, secret_key, "_auth_user_id", user_id, user_id_len, err, errlen);
}

/* ------------------------------------------------- Python-compatible JSON */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} strbuf;

static void sb_add(strbuf *sb, const char *s, size_t n)
{
    if (sb->failed)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = (sb->len + n + 1) * 2;
        char *grown = realloc(sb->buf, cap);
        if (!grown) {
            sb->failed = 1;
            return;
        }
        sb->buf = grown;
        sb->cap = cap;
    }
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

static void sb_str(strbuf *sb, const char *s)
{
    sb_add(sb, s, strlen(s));
}

/* One UTF-8 sequence to a code point (jansson has validated the UTF-8). */
static unsigned long utf8_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    int extra = s[0] >= 0xf0 ? 3 : s[0] >= 0xe0 ? 2 : s[0] >= 0xc0 ? 1 : 0;
    unsigned long cp = extra ? s[0] & (0x3f >> extra) : s[0];
    int i = 1;
    for (; i <= extra && (s[i] & 0xc0) == 0x80; i++)
        cp = cp << 6 | (s[i] & 0x3f);
    *p = s + i;
    return cp;
}

/* json.encoder.py_encode_basestring_ascii */
static void py_string(strbuf *sb, const char *s, size_t len)
{
    static const char *named[] = { ['"'] = "\\\"", ['\\'] = "\\\\", ['\n'] = "\\n", ['\r'] = "\\r",
                                   ['\t'] = "\\t", ['\b'] = "\\b", ['\f'] = "\\f" };
    const unsigned char *p = (const unsigned char *) s, *end = p + len;
    char esc[16];
    sb_add(sb, "\"", 1);
    while (p < end) {
        unsigned long cp = utf8_next(&p);
        if (cp < sizeof named / sizeof *named && named[cp])
            sb_str(sb, named[cp]);
        else if (cp >= 0x20 && cp < 0x7f)
            sb_add(sb, (const char *) p - 1, 1);
        else if (cp < 0x10000)
            sb_add(sb, esc, (size_t) snprintf(esc, sizeof esc, "\\u%04lx", cp));
        else
            sb_add(sb, esc, (size_t) snprintf(esc, sizeof esc, "\\u%04lx\\u%04lx", 0xd800 | ((cp - 0x10000) >> 10),
                                              0xdc00 | ((cp - 0x10000) & 0x3ff)));
    }
    sb_add(sb, "\"", 1);
}

/* Shortest round-tripping digits like Python's repr; Python switches to
 * exponent notation at 1e16 where %g does earlier, an accepted difference
 * (sessions hold no floats in practice, and Django decodes either). */
static void py_real(strbuf *sb, double d)
{
    char num[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, d);
        if (strtod(num, NULL) == d)
            break;
    }
    sb_str(sb, num);
    if (!strpbrk(num, ".eni"))
        sb_str(sb, ".0");
}

static void py_dump(strbuf *sb, json_t *v)
{
    char num[32];
    const char *key;
    json_t *item;
    size_t i = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        sb_add(sb, "{", 1);
        json_object_foreach(v, key, item) {
            if (i++)
                sb_add(sb, ",", 1);
            py_string(sb, key, strlen(key));
            sb_add(sb, ":", 1);
            py_dump(sb, item);
        }
        sb_add(sb, "}", 1);
        break;
    case JSON_ARRAY:
        sb_add(sb, "[", 1);
        json_array_foreach(v, i, item) {
            if (i)
                sb_add(sb, ",", 1);
            py_dump(sb, item);
        }
        sb_add(sb, "]", 1);
        break;
    case JSON_STRING: py_string(sb, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER:
        sb_add(sb, num, (size_t) snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)));
        break;
    case JSON_REAL: py_real(sb, json_real_value(v)); break;
    case JSON_TRUE: sb_str(sb, "true"); break;
    case JSON_FALSE: sb_str(sb, "false"); break;
    case JSON_NULL: sb_str(sb, "null"); break;
    }
}

/* -------------------------------------------------------------- encoding */

static void base62(strbuf *sb, unsigned long long v)
{
    char digits[16];
    int n = 0;
    do
        digits[n++] = BASE62[v % 62];
    while ((v /= 62) && n < (int) sizeof digits);
    while (n)
        sb_add(sb, &digits[--n], 1);
}

/* Signer.sign_object(compress=True): zlib only when it saves 2+ bytes. */
static char *payload_b64(const char *data, size_t len)
{
    uLongf clen = compressBound(len);
    unsigned char *z = malloc(clen);
    char *out = NULL;
    if (z && compress2(z, &clen, (const unsigned char *) data, len, Z_DEFAULT_COMPRESSION) == Z_OK
        && clen + 1 < len) {
        char *b64 = cx_django_b64url_encode(z, clen);
        if (b64 && asprintf(&out, ".%s", b64) < 0)
            out = NULL;
        free(b64);
    } else
        out = cx_django_b64url_encode(data, len);
    free(z);
    return out;
}

char *cx_django_session_encode_at(const char *session_json, const char *secret_key, time_t now)
{
    json_t *obj = session_json ? json_loads(session_json, 0, NULL) : NULL;
    strbuf sb = { 0 };
    char *sig = NULL;
    if (!json_is_object(obj) || !secret_key || now < 0) {
        json_decref(obj);
        return NULL;
    }
    py_dump(&sb, obj);
    json_decref(obj);
    char *payload = sb.failed ? NULL : payload_b64(sb.buf, sb.len);
    free(sb.buf);
    sb = (strbuf) { 0 };
    if (payload) {
        sb_str(&sb, payload);
        sb_add(&sb, ":", 1);
        base62(&sb, (unsigned long long) now);
        sig = sb.failed ? NULL : signer_signature("sha256", CX_DJANGO_SESSION_SALT, secret_key, sb.buf, sb.len);
        sb_add(&sb, ":", 1);
        sb_str(&sb, sig ? sig : "");
    }
    free(payload);
    if (!sig || sb.failed) {
        free(sb.buf);
        sb.buf = NULL;
    }
    free(sig);
    return sb.buf;
}

char *cx_django_session_encode(const char *session_json, const char *secret_key)
{
    return cx_django_session_encode_at(session_json, secret_key, time(NULL));
}

/* ---------------------------------------------------------------- random */

int cx_django_random_string(char *out, size_t n, const char *alphabet)
{
    size_t k = alphabet ? strlen(alphabet) : 0, i = 0;
    unsigned char bytes[64];
    if (k == 0 || k > 256)
        return -1;
    unsigned limit = 256 - 256 % (unsigned) k; /* drop bytes that would bias the modulo */
    while (i < n) {
        if (RAND_bytes(bytes, sizeof bytes) != 1)
            return -1;
        for (size_t b = 0; b < sizeof bytes && i < n; b++)
            if (bytes[b] < limit)
                out[i++] = alphabet[bytes[b] % k];
    }
    out[n] = '\0';
    return 0;
}
