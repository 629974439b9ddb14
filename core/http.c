#include "http.h"

#include <stdatomic.h>

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

enum {
    /* Big enough that curl makes few read calls, small enough that eight
     * workers stay within a few MiB. */
    UPLOAD_BUFFER = 256 * 1024,
    /* A streamed body up to this size goes in the request's own send, read
     * whole first (curl sends a body it holds with the headers up to 64
     * KiB): one write and one wake-up of the server a PATCH, not two. */
    SMALL_BODY_MAX = 64 * 1024,
    TOKEN_MAX = 400,           /* bytes: Vimeo's tokens are 32; more is not a token */
    ANSWER_WAIT_FACTOR = 10,   /* stall times a server may take to answer after the last byte */
    PAGE_BYTES = 4096,
};

struct http {
    CURL *curl;
    struct http_options options;
    const atomic_bool *watch;   /* true aborts any transfer (http_watch) */
    long low_speed_limit;       /* bytes/s for the next transfers; 0: the options' */
    /* The origin (scheme://authority) of the last URL that url_check let
     * through, and its verdict: parsing every request's URL again (curl's
     * URL API, sscanf) was 2% of the CPU on many small files. */
    char origin[256];
    size_t origin_len;          /* 0: none */
    bool origin_direct;
    char *small_body;           /* SMALL_BODY_MAX bytes, once a small body was sent; NULL */
};

struct transfer {
    const struct http *h;
    const struct http_request *req;
    /* A streamed body's stall watch: bytes sent by window_start, and when
     * the last byte went (0: not yet). */
    double window_start, all_sent_at;
    uint64_t window_bytes;
    enum { MOVING, STALLED_SENDING, STALLED_ANSWER } stall;
    struct http_result *res;
    uint64_t done;       /* body bytes handed to curl */
    size_t granted;      /* bytes the throttle granted before the first read, not yet read */
    bool read_failed;
};

bool http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void http_global_cleanup(void)
{
    curl_global_cleanup();
}

struct http *http_new(const struct http_options *options)
{
    struct http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    h->options = *options;
    return h;
}

const atomic_bool *http_watch(struct http *h, const atomic_bool *stop)
{
    const atomic_bool *was = h->watch;
    h->watch = stop;
    return was;
}

void http_set_low_speed(struct http *h, long bytes_per_second)
{
    h->low_speed_limit = bytes_per_second;
}

void http_free(struct http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h->small_body);
    free(h);
}

void http_result_free(struct http_result *res)
{
    buf_free(&res->body);
}

bool http_header_value_safe(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return false;
    return true;
}

static bool host_is_loopback(const char *host)
{
    if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]") || !strcmp(host, "::1"))
        return true;
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

/* The scheme and host of url, to curl_free; false if it does not parse. */
static bool url_scheme_host(const char *url, char **scheme, char **host)
{
    CURLU *u = curl_url();
    *scheme = *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK;
    curl_url_cleanup(u);
    return ok;
}

/* No spaces or control characters, and a length curl and we take. */
static bool url_clean(const char *url, char *why, size_t cap)
{
    if (!url || !*url || strlen(url) >= HTTP_URL_MAX)
        return snprintf(why, cap, "empty or too long"), false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7F)
            return snprintf(why, cap, "contains spaces or control characters"), false;
    return true;
}

/* The scheme and host of a clean URL decide: https anywhere, http to
 * loopback only; *direct as url_check's. */
static bool url_judge(const char *url, char *why, size_t cap, bool *direct)
{
    *direct = true;
    char *scheme, *host;
    bool ok = url_scheme_host(url, &scheme, &host);
    if (!ok)
        snprintf(why, cap, "not a valid URL");
    else if (strcmp(scheme, "https") != 0 && !(strcmp(scheme, "http") == 0 && host_is_loopback(host)))
        ok = false, snprintf(why, cap, "%s", strcmp(scheme, "http") == 0 ? "plain http is only allowed to loopback"
                                                                         : "not an http(s) URL");
    else
        *direct = strcmp(scheme, "https") != 0 || host_is_loopback(host);
    curl_free(scheme);
    curl_free(host);
    return ok;
}

/* http_url_allowed(), and whether url must go direct: plain http (which
 * carries the token in clear) and anything to loopback never go through
 * http_proxy and the like: a proxy would read the token, and loopback is
 * never behind one. One parse for both. */
static bool url_check(const char *url, char *why, size_t cap, bool *direct)
{
    *direct = true;
    return url_clean(url, why, cap) && url_judge(url, why, cap, direct);
}

/* The length of url's scheme and authority, up to the path, query or
 * fragment that ends it; 0 when there is none. The host, which decides
 * url_check, lies wholly inside it. */
static size_t url_origin_length(const char *url)
{
    const char *authority = strstr(url, "://");
    if (!authority)
        return 0;
    authority += 3;
    size_t n = strcspn(authority, "/?#");
    return authority[n] ? (size_t)(authority - url) + n : 0;
}

/* url_check, taking the last verdict for a URL of the same origin. */
static bool url_check_cached(struct http *h, const char *url, char *why, size_t cap, bool *direct)
{
    if (!url_clean(url, why, cap))
        return false;
    size_t n = url_origin_length(url);
    if (n && n == h->origin_len && !memcmp(url, h->origin, n)) {
        *direct = h->origin_direct;
        return true;
    }
    if (!url_judge(url, why, cap, direct))
        return false;
    h->origin_len = n < sizeof h->origin ? n : 0;
    memcpy(h->origin, url, h->origin_len);
    h->origin_direct = *direct;
    return true;
}

bool http_url_allowed(const char *url, char *why, size_t cap)
{
    bool direct;
    return url_check(url, why, cap, &direct);
}

bool http_resolve(const char *base, const char *location, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *full = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
              curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK && strlen(full) < cap;
    if (ok)
        strcpy(out, full);
    curl_free(full);
    curl_url_cleanup(u);
    return ok;
}

static bool parse_u64(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    if (s == end)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* Retry-After is seconds or an HTTP date. */
static long parse_retry_after(const char *value)
{
    uint64_t secs;
    if (parse_u64(value, value + strlen(value), &secs))
        return secs > 86400 ? 86400 : (long)secs;
    struct tm tm = { 0 };
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    long delta = (long)(timegm(&tm) - time(NULL));
    return delta < 0 ? 0 : delta > 86400 ? 86400 : delta;
}

void http_parse_header(const char *line, size_t len, struct http_result *res)
{
    char copy[HTTP_URL_MAX + 64];
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len >= sizeof copy)
        return;
    memcpy(copy, line, len);
    copy[len] = '\0';
    if (!strncmp(copy, "HTTP/", 5)) {
        /* A new response (after a redirect or 100 Continue): forget the old headers. */
        res->has_offset = res->has_length = false;
        res->retry_after = res->ratelimit_remaining = -1;
        res->location[0] = res->content_type[0] = res->ratelimit_reset[0] = '\0';
        return;
    }
    char *colon = strchr(copy, ':');
    if (!colon)
        return;
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    char *end = value + strlen(value);
    while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    const char *name = copy;
    if (!strcasecmp(name, "Upload-Offset"))
        res->has_offset = parse_u64(value, end, &res->upload_offset);
    else if (!strcasecmp(name, "Upload-Length"))
        res->has_length = parse_u64(value, end, &res->upload_length);
    else if (!strcasecmp(name, "Retry-After"))
        res->retry_after = parse_retry_after(value);
    else if (!strcasecmp(name, "Location"))
        snprintf(res->location, sizeof res->location, "%s", value);
    else if (!strcasecmp(name, "Content-Type"))
        snprintf(res->content_type, sizeof res->content_type, "%s", value);
    else if (!strcasecmp(name, "X-RateLimit-Remaining")) {
        uint64_t v;
        res->ratelimit_remaining = parse_u64(value, end, &v) && v < 1000000000 ? (long)v : -1;
    } else if (!strcasecmp(name, "X-RateLimit-Reset"))
        snprintf(res->ratelimit_reset, sizeof res->ratelimit_reset, "%s", value);
}

/* libcurl opens its sockets without close-on-exec: a program run from
 * vimeo-up (an --on-done hook) would inherit the API's and the upload
 * hosts' connections. */
static int socket_close_on_exec(void *ctx, curl_socket_t fd, curlsocktype purpose)
{
    (void)ctx;
    (void)purpose;
    int flags = fcntl(fd, F_GETFD);
    return flags >= 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 ? CURL_SOCKOPT_OK : CURL_SOCKOPT_ERROR;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    struct transfer *t = ctx;
    http_parse_header(data, size * n, t->res);
    return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct transfer *t = ctx;
    /* Refusing the bytes makes curl fail with CURLE_WRITE_ERROR: an answer
     * past the cap is an error at bounded memory, never a partial success. */
    return buf_append(&t->res->body, data, size * n) ? size * n : 0;
}

/* The kernel copies the file's cached pages into curl's buffer, and that
 * copy runs three to four times slower when the buffer sits a few bytes
 * further into its page than the file offset does (each store lands just
 * past a load 4 KiB back, and the CPU waits as if they overlapped): pread
 * of 1 GiB in 256 KiB pieces took about 0.5 s of CPU into a buffer 16 bytes
 * into a page, 0.15 s page-aligned. curl's upload buffer is just that:
 * malloc maps its 256 KiB and hands it out 16 bytes in. So a read that
 * does not end the body is cut to end where the next one, into the same
 * buffer, starts level with its page; every full read after it stays so. */
size_t http_read_size(uintptr_t buffer, uint64_t offset, size_t want)
{
    size_t skew = (size_t)((buffer - offset) & (PAGE_BYTES - 1));
    if (!skew || want <= skew)
        return want;
    return skew + (want - skew) / PAGE_BYTES * PAGE_BYTES;
}

static size_t on_read(char *out, size_t size, size_t n, void *ctx)
{
    struct transfer *t = ctx;
    const struct http_request *req = t->req;
    size_t want = size * n;
    uint64_t left = req->length - t->done;
    if (left <= want)
        want = (size_t)left;
    else
        want = http_read_size((uintptr_t)out, req->offset + t->done, want);
    if (want == 0)
        return 0;
    if (t->granted) {
        want = want < t->granted ? want : t->granted;
        t->granted -= want;
    } else if (req->throttle) {
        want = req->throttle(req->ctx, want);
        if (want == 0)
            return CURL_READFUNC_ABORT;
    }
    ssize_t got;
    do
        got = pread(req->fd, out, want, (off_t)(req->offset + t->done));
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        /* The file shrank or failed under us: never send padding. */
        t->read_failed = true;
        return CURL_READFUNC_ABORT;
    }
    t->done += (uint64_t)got;
    return (size_t)got;
}

/* A streamed body of SMALL_BODY_MAX bytes at most, granted whole (in
 * t->granted under a rate cap), read whole into h->small_body before the
 * request, through on_read as curl would read it. False when the file
 * shrank or failed under us (t->read_failed). */
static bool read_small_body(struct http *h, struct transfer *t)
{
    while (t->done < t->req->length) {
        if (on_read(h->small_body + t->done, 1, (size_t)(t->req->length - t->done), t) == CURL_READFUNC_ABORT)
            return false;
    }
    return true;
}

/* curl rewinds the body when it must send the request again on a fresh
 * connection because a kept-alive one turned out dead: the first write
 * fails, before more than one buffer was read. Reading with pread makes
 * that rewind free; without it the PATCH fails and waits out a backoff. A
 * connection lost further into the body is a real fault: it is refused
 * here, so the engine sees it, asks the server where it got to, and says
 * so in a retry event. */
static int on_seek(void *ctx, curl_off_t offset, int origin)
{
    struct transfer *t = ctx;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > t->req->length || t->done > UPLOAD_BUFFER)
        return CURL_SEEKFUNC_CANTSEEK;
    t->done = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* A streamed body is stalled when under the floor for the stall time while
 * it is being sent; once the last byte is out, the server may take a while
 * to take in a big chunk, and gets a longer time of its own to answer.
 * (curl's own low-speed limit would count that wait as a stall.) */
static bool stalled(struct transfer *t, uint64_t sent)
{
    const struct http *h = t->h;
    double now = clock_mono();
    long floor = h->low_speed_limit ? h->low_speed_limit : h->options.low_speed_limit;
    long span = h->options.low_speed_time;
    if (!t->window_start) {
        t->window_start = now;
        t->window_bytes = sent;
    }
    if (sent >= t->req->length) {
        if (!t->all_sent_at)
            t->all_sent_at = now;
        if (now - t->all_sent_at > (double)span * ANSWER_WAIT_FACTOR)
            t->stall = STALLED_ANSWER;
    } else if (now - t->window_start >= (double)span) {
        if (sent - t->window_bytes < (uint64_t)(floor * span))
            t->stall = STALLED_SENDING;
        t->window_start = now;
        t->window_bytes = sent;
    }
    return t->stall != MOVING;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    struct transfer *t = ctx;
    if (t->h->watch && atomic_load(t->h->watch))
        return 1; /* curl calls this at least once a second, so every request stops in time */
    if (t->req->stream && stalled(t, (uint64_t)ulnow))
        return 1;
    return t->req->on_progress ? t->req->on_progress(t->req->ctx, (uint64_t)ulnow) : 0;
}

/* The peer's certificate or our TLS setup was refused: asking again gets
 * the same answer, so it is no reason to retry. A handshake cut short
 * (CURLE_SSL_CONNECT_ERROR) may be the network and stays transient. */
static bool tls_refusal(CURLcode rc)
{
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        return true;
    default:
        return false;
    }
}

/* The request's header list, or NULL with res->error set when a value
 * could break out of its header line. */
static struct curl_slist *build_headers(const struct http_request *req, struct http_result *res, bool *ok)
{
    struct curl_slist *headers = NULL;
    char line[512];
    *ok = false;
    if (req->token) {
        if (!http_header_value_safe(req->token) || strlen(req->token) > TOKEN_MAX) {
            snprintf(res->error, sizeof res->error, "the access token holds characters a header cannot carry");
            return NULL;
        }
        snprintf(line, sizeof line, "Authorization: bearer %s", req->token);
        headers = curl_slist_append(headers, line);
        headers = curl_slist_append(headers, "Accept: application/vnd.vimeo.*+json;version=3.4");
    }
    for (const char *const *hdr = req->headers; hdr && *hdr; hdr++) {
        if (!http_header_value_safe(*hdr)) {
            curl_slist_free_all(headers);
            snprintf(res->error, sizeof res->error, "refused a header with control characters");
            return NULL;
        }
        headers = curl_slist_append(headers, *hdr);
    }
    /* No "Expect: 100-continue" round trip before a body. */
    headers = curl_slist_append(headers, "Expect:");
    *ok = true;
    return headers;
}

static void set_common_options(struct http *h, const struct http_request *req, bool direct,
                               struct curl_slist *headers, struct transfer *t, char *errbuf)
{
    CURL *c = h->curl;
    curl_easy_reset(c); /* keeps the connection cache: keep-alive survives */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (direct)
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* overrides the proxy environment variables */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vimeo-up/" VIMEO_UP_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->options.connect_timeout);
    if (!req->stream) { /* a streamed body has its own watch: stalled() */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, h->options.low_speed_limit);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->options.low_speed_time);
    }
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, socket_close_on_exec);
    if (h->options.ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->options.ca_file); /* verification stays on: only whom to trust changes */
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
}

/* The method and its body: streamed from the file, read whole from it
 * (small), in memory, or none. */
static void set_method(struct http *h, const struct http_request *req, struct transfer *t, bool small)
{
    CURL *c = h->curl;
    if (small) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->small_body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->length);
        return;
    }
    if (req->stream) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->length);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, t);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, t);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, (long)UPLOAD_BUFFER);
        return;
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout ? req->timeout : h->options.api_timeout);
    if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        if (!strcmp(req->method, "POST")) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        }
    }
}

/* A transfer that ended without an HTTP answer, in one line. */
static void describe_failure(CURLcode rc, const struct transfer *t, const char *errbuf, struct http_result *res)
{
    res->status = 0;
    if (t->read_failed) {
        snprintf(res->error, sizeof res->error, "cannot read the file at offset %llu",
                 (unsigned long long)(t->req->offset + t->done));
    } else if (rc == CURLE_ABORTED_BY_CALLBACK && t->stall == STALLED_SENDING) {
        res->transport_error = true;
        snprintf(res->error, sizeof res->error, "stalled: under %ld bytes/s for %ld s while sending",
                 t->h->low_speed_limit ? t->h->low_speed_limit : t->h->options.low_speed_limit,
                 t->h->options.low_speed_time);
    } else if (rc == CURLE_ABORTED_BY_CALLBACK && t->stall == STALLED_ANSWER) {
        res->transport_error = true;
        snprintf(res->error, sizeof res->error, "no answer %ld s after the last byte",
                 t->h->options.low_speed_time * ANSWER_WAIT_FACTOR);
    } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        res->aborted = true;
        snprintf(res->error, sizeof res->error, "stopped");
    } else if (rc == CURLE_WRITE_ERROR && res->body.overflowed) {
        snprintf(res->error, sizeof res->error, "the server's answer is larger than %d bytes", HTTP_BODY_MAX);
    } else if (rc == CURLE_OPERATION_TIMEDOUT && res->request_sent) {
        /* curl's words ("Operation too slow. Less than 1024 bytes/sec...")
         * describe its own watch, not what happened. */
        curl_off_t took = 0;
        curl_easy_getinfo(t->h->curl, CURLINFO_TOTAL_TIME_T, &took);
        res->transport_error = res->timed_out = true;
        snprintf(res->error, sizeof res->error, "no answer in %.0f s", (double)took / 1e6);
    } else if (rc == CURLE_SEND_FAIL_REWIND) {
        /* curl would send the body again on a new connection; on_seek says
         * no, so that the server is asked where it got to (curl's words
         * name its seek callback). */
        res->transport_error = true;
        snprintf(res->error, sizeof res->error, "the connection closed while sending");
    } else if (rc == CURLE_GOT_NOTHING) {
        res->transport_error = true;
        snprintf(res->error, sizeof res->error, "the server closed the connection without an answer");
    } else if (rc == CURLE_OUT_OF_MEMORY) {
        /* What curl says of a header line past its limit: the server's fault, not ours. */
        snprintf(res->error, sizeof res->error, "the server's answer has a header too large to read");
    } else {
        res->transport_error = true;
        res->tls_refused = tls_refusal(rc);
        snprintf(res->error, sizeof res->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
}

void http_url_shown(const char *url, char *out, size_t cap)
{
    const char *scheme_end = strstr(url, "://");
    const char *authority = scheme_end ? scheme_end + 3 : url;
    size_t authority_len = strcspn(authority, "/?#");
    const char *at = memrchr(authority, '@', authority_len);
    const char *host = at ? at + 1 : authority;
    size_t host_len = authority_len - (size_t)(host - authority);
    size_t path_len = strcspn(host + host_len, "?#");
    snprintf(out, cap, "%.*s%.*s", (int)(authority - url), url, (int)(host_len + path_len), host);
}

/* -v: the request as it ended, told to whoever asked. */
static void tell_request(const struct http *h, const struct http_request *req, const struct http_result *res)
{
    if (!h->options.on_request)
        return;
    char shown[HTTP_URL_MAX];
    double seconds = 0;
    curl_easy_getinfo(h->curl, CURLINFO_TOTAL_TIME, &seconds);
    http_url_shown(req->url, shown, sizeof shown);
    h->options.on_request(h->options.on_request_ctx, req->method, shown, res->status, seconds);
}

bool http_perform(struct http *h, const struct http_request *req, struct http_result *res)
{
    struct buf body = res->body;
    buf_reset(&body);
    if (!body.max)
        buf_init(&body, HTTP_BODY_MAX);
    *res = (struct http_result){ .body = body, .retry_after = -1, .ratelimit_remaining = -1 };

    char why[96];
    bool direct;
    if (!url_check_cached(h, req->url, why, sizeof why, &direct)) {
        snprintf(res->error, sizeof res->error, "refused URL (%s)", why);
        return false;
    }
    bool ok;
    struct curl_slist *headers = build_headers(req, res, &ok);
    if (!ok)
        return false;
    struct transfer t = { .h = h, .req = req, .res = res };
    char errbuf[CURL_ERROR_SIZE] = "";
    bool small = req->stream && req->length > 0 && req->length <= SMALL_BODY_MAX &&
                 (h->small_body || (h->small_body = malloc(SMALL_BODY_MAX)));
    bool stopped = false;
    if (small && req->throttle) {
        /* Under a rate cap the body goes as it is granted, and its progress
         * shows as it goes: only a body granted whole is read whole. */
        t.granted = req->throttle(req->ctx, (size_t)req->length);
        stopped = t.granted == 0;
        small = t.granted == req->length;
    }
    if (stopped || (small && !read_small_body(h, &t))) {
        curl_slist_free_all(headers);
        describe_failure(CURLE_ABORTED_BY_CALLBACK, &t, errbuf, res); /* as on_read's abort would */
        return true;
    }
    set_common_options(h, req, direct, headers, &t, errbuf);
    set_method(h, req, &t, small);
    CURLcode rc = curl_easy_perform(h->curl);
    curl_slist_free_all(headers);
    long request_size = 0;
    curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &request_size);
    res->request_sent = request_size > 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &res->status);
    else
        describe_failure(rc, &t, errbuf, res);
    tell_request(h, req, res);
    return true;
}

enum http_outcome http_outcome_of(const struct http_result *res)
{
    if (res->aborted)
        return HTTP_ABORTED;
    if (res->transport_error)
        return res->tls_refused ? HTTP_FATAL : HTTP_RETRY;
    long s = res->status;
    if (s >= 200 && s < 300)
        return HTTP_OK;
    if (s >= 500 || s == 423 || s == 429 || s == 408)
        return HTTP_RETRY;
    if (s == 409)
        return HTTP_CONFLICT;
    if (s == 404 || s == 410)
        return HTTP_GONE;
    return HTTP_FATAL;
}
