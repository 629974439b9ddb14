#include "tus.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const tus_version_header = "Tus-Resumable: 1.0.0";

/* Fill out from res; a failure gets a one-line reason naming the request. */
static void settle(const char *what, const struct http_result *res, struct tus_result *out)
{
    out->outcome = http_outcome_of(res);
    /* On an upload link, tus lets a server answer 404, 410 or 403 for an
     * unknown or expired upload (TUS.md): all three mean "gone". A 403 from
     * a creation endpoint is a refusal and stays one. */
    if (res->status == 403 && strcmp(what, "creation POST") != 0)
        out->outcome = HTTP_GONE;
    out->status = res->status;
    out->retry_after = res->retry_after;
    if (out->outcome == HTTP_OK || out->outcome == HTTP_ABORTED)
        return;
    if (res->status)
        snprintf(out->error, sizeof out->error, "%s answered HTTP %ld%s", what, res->status,
                 res->status == 412 ? " (tus version not supported)" :
                 res->status == 415 || res->status == 400 ? " (request refused)" :
                 res->status == 423 ? " (upload locked)" :
                 res->status == 429 ? " (rate limited)" : "");
    else
        snprintf(out->error, sizeof out->error, "%s: %s", what, res->error);
}

/* Run req; false (out filled as a local failure) when it could not be sent. */
static bool perform(struct http *h, const struct http_request *req, const char *what, struct http_result *res,
                    struct tus_result *out)
{
    *out = (struct tus_result){ 0 };
    if (!http_perform(h, req, res)) {
        out->outcome = HTTP_FATAL;
        snprintf(out->error, sizeof out->error, "%s: %s", what, res->error);
        return false;
    }
    settle(what, res, out);
    return true;
}

void tus_head(struct http *h, const char *link, long timeout, struct tus_result *out)
{
    const char *headers[] = { tus_version_header, NULL };
    struct http_request req = { .method = "HEAD", .url = link, .headers = headers, .timeout = timeout };
    struct http_result res = { 0 };
    if (perform(h, &req, "HEAD", &res, out)) {
        if (out->outcome == HTTP_OK && (!res.has_offset || !res.has_length || res.upload_offset > res.upload_length)) {
            out->outcome = HTTP_RETRY;
            snprintf(out->error, sizeof out->error, "HEAD answer lacks a valid Upload-Offset and Upload-Length");
        }
        out->offset = res.upload_offset;
        out->length = res.upload_length;
    }
    http_result_free(&res);
}

void tus_patch(struct http *h, const char *link, int fd, uint64_t offset, uint64_t length,
               int (*on_progress)(void *, uint64_t), size_t (*throttle)(void *, size_t), void *ctx,
               struct tus_result *out)
{
    char offset_header[64];
    snprintf(offset_header, sizeof offset_header, "Upload-Offset: %" PRIu64, offset);
    const char *headers[] = { tus_version_header, offset_header, "Content-Type: application/offset+octet-stream",
                              NULL };
    struct http_request req = { .method = "PATCH", .url = link, .headers = headers, .fd = fd, .offset = offset,
                                .length = length, .stream = true, .on_progress = on_progress,
                                .throttle = throttle, .ctx = ctx };
    struct http_result res = { 0 };
    if (perform(h, &req, "PATCH", &res, out)) {
        if (out->outcome == HTTP_OK) {
            if (!res.has_offset || res.upload_offset <= offset || res.upload_offset > offset + length) {
                /* Not proof of anything: let HEAD say where the upload is. */
                out->outcome = HTTP_CONFLICT;
                snprintf(out->error, sizeof out->error, "PATCH answer has %s Upload-Offset",
                         res.has_offset ? "an impossible" : "no");
            }
            out->offset = res.upload_offset;
        }
    }
    http_result_free(&res);
}

/* Upload-Metadata: "filename <base64>". */
static void base64(const char *in, char *out, size_t cap)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        out[o++] = digits[v >> 18 & 63];
        out[o++] = digits[v >> 12 & 63];
        out[o++] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? digits[v & 63] : '=';
    }
    out[o] = '\0';
}

void tus_create(struct http *h, const char *endpoint, uint64_t size, const char *name, char *link, size_t cap,
                struct tus_result *out)
{
    char length_header[64], meta_header[1200], encoded[1100];
    snprintf(length_header, sizeof length_header, "Upload-Length: %" PRIu64, size);
    base64(name, encoded, sizeof encoded);
    snprintf(meta_header, sizeof meta_header, "Upload-Metadata: filename %s", encoded);
    const char *headers[] = { tus_version_header, length_header, meta_header, NULL };
    struct http_request req = { .method = "POST", .url = endpoint, .headers = headers };
    struct http_result res = { 0 };
    if (perform(h, &req, "creation POST", &res, out)) {
        char why[96];
        if (out->outcome == HTTP_OK &&
            (res.status != 201 || !res.location[0] || !http_resolve(endpoint, res.location, link, cap) ||
             !http_url_allowed(link, why, sizeof why))) {
            out->outcome = HTTP_FATAL;
            snprintf(out->error, sizeof out->error, "creation POST answered %ld without a usable Location",
                     res.status);
        }
    }
    http_result_free(&res);
}

void tus_delete(struct http *h, const char *link, struct tus_result *out)
{
    const char *headers[] = { tus_version_header, NULL };
    struct http_request req = { .method = "DELETE", .url = link, .headers = headers };
    struct http_result res = { 0 };
    perform(h, &req, "DELETE", &res, out);
    http_result_free(&res);
}
