/*
 * http: the engine's only door to the network, on libcurl.
 *
 * One struct http per worker thread wraps one curl easy handle, reused for
 * every request so connections stay alive. TLS verification is always on;
 * plain http is refused unless the host is a loopback address. Answers are
 * read into a buffer capped at HTTP_BODY_MAX; a PATCH body is streamed from a
 * file descriptor with pread(), so memory does not grow with its length.
 *
 * curl_global_init() must have run (http_global_init) before any thread
 * makes a struct http. A struct http is used by one thread at a time.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum { HTTP_BODY_MAX = 1 << 20, HTTP_URL_MAX = 2048 };

struct http_options {
    long connect_timeout;   /* seconds */
    long low_speed_limit;   /* bytes/s; slower than this for low_speed_time is a failure */
    long low_speed_time;    /* seconds */
    long api_timeout;       /* seconds, for everything but PATCH */
    const char *ca_file;    /* CA certificates to trust instead of the system's; NULL: the system's */
    /* Told of each request as it ends (engine_config.on_request); NULL: none. */
    void (*on_request)(void *ctx, const char *method, const char *url, long status, double seconds);
    void *on_request_ctx;
};

struct http_request {
    const char *method;               /* GET, POST, HEAD, PATCH, DELETE, OPTIONS */
    const char *url;
    const char *token;                /* API calls only: sent as "Authorization: bearer" */
    const char *const *headers;       /* extra "Name: value" lines, NULL-terminated */
    const char *body;                 /* a small in-memory body (JSON) */
    size_t body_len;
    int fd;                           /* PATCH: stream length bytes from fd at offset */
    uint64_t offset, length;
    bool stream;
    long timeout;                     /* seconds for the whole request; 0: the handle's default */
    /* Called as bytes go out; a non-zero return aborts the transfer. */
    int (*on_progress)(void *ctx, uint64_t sent);
    /* Called before each piece of the body is read: may sleep to keep a rate
     * cap, returns how many of want bytes may go now, or 0 to abort. */
    size_t (*throttle)(void *ctx, size_t want);
    void *ctx;
};

struct http_result {
    long status;                 /* 0 when no HTTP answer arrived */
    bool transport_error;        /* connection, timeout, stall, TLS... */
    bool tls_refused;            /* of those, a certificate or TLS setup refused: retrying cannot help */
    bool timed_out;              /* of those, the server was reached but did not answer in time */
    bool aborted;                /* stopped by on_progress or throttle */
    bool request_sent;           /* the request went out: the server may have acted on it */
    char error[256];             /* one line, when transport_error */
    struct buf body;
    bool has_offset, has_length;
    uint64_t upload_offset, upload_length;
    long retry_after;            /* seconds; -1 when absent */
    char location[HTTP_URL_MAX];
    char content_type[128];
    long ratelimit_remaining;    /* -1 when absent */
    char ratelimit_reset[64];    /* ISO-8601 as Vimeo sends it */
};

struct http;

bool http_global_init(void);
void http_global_cleanup(void);
struct http *http_new(const struct http_options *options);
void http_free(struct http *h);
/* While *stop is true (NULL: never), every transfer on h aborts within a
 * second, whatever its kind: PATCH, HEAD, an API call. Returns the flag
 * watched before, for a caller that watches another for a while. */
const atomic_bool *http_watch(struct http *h, const atomic_bool *stop);
/* The stall floor for the next transfers on h, in bytes/s (0: the
 * options'): a rate cap may hold a transfer below the usual floor. */
void http_set_low_speed(struct http *h, long bytes_per_second);

/* Perform one request. Returns false only when it could not be attempted
 * (refused URL or header, out of memory); res->error says why. */
bool http_perform(struct http *h, const struct http_request *req, struct http_result *res);
void http_result_free(struct http_result *res);

/* url as it may be shown: without user info, query or fragment, where a
 * pre-authorised link keeps its secrets. */
void http_url_shown(const char *url, char *out, size_t cap);

/* Is url acceptable to talk to: http(s) only, https unless loopback, no
 * control characters. On false, why says so in a few words. */
bool http_url_allowed(const char *url, char *why, size_t cap);

/* Resolve a Location (absolute or relative) against the request URL. */
bool http_resolve(const char *base, const char *location, char *out, size_t cap);

/* What a result means for the caller: go on, try again later (network
 * errors, stalls, 5xx, 408, 423, 429), re-read the offset (409), the
 * resource is gone (404, 410), give up (other statuses, local errors, a
 * refused TLS certificate), or the transfer was stopped on purpose. */
enum http_outcome { HTTP_OK, HTTP_RETRY, HTTP_CONFLICT, HTTP_GONE, HTTP_FATAL, HTTP_ABORTED };
enum http_outcome http_outcome_of(const struct http_result *res);

/* Parse one response header line into res (exported for tests). */
void http_parse_header(const char *line, size_t len, struct http_result *res);

/* How many of want bytes of a body to read from the file at offset into
 * buffer: fewer, so that the next read into the same buffer is page-aligned
 * with the file (a copy between pages at a small skew is slow; http.c). */
size_t http_read_size(uintptr_t buffer, uint64_t offset, size_t want);

/* A header value is safe to send: no CR, LF or other control characters. */
bool http_header_value_safe(const char *value);

#endif
