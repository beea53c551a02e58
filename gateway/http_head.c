/*
 * http_head.c — the request head's message rules (see http_head.h).
 *
 * Everything is decided from a few counters kept while the bytes go by, so
 * nothing of the head is stored but the current field name and the start of
 * a Content-Length value: the head is bounded by wire.c (8 KiB), and these
 * rules must not add a copy of it per connection.
 */
#include "gateway/http_head.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define ALLOW "allow: GET, HEAD, OPTIONS\r\n"

/* A path segment ends: "." or ".." (each dot possibly "%2e") is a dot segment. */
static void segment_end(cx_http_head *self)
{
    if (self->pct)   /* an escape cut short is no dot */
        self->segment_other = 1, self->pct = 0;
    if (!self->segment_other && (self->segment_dots == 1 || self->segment_dots == 2))
        self->dot_segment = 1;
    self->segment_dots = self->segment_other = 0;
}

void cx_http_head_target_byte(cx_http_head *self, unsigned char c)
{
    if (self->in_query)
        return;
    if (self->pct) {   /* "%2e" is a dot, "%2f" a slash (both decoded before matching, by lws as by
                        * Django); any other escape is an ordinary character of the segment */
        if (self->pct == 1 && c == '2') {
            self->pct = 2;
            return;
        }
        int second = self->pct == 2;
        self->pct = 0;
        if (second && (c == 'e' || c == 'E')) {
            self->segment_dots++;
            return;
        }
        if (second && (c == 'f' || c == 'F')) {
            segment_end(self);
            return;
        }
        self->segment_other = 1;
        if (isxdigit(c))
            return;   /* a digit of the escape; what is not is a character of its own, below */
    }
    if (c == '?' || c == '#' || c == '/') {
        segment_end(self);
        self->in_query = c != '/';
    } else if (c == '%') {
        self->pct = 1;
    } else if (c == '.') {
        self->segment_dots++;
    } else {
        self->segment_other = 1;
    }
}

void cx_http_head_field_byte(cx_http_head *self, unsigned char c, int first)
{
    if (first) {
        self->name_len = self->value_len = 0;
        self->in_value = self->name_space = 0;
        self->line_bytes = 0;
        if (c == ' ' || c == '\t') {   /* obs-fold: the line continues the previous field's value */
            self->folded = 1;
            return;
        }
    }
    self->line_bytes++;
    if (!self->in_value) {
        if (c == ':') {
            self->in_value = 1;
            self->name[self->name_len < sizeof self->name ? self->name_len : sizeof self->name - 1] = '\0';
        } else if (c == ' ' || c == '\t') {
            self->name_space = 1;
        } else if (self->name_len < sizeof self->name - 1) {
            self->name[self->name_len++] = (char) tolower(c);
        } else {
            self->name_len = sizeof self->name;   /* longer than any name looked at */
        }
        return;
    }
    if (strcmp(self->name, "content-length") == 0 && c != ' ' && c != '\t') {
        if (self->value_len < sizeof self->value - 1)
            self->value[self->value_len++] = (char) c;
        else
            self->bad_length = 1;
    }
}

/* Content-Length: 1*DIGIT, or a list of one value repeated ("5, 5"), RFC 9110 §8.6. */
static void take_length(cx_http_head *self)
{
    self->value[self->value_len] = '\0';
    char *p = self->value;
    do {
        if (!isdigit((unsigned char) *p)) {
            self->bad_length = 1;
            return;
        }
        char *end;
        long long n = strtoll(p, &end, 10);
        if (self->length_seen && self->content_length != n)
            self->bad_length = 1;
        self->content_length = n;
        self->length_seen = 1;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            self->bad_length = 1;
    } while (*p && !self->bad_length);
}

void cx_http_head_line_end(cx_http_head *self)
{
    if (self->folded)
        return;
    if (!self->in_value || self->name_space || self->name_len == 0) {
        self->bad_name = 1;
        return;
    }
    if (strcmp(self->name, "host") == 0)
        self->hosts++;
    else if (strcmp(self->name, "transfer-encoding") == 0)
        self->transfer_encoding = 1;
    else if (strcmp(self->name, "content-length") == 0)
        take_length(self);
}

static int answer(cx_http_answer *out, int status, const char *text, const char *detail, const char *headers)
{
    *out = (cx_http_answer) { status, text, detail, headers };
    return 1;
}

int cx_http_head_verdict(cx_http_head *self, const char *method, cx_http_answer *out)
{
    segment_end(self);
    if (self->folded)
        return answer(out, 400, "Bad Request", "Folded header lines (obs-fold) are not accepted.", "");
    if (self->bad_name)
        return answer(out, 400, "Bad Request", "Malformed header line.", "");
    if (self->hosts > 1)
        return answer(out, 400, "Bad Request", "More than one Host header.", "");
    if (self->bad_length)
        return answer(out, 400, "Bad Request", "Malformed or conflicting Content-Length.", "");
    int body = self->transfer_encoding || self->content_length > 0;
    int readable = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (strcmp(method, "OPTIONS") == 0)
        return body ? answer(out, 400, "Bad Request", "This server takes no request body.", "")
                    : answer(out, 200, "OK", NULL, ALLOW);
    if (!readable)
        return answer(out, 405, "Method Not Allowed", "Method not allowed.", ALLOW);
    if (self->transfer_encoding)
        return answer(out, 501, "Not Implemented", "Transfer-Encoding is not supported.", "");
    if (body)
        return answer(out, 400, "Bad Request", "This server takes no request body.", "");
    if (self->dot_segment)
        return answer(out, 404, "Not Found", "Not found.", "");
    return 0;
}
