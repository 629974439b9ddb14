/*
 * tus: the tus 1.0.0 requests vimeo-up makes on an upload link: HEAD (where
 * is the upload?), PATCH (send a chunk, streamed from the file), POST to a
 * creation endpoint (generic tus servers) and DELETE. Every answer is
 * checked: an offset that is missing, moves backwards or runs past the
 * length is a protocol error, not progress.
 */
#ifndef TUS_H
#define TUS_H

#include <stdint.h>

#include "http.h"

struct tus_result {
    enum http_outcome outcome;
    long status;
    long retry_after;            /* seconds, -1 when the server gave none */
    uint64_t offset, length;     /* from HEAD (length) and HEAD/PATCH (offset) */
    char error[320];             /* one line when outcome is not HTTP_OK */
};

/* timeout: seconds, 0 for the default. */
void tus_head(struct http *h, const char *link, long timeout, struct tus_result *out);

/* PATCH length bytes of fd from offset. The answer's offset must lie in
 * (offset, offset + length]; progress/throttle/ctx as in struct http_request. */
void tus_patch(struct http *h, const char *link, int fd, uint64_t offset, uint64_t length,
               int (*on_progress)(void *, uint64_t), size_t (*throttle)(void *, size_t), void *ctx,
               struct tus_result *out);

/* POST to a creation endpoint; the new upload's absolute URL goes to link. */
void tus_create(struct http *h, const char *endpoint, uint64_t size, const char *name, char *link, size_t cap,
                struct tus_result *out);

void tus_delete(struct http *h, const char *link, struct tus_result *out);

#endif
