/*
 * vimeo-sandbox: a local stand-in for the parts of the Vimeo API and of tus
 * 1.0.0 that vimeo-up uses, with faults on demand. See --help, and
 * tests/sandbox/faults.h for the fault grammar.
 *
 * One thread per connection (libmicrohttpd), so a stalled or slowed request
 * only ever holds its own connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <ftw.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include "faults.h"
#include "sbjson.h"
#include "store.h"
#include "tlscert.h"

#define TUS_VERSION "1.0.0"
/* API and control bodies are small; anything larger is refused, not buffered. */
enum { BODY_CAP = 1 << 20 };

/* Two servers, as Vimeo keeps its upload hosts apart from its API. One takes
 * the API and uploads of up to SMALL_UPLOAD bytes with a small memory pool
 * per connection; the other, on a second port, takes the links of bigger
 * uploads, with a big pool. libmicrohttpd 0.9.75 zeroes a connection's
 * whole pool at its start and after every request (MHD_pool_reset), which
 * at 4 MiB cost ~140 us a request and ~2 ms a connection; but a PATCH body
 * is read into half the pool, and small reads cost a big PATCH 50% more
 * CPU a byte (bench/sandbox-speed). A big pool also takes in a whole chunk
 * that a fault answers early (423, 409, 5xx) before the connection closes,
 * so the client reads the answer rather than a reset. */
enum { SMALL_POOL = 64 << 10, BULK_POOL = 4 << 20 };
#define SMALL_UPLOAD ((uint64_t)1 << 20)

static struct {
    const char *token;
    uint64_t quota; /* 0: none known, shown as null like Vimeo's */
    uint64_t max_size;
    uint64_t rate_limit, rate_window; /* API calls per window of seconds */
    bool verbose;
    char upload_base[256];      /* http[s]://HOST:PORT, the prefix of upload links */
    char upload_base_bulk[256]; /* the same on the second port, for uploads over SMALL_UPLOAD */
    enum { HASH_NONE, HASH_UNLISTED, HASH_ALL } hash_uris;
    char scopes[256];       /* the token's scopes, space-separated */
    uint64_t quota_videos;  /* videos allowed (4102 beyond it); 0: no limit */
    uint64_t list_lag;      /* GET /me/videos leaves out this many of the newest videos */
} config;

/* Where an upload of length bytes is sent: see SMALL_UPLOAD. */
static const char *upload_base(uint64_t length)
{
    return length > SMALL_UPLOAD ? config.upload_base_bulk : config.upload_base;
}

/* The account behind the token: GET /me and /oauth/verify name it, and a
 * folder_uri must be one of its folders. */
#define USER_URI "/users/1"

static atomic_bool stopping;

enum route {
    ROUTE_NONE, ROUTE_CONTROL_UPLOADS, ROUTE_CONTROL_FAULTS, ROUTE_CONTROL_CALLS,
    ROUTE_TUS_CREATE, ROUTE_TUS_UPLOAD,
    ROUTE_ME, ROUTE_ME_VIDEOS, ROUTE_VIDEO, ROUTE_VIDEO_VERSIONS, ROUTE_VIDEO_TAGS, ROUTE_VIDEO_TAG,
    ROUTE_OAUTH_VERIFY, ROUTE_COUNT
};
static const char *const route_names[ROUTE_COUNT] = {
    [ROUTE_ME] = "/me", [ROUTE_ME_VIDEOS] = "/me/videos", [ROUTE_VIDEO] = "/videos/{id}",
    [ROUTE_VIDEO_VERSIONS] = "/videos/{id}/versions", [ROUTE_VIDEO_TAGS] = "/videos/{id}/tags",
    [ROUTE_VIDEO_TAG] = "/videos/{id}/tags/{word}", [ROUTE_OAUTH_VERIFY] = "/oauth/verify",
};

/* API calls as Vimeo's rate limit would count them, for /_sandbox/calls:
 * with the token, without a valid one, and by route; and by the token
 * presented (one user of one app, whose calls Vimeo's limit counts), for
 * /_sandbox/uploads too. A token is named by the first 12 hex digits of its
 * SHA-256, never shown; "none" is a call without a bearer token. */
enum { TOKENS_COUNTED = 16, TOKEN_KEY = 13 };
static struct {
    pthread_mutex_t lock;
    uint64_t authorized, refused;
    uint64_t by_route[ROUTE_COUNT];
    struct { char key[TOKEN_KEY]; uint64_t n; } by_token[TOKENS_COUNTED];
    uint64_t other_tokens; /* beyond the first TOKENS_COUNTED keys */
} calls = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct request {
    enum route route;
    char method[16];
    char url[512];
    char upload_id[64];
    uint64_t video;
    char hash[24];   /* the :hash of a /videos/{id}:{hash} URI, "" without one */
    char tag[256];   /* the word of /videos/{id}/tags/{word}, decoded */
    struct store_upload *upload;
    bool claimed, overflow;
    struct faults_plan plan;
    uint64_t patch_bytes;
    struct sbjson_buf body;
    bool body_too_big;
    bool begun;
    unsigned status;
    struct timespec started;
    uint64_t rate_remaining;
    time_t rate_reset;   /* 0 until counted */
};

/* Per-connection pacing for the bandwidth fault. */
struct pacing {
    struct timespec start;
    uint64_t bytes;
};

static double seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Sleep that gives up early when the server is stopping, so shutdown never
 * waits out a stall. */
static void nap(double seconds)
{
    while (seconds > 0 && !atomic_load(&stopping)) {
        double step = seconds < 0.05 ? seconds : 0.05;
        struct timespec ts = { (time_t)step, (long)((step - (double)(time_t)step) * 1e9) };
        nanosleep(&ts, NULL);
        seconds -= step;
    }
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static bool parse_uint(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t n = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *out = n;
    return true;
}

static void http_date(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static bool is_tus_route(enum route r)
{
    return r == ROUTE_TUS_CREATE || r == ROUTE_TUS_UPLOAD;
}

static bool is_api_route(enum route r)
{
    return r >= ROUTE_ME;
}

static bool is_control_route(enum route r)
{
    return r == ROUTE_CONTROL_UPLOADS || r == ROUTE_CONTROL_FAULTS || r == ROUTE_CONTROL_CALLS;
}

static void token_key(const char *auth, char key[TOKEN_KEY])
{
    if (!auth || strncasecmp(auth, "bearer ", 7) != 0) {
        snprintf(key, TOKEN_KEY, "none");
        return;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)auth + 7, strlen(auth + 7), digest);
    for (int i = 0; i < (TOKEN_KEY - 1) / 2; i++)
        snprintf(key + 2 * i, 3, "%02x", digest[i]);
}

/* Count an API call as Vimeo's rate limit does: every call that arrives,
 * whatever its answer. */
static void calls_count(enum route route, bool authorized, const char *auth)
{
    char key[TOKEN_KEY];
    token_key(auth, key);
    pthread_mutex_lock(&calls.lock);
    if (authorized)
        calls.authorized++;
    else
        calls.refused++;
    calls.by_route[route]++;
    int i = 0;
    while (i < TOKENS_COUNTED && calls.by_token[i].key[0] && strcmp(calls.by_token[i].key, key) != 0)
        i++;
    if (i == TOKENS_COUNTED) {
        calls.other_tokens++;
    } else {
        memcpy(calls.by_token[i].key, key, TOKEN_KEY);
        calls.by_token[i].n++;
    }
    pthread_mutex_unlock(&calls.lock);
}

/* {"KEY":N,...}, with "other" for calls beyond the keys kept; under calls.lock. */
static void calls_by_token_json(struct sbjson_buf *b)
{
    sbjson_raw(b, "{");
    for (int i = 0; i < TOKENS_COUNTED && calls.by_token[i].key[0]; i++)
        sbjson_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", calls.by_token[i].key, calls.by_token[i].n);
    if (calls.other_tokens)
        sbjson_printf(b, "%s\"other\":%" PRIu64, calls.by_token[0].key[0] ? "," : "", calls.other_tokens);
    sbjson_raw(b, "}");
}

static void calls_json(struct sbjson_buf *b)
{
    pthread_mutex_lock(&calls.lock);
    sbjson_printf(b, "{\"total\":%" PRIu64 ",\"with_token\":%" PRIu64 ",\"without_token\":%" PRIu64
                     ",\"by_route\":{",
                  calls.authorized + calls.refused, calls.authorized, calls.refused);
    const char *sep = "";
    for (int i = 0; i < ROUTE_COUNT; i++)
        if (route_names[i]) {
            sbjson_printf(b, "%s\"%s\":%" PRIu64, sep, route_names[i], calls.by_route[i]);
            sep = ",";
        }
    sbjson_raw(b, "},\"by_token\":");
    calls_by_token_json(b);
    sbjson_raw(b, "}\n");
    pthread_mutex_unlock(&calls.lock);
}

/* Vimeo's rate limit over fixed windows (--rate-limit calls per
 * --rate-window seconds), counted when an API request arrives, before it
 * can change anything. Returns false when this call is over the limit. */
static bool rate_limit_count(struct request *r)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static time_t window;
    static uint64_t used;
    time_t now = time(NULL);
    pthread_mutex_lock(&lock);
    if (now - window >= (time_t)config.rate_window) {
        window = now;
        used = 0;
    }
    used++;
    r->rate_remaining = used >= config.rate_limit ? 0 : config.rate_limit - used;
    r->rate_reset = window + (time_t)config.rate_window;
    bool allowed = used <= config.rate_limit;
    pthread_mutex_unlock(&lock);
    return allowed;
}

/* The headers; Reset is an ISO-8601 date, as Vimeo sends it, not a Unix time. */
static void add_rate_limit_headers(struct MHD_Response *resp, const struct request *r)
{
    char text[64];
    struct tm tm;
    gmtime_r(&r->rate_reset, &tm);
    snprintf(text, sizeof text, "%" PRIu64, config.rate_limit);
    MHD_add_response_header(resp, "X-RateLimit-Limit", text);
    snprintf(text, sizeof text, "%" PRIu64, r->rate_remaining);
    MHD_add_response_header(resp, "X-RateLimit-Remaining", text);
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    MHD_add_response_header(resp, "X-RateLimit-Reset", text);
}

static struct MHD_Response *text_response(const char *body, const char *type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    return resp;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct request *r, unsigned status,
                                     struct MHD_Response *resp)
{
    if (is_tus_route(r->route))
        MHD_add_response_header(resp, "Tus-Resumable", TUS_VERSION);
    if (is_api_route(r->route) && r->rate_reset)
        add_rate_limit_headers(resp, r);
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply(struct MHD_Connection *c, struct request *r, unsigned status, const char *body)
{
    return send_response(c, r, status, text_response(body, body[0] ? "text/plain; charset=utf-8" : NULL));
}

static enum MHD_Result reply_json(struct MHD_Connection *c, struct request *r, unsigned status,
                                  struct sbjson_buf *json, const char *type)
{
    struct MHD_Response *resp = text_response(json->data ? json->data : "{}", type);
    sbjson_buf_free(json);
    return send_response(c, r, status, resp);
}

/* Vimeo's error document, as Vimeo sends it (captured 2204 answers in
 * vimeo-dot-net issue 194 and twemoji issue 418; field list in the OpenAPI 3.4
 * "error" schema): error (for users), link, developer_message, error_code,
 * and invalid_parameters [{field, error_code, error, developer_message}] when
 * fields are to blame. Content type application/vnd.vimeo.error+json. */
struct vimeo_error {
    unsigned status;
    int code;
    const char *error, *developer;
    const char *field; /* NULL: no invalid_parameters */
    int field_code;
    const char *field_error;
};

static struct MHD_Response *error_response(const struct vimeo_error *e)
{
    struct sbjson_buf b = { 0 };
    sbjson_raw(&b, "{\"error\":");
    sbjson_quote(&b, e->error);
    sbjson_raw(&b, ",\"link\":null,\"developer_message\":");
    sbjson_quote(&b, e->developer ? e->developer : e->error);
    sbjson_printf(&b, ",\"error_code\":%d", e->code);
    if (e->field) {
        sbjson_raw(&b, ",\"invalid_parameters\":[{\"field\":");
        sbjson_quote(&b, e->field);
        sbjson_printf(&b, ",\"error_code\":%d,\"error\":", e->field_code);
        sbjson_quote(&b, e->field_error);
        sbjson_raw(&b, ",\"developer_message\":");
        sbjson_quote(&b, e->field_error);
        sbjson_raw(&b, "}]");
    }
    sbjson_raw(&b, "}");
    struct MHD_Response *resp = text_response(b.data, "application/vnd.vimeo.error+json");
    sbjson_buf_free(&b);
    return resp;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, struct request *r, const struct vimeo_error *e)
{
    return send_response(c, r, e->status, error_response(e));
}

static enum MHD_Result reply_vimeo_error(struct MHD_Connection *c, struct request *r, unsigned status, int code,
                                         const char *error, const char *developer)
{
    struct vimeo_error e = { status, code, error, developer, NULL, 0, NULL };
    return reply_error(c, r, &e);
}

/* A field failed validation: Vimeo answers 400 with the generic 2204 texts
 * and puts the field's own code and reason in invalid_parameters. */
static enum MHD_Result reply_invalid(struct MHD_Connection *c, struct request *r, const char *field, int field_code,
                                     const char *why)
{
    struct vimeo_error e = {
        400, 2204, "You have provided an invalid parameter. Please contact developer of this application.",
        "The parameters passed to this API endpoint didn't pass Vimeo's validation. Please check the "
        "invalid_parameters list for more information.",
        field, field_code, why,
    };
    return reply_error(c, r, &e);
}

static enum MHD_Result reply_no_video(struct MHD_Connection *c, struct request *r)
{
    return reply_vimeo_error(c, r, 404, 5000, "The requested video couldn't be found.", NULL);
}

static enum MHD_Result reply_throttled(struct MHD_Connection *c, struct request *r, unsigned seconds)
{
    char text[32];
    snprintf(text, sizeof text, "%u", seconds);
    /* The API answers in its error JSON, an upload host in plain text. */
    struct vimeo_error e = { 429, 9000, "Too many API requests.", NULL, NULL, 0, NULL };
    struct MHD_Response *resp =
        is_api_route(r->route) ? error_response(&e) : text_response("too many requests", "text/plain");
    MHD_add_response_header(resp, "Retry-After", text);
    return send_response(c, r, 429, resp);
}

/* ---- routing ---------------------------------------------------------- */

static void classify(struct request *r, const char *url)
{
    const char *rest;
    if (!strcmp(url, "/_sandbox/uploads")) {
        r->route = ROUTE_CONTROL_UPLOADS;
    } else if (!strcmp(url, "/_sandbox/faults")) {
        r->route = ROUTE_CONTROL_FAULTS;
    } else if (!strcmp(url, "/_sandbox/calls")) {
        r->route = ROUTE_CONTROL_CALLS;
    } else if (!strcmp(url, "/oauth/verify")) {
        r->route = ROUTE_OAUTH_VERIFY;
    } else if (!strcmp(url, "/files") || !strcmp(url, "/files/")) {
        r->route = ROUTE_TUS_CREATE;
    } else if (!strncmp(url, "/files/", 7)) {
        r->route = ROUTE_TUS_UPLOAD;
        snprintf(r->upload_id, sizeof r->upload_id, "%s", url + 7);
    } else if (!strcmp(url, "/me") || !strcmp(url, "/me/")) {
        r->route = ROUTE_ME;
    } else if (!strcmp(url, "/me/videos") || !strcmp(url, "/me/videos/")) {
        r->route = ROUTE_ME_VIDEOS;
    } else if (!strncmp(url, "/videos/", 8)) {
        rest = url + 8;
        char *end;
        unsigned long long n = strtoull(rest, &end, 10);
        if (end == rest)
            return;
        r->video = n;
        /* Unlisted videos are /videos/{id}:{hash} (Vimeo staff in vimeo.js
         * issue 50: "you should always be getting a URI with the colon"). */
        if (*end == ':') {
            size_t h = strspn(end + 1, "0123456789abcdef");
            if (h == 0 || h >= sizeof r->hash)
                return;
            memcpy(r->hash, end + 1, h);
            r->hash[h] = '\0';
            end += 1 + h;
        }
        if (*end == '\0' || !strcmp(end, "/"))
            r->route = ROUTE_VIDEO;
        else if (!strcmp(end, "/versions"))
            r->route = ROUTE_VIDEO_VERSIONS;
        else if (!strcmp(end, "/tags"))
            r->route = ROUTE_VIDEO_TAGS;
        else if (!strncmp(end, "/tags/", 6) && end[6] && !strchr(end + 6, '/') &&
                 strlen(end + 6) < sizeof r->tag) {
            r->route = ROUTE_VIDEO_TAG;
            strcpy(r->tag, end + 6);
        }
    }
}

static bool authorized(struct MHD_Connection *c)
{
    const char *auth = header(c, "Authorization");
    return auth && !strncasecmp(auth, "bearer ", 7) && !strcmp(auth + 7, config.token);
}

static enum store_method method_of(const char *m)
{
    if (!strcmp(m, "HEAD")) return STORE_HEAD;
    if (!strcmp(m, "PATCH")) return STORE_PATCH;
    if (!strcmp(m, "OPTIONS")) return STORE_OPTIONS;
    if (!strcmp(m, "DELETE")) return STORE_DELETE;
    return STORE_POST;
}

/* ---- tus -------------------------------------------------------------- */

static enum MHD_Result reply_options(struct MHD_Connection *c, struct request *r)
{
    char max[32];
    snprintf(max, sizeof max, "%" PRIu64, config.max_size);
    struct MHD_Response *resp = text_response("", NULL);
    MHD_add_response_header(resp, "Tus-Version", TUS_VERSION);
    MHD_add_response_header(resp, "Tus-Extension", "creation,termination,expiration");
    MHD_add_response_header(resp, "Tus-Max-Size", max);
    return send_response(c, r, 204, resp);
}

static int base64_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* Strict base64 (padding optional) into out; false on any other character. */
static bool base64_decode(const char *in, size_t len, char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '=') {
            for (; i < len; i++)
                if (in[i] != '=')
                    return false;
            break;
        }
        int v = base64_value(in[i]);
        if (v < 0)
            return false;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= cap)
                return false;
            out[n++] = (char)(acc >> bits & 0xFF);
        }
    }
    out[n] = '\0';
    return true;
}

/* Upload-Metadata: "key b64,key b64,key" (an empty header is allowed, tuspy
 * sends one). Picks the file name from "filename" or "name". */
static bool metadata_name(const char *meta, char *name, size_t cap)
{
    name[0] = '\0';
    if (!meta)
        return true;
    const char *p = meta;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *key = p;
        while (*p && *p != ' ' && *p != ',') p++;
        size_t keylen = (size_t)(p - key);
        const char *val = p;
        size_t vallen = 0;
        if (*p == ' ') {
            val = ++p;
            while (*p && *p != ',') p++;
            vallen = (size_t)(p - val);
        }
        if (keylen == 0)
            return false;
        char decoded[512];
        if (!base64_decode(val, vallen, decoded, sizeof decoded))
            return false;
        if ((keylen == 8 && !memcmp(key, "filename", 8)) || (keylen == 4 && !memcmp(key, "name", 4) && !name[0]))
            snprintf(name, cap, "%s", decoded);
        if (*p == ',') p++;
    }
    return true;
}

static enum MHD_Result tus_create(struct MHD_Connection *c, struct request *r)
{
    uint64_t length;
    const char *meta = header(c, "Upload-Metadata");
    char name[512];
    if (header(c, "Upload-Defer-Length"))
        return reply(c, r, 400, "Upload-Defer-Length is not supported here");
    if (!parse_uint(header(c, "Upload-Length"), &length))
        return reply(c, r, 400, "missing or invalid Upload-Length");
    if (length > config.max_size)
        return reply(c, r, 413, "Upload-Length exceeds Tus-Max-Size");
    if (!metadata_name(meta, name, sizeof name))
        return reply(c, r, 400, "invalid Upload-Metadata");
    struct store_upload *u = store_upload_create(length, name, meta, 0);
    store_upload_count(u, STORE_POST, header(c, "Authorization") != NULL);
    char location[512];
    snprintf(location, sizeof location, "%s/files/%s", upload_base(length), store_upload_id(u));
    struct MHD_Response *resp = text_response("", NULL);
    MHD_add_response_header(resp, "Location", location);
    MHD_add_response_header(resp, "Upload-Offset", "0");
    return send_response(c, r, 201, resp);
}

/* Checks for a request on an existing upload, before any byte is read. */
static enum MHD_Result tus_upload_begin(struct MHD_Connection *c, struct request *r, bool *answered)
{
    *answered = true;
    if (!strcmp(r->method, "OPTIONS"))
        return reply_options(c, r);
    r->upload = store_upload_find(r->upload_id);
    struct store_upload_state st;
    if (r->upload) {
        store_upload_count(r->upload, method_of(r->method), header(c, "Authorization") != NULL);
        store_upload_state(r->upload, &st);
        int code;
        if (!st.expired_code && faults_expires(r->upload_id, st.offset, &code)) {
            store_upload_expire(r->upload, code);
            st.expired_code = code;
        }
    }
    if (!r->upload || st.deleted)
        return reply(c, r, 404, "upload not found");
    if (st.expired_code)
        return reply(c, r, (unsigned)st.expired_code, "upload expired");

    if (!strcmp(r->method, "HEAD")) {
        char num[32];
        struct MHD_Response *resp = text_response("", NULL);
        snprintf(num, sizeof num, "%" PRIu64, st.offset);
        MHD_add_response_header(resp, "Upload-Offset", num);
        snprintf(num, sizeof num, "%" PRIu64, st.length);
        MHD_add_response_header(resp, "Upload-Length", num);
        if (st.metadata[0])
            MHD_add_response_header(resp, "Upload-Metadata", st.metadata);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        return send_response(c, r, 200, resp);
    }
    if (!strcmp(r->method, "DELETE")) {
        store_upload_delete(r->upload);
        return reply(c, r, 204, "");
    }
    if (strcmp(r->method, "PATCH") != 0) {
        struct MHD_Response *resp = text_response("method not allowed", "text/plain");
        MHD_add_response_header(resp, "Allow", "OPTIONS, HEAD, PATCH, DELETE");
        return send_response(c, r, 405, resp);
    }

    const char *type = header(c, "Content-Type");
    if (!type || strcasecmp(type, "application/offset+octet-stream") != 0)
        return reply(c, r, 415, "Content-Type must be application/offset+octet-stream");
    uint64_t offset, content_length;
    if (!parse_uint(header(c, "Upload-Offset"), &offset))
        return reply(c, r, 400, "missing or invalid Upload-Offset");
    if (offset != st.offset)
        return reply(c, r, 409, "mismatched offset");
    if (parse_uint(header(c, "Content-Length"), &content_length) && content_length > st.length - st.offset)
        return reply(c, r, 413, "body runs past Upload-Length");
    faults_plan(FAULTS_ON_UPLOAD, "PATCH", FAULTS_AT_PATCH, &r->plan);
    if (r->plan.conflict)
        return reply(c, r, 409, "mismatched offset");
    if (r->plan.locked || !store_upload_claim(r->upload))
        return reply(c, r, 423, "upload is locked by another request");
    r->claimed = true;
    *answered = false;
    return MHD_YES;
}

static enum MHD_Result tus_patch_done(struct MHD_Connection *c, struct request *r)
{
    struct store_upload_state st;
    store_upload_state(r->upload, &st);
    /* Released before the answer goes out, not when MHD reports the request
     * completed: a client that has read the answer may send its next PATCH
     * on another connection before that report, and must not get 423. */
    store_upload_release(r->upload);
    r->claimed = false;
    if (r->overflow)
        return reply(c, r, 413, "body runs past Upload-Length");
    char num[32], date[64];
    struct MHD_Response *resp = text_response("", NULL);
    snprintf(num, sizeof num, "%" PRIu64, st.offset);
    MHD_add_response_header(resp, "Upload-Offset", num);
    http_date((time_t)st.created + 24 * 3600, date, sizeof date);
    MHD_add_response_header(resp, "Upload-Expires", date);
    return send_response(c, r, 204, resp);
}

static void pace(struct MHD_Connection *c, uint64_t bandwidth, size_t n)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct pacing *p = info ? info->socket_context : NULL;
    if (!p || !bandwidth)
        return;
    p->bytes += n;
    double due = (double)p->bytes / (double)bandwidth - seconds_since(&p->start);
    if (due > 0)
        nap(due);
}

/* Take a piece of a PATCH body. Returns false to drop the connection (cut fault). */
static bool tus_patch_data(struct MHD_Connection *c, struct request *r, const char *data, size_t n)
{
    bool cut = false;
    if (r->patch_bytes == 0 && r->plan.stall_seconds)
        nap(r->plan.stall_seconds);
    if (r->plan.cut && r->patch_bytes + n >= r->plan.cut_after) {
        n = (size_t)(r->plan.cut_after - r->patch_bytes);
        cut = true;
    }
    long long taken = store_upload_append(r->upload, data, n);
    if (taken < 0)
        return false;
    if ((size_t)taken < n)
        r->overflow = true;
    r->patch_bytes += n;
    pace(c, r->plan.bandwidth, n);
    return !cut;
}

/* ---- Vimeo API --------------------------------------------------------- */

/* Does the token hold this scope? GET /oauth/verify answers the token's
 * scopes as one space-separated string (VIMEO-API.md, Corrections). */
static bool has_scope(const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = config.scopes; (p = strstr(p, scope)); p += n)
        if ((p == config.scopes || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* Vimeo's answer to a token without the scope: 403, "Your access token does
 * not have the "upload" scope" (vimeo.php issue 100). The error code is not
 * published; 3000 stands in for it. */
static enum MHD_Result reply_no_scope(struct MHD_Connection *c, struct request *r, const char *scope)
{
    char text[128];
    snprintf(text, sizeof text, "Your access token does not have the \"%s\" scope", scope);
    return reply_vimeo_error(c, r, 403, 3000, text, text);
}

/* ?fields=a,b.c as Vimeo filters an answer: with no fields everything shows;
 * "upload" shows the whole block, "upload.status" only that member. */
static bool field_wanted(const char *fields, const char *key, const char *sub)
{
    if (!fields || !*fields)
        return true;
    size_t klen = strlen(key);
    for (const char *p = fields; *p;) {
        size_t len = strcspn(p, ",");
        if (len == klen && !memcmp(p, key, klen))
            return true;
        if (len > klen && !memcmp(p, key, klen) && p[klen] == '.' &&
            (!sub || (len - klen - 1 == strlen(sub) && !memcmp(p + klen + 1, sub, len - klen - 1))))
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

/* upload.status and transcode.status once the video's bytes are in:
 * in_progress until then; afterwards as its status faults planned (default
 * complete at once). Vimeo may answer error after every byte arrived, e.g.
 * for a video under about 0.5 s (vimeo.js issue 156); the sandbox cannot
 * judge video content, so that is a fault. Transcoding starts when the
 * upload is complete; an upload that failed does not transcode. */
static void video_statuses(const struct store_video_info *v, const char **upload, const char **transcode)
{
    *upload = *transcode = "in_progress";
    if (!v->upload)
        return;
    double t = store_upload_complete_for(v->upload);
    const struct store_status_plan *up = &v->upload_plan, *tp = &v->transcode_plan;
    if (t < 0 || up->delay < 0 || t < up->delay)
        return;
    if (up->error) {
        *upload = *transcode = "error";
        return;
    }
    *upload = "complete";
    t -= up->delay;
    if (tp->delay < 0 || t < tp->delay)
        return;
    *transcode = tp->error ? "error" : "complete";
}

/* The video's URI: /videos/{id}, or /videos/{id}:{hash} for a hashed one. */
static void video_uri(char *out, size_t cap, const struct store_video_info *v)
{
    snprintf(out, cap, "/videos/%" PRIu64 "%s%s", v->number, v->hash[0] ? ":" : "", v->hash);
}

static void tags_json(struct sbjson_buf *b, const char *tags)
{
    sbjson_raw(b, "[");
    for (const char *t = tags; *t;) {
        const char *nl = strchr(t, '\n');
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(nl - t), t);
        sbjson_raw(b, t == tags ? "{\"name\":" : ",{\"name\":");
        sbjson_quote(b, name);
        sbjson_raw(b, ",\"tag\":");
        sbjson_quote(b, name);
        sbjson_raw(b, "}");
        t = nl + 1;
    }
    sbjson_raw(b, "]");
}

/* One video as Vimeo shows it, limited to fields (NULL: all). */
static void video_json(struct sbjson_buf *b, const struct store_video_info *v, const char *fields)
{
    char uri[64];
    const char *sep = "{";
    video_uri(uri, sizeof uri, v);
#define SECTION(key) (field_wanted(fields, key, NULL) && (sbjson_raw(b, sep), sep = ",", sbjson_raw(b, "\"" key "\":"), 1))
    if (SECTION("uri"))
        sbjson_quote(b, uri);
    /* An unlisted video's page is https://vimeo.com/{id}/{hash}. */
    if (SECTION("link"))
        sbjson_printf(b, "\"https://vimeo.com/%" PRIu64 "%s%s\"", v->number, v->hash[0] ? "/" : "", v->hash);
    if (SECTION("name"))
        sbjson_quote(b, v->name);
    if (SECTION("description"))
        sbjson_quote(b, v->description);
    if (SECTION("privacy")) {
        sbjson_raw(b, "{\"view\":");
        sbjson_quote(b, v->privacy);
        sbjson_raw(b, "}");
    }
    if (SECTION("parent_folder")) {
        if (v->folder[0]) {
            sbjson_raw(b, "{\"uri\":");
            sbjson_quote(b, v->folder);
            sbjson_raw(b, "}");
        } else {
            sbjson_raw(b, "null");
        }
    }
    if (SECTION("tags"))
        tags_json(b, v->tags);
    const char *upload_status, *transcode_status;
    video_statuses(v, &upload_status, &transcode_status);
    if (SECTION("upload")) {
        if (!v->upload) {
            /* Vimeo answers a 0-byte upload with an empty upload block and no link. */
            sbjson_raw(b, "{}");
        } else {
            struct store_upload_state st;
            store_upload_state(v->upload, &st);
            const char *usep = "{";
            if (field_wanted(fields, "upload", "status"))
                sbjson_printf(b, "%s\"status\":\"%s\"", usep, upload_status), usep = ",";
            if (field_wanted(fields, "upload", "approach"))
                sbjson_printf(b, "%s\"approach\":\"tus\"", usep), usep = ",";
            if (field_wanted(fields, "upload", "size"))
                sbjson_printf(b, "%s\"size\":%" PRIu64, usep, st.length), usep = ",";
            if (field_wanted(fields, "upload", "upload_link")) {
                /* After a finished upload the link fields become null. */
                if (st.offset == st.length)
                    sbjson_printf(b, "%s\"upload_link\":null", usep);
                else
                    sbjson_printf(b, "%s\"upload_link\":\"%s/files/%s\"", usep, upload_base(st.length),
                                  store_upload_id(v->upload));
                usep = ",";
            }
            sbjson_raw(b, *usep == '{' ? "{}" : "}");
        }
    }
    if (SECTION("transcode"))
        sbjson_printf(b, "{\"status\":\"%s\"}", transcode_status);
#undef SECTION
    sbjson_raw(b, *sep == '{' ? "{}" : "}");
}

/* The video a /videos/{id}[:hash] request names: a hash given must be the
 * video's; the bare id also finds a hashed video (its owner's token sees it). */
static bool request_video(struct request *r, struct store_video_info *info)
{
    return store_video_get(r->video, info) && (!r->hash[0] || !strcmp(r->hash, info->hash));
}

static const char *get_arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static const char *const privacy_views[] = { "anybody", "contacts", "disable", "nobody", "password", "unlisted", "users" };

/* Quota refusals of POST /me/videos: 4101 (storage) and 4102 (video count)
 * are Vimeo's codes (VimeoNetworking ErrorCode.swift), 3428 the total cap of
 * a basic account (vimeo-networking-java PR 291). The texts are not
 * published; these say what each means. */
static enum MHD_Result reply_quota(struct MHD_Connection *c, struct request *r, int code)
{
    const char *text = code == 4101 ? "You don't have enough free space to upload this video."
                     : code == 4102 ? "You have reached the maximum number of videos you can upload."
                                    : "You have reached your total upload cap.";
    return reply_vimeo_error(c, r, 403, code, text, text);
}

static void random_hash(char *out, size_t cap)
{
    unsigned char bytes[5];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
        memset(bytes, 0x5a, sizeof bytes);
    snprintf(out, cap, "%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]);
}

/* The create's answer, spoiled as a create fault says: the video exists in
 * every case (no orphan may be left by a client that gives up on it). */
static enum MHD_Result reply_created(struct MHD_Connection *c, struct request *r, const struct store_video_info *info,
                                     const struct faults_create_plan *plan)
{
    struct sbjson_buf out = { 0 };
    switch (plan->mode) {
    case FAULTS_CREATE_ERROR:
        return reply_vimeo_error(c, r, 500, 4003, "Unable to initiate an upload.",
                                 "The upload could not be started; please try again.");
    case FAULTS_CREATE_EMPTY:
        return send_response(c, r, 200, text_response("", "application/vnd.vimeo.video+json"));
    case FAULTS_CREATE_TIMEOUT:
        nap(plan->seconds);
        break;
    default:
        break;
    }
    if (plan->mode == FAULTS_CREATE_BARE_URI) {
        /* Whether Vimeo's create answer carries the :hash is not published
         * (VIMEO-API.md, Corrections): this answer leaves it out, while GET
         * and the upload listing show it. */
        struct store_video_info *shown = malloc(sizeof *shown);
        if (!shown)
            abort();
        *shown = *info;
        shown->hash[0] = '\0';
        video_json(&out, shown, NULL);
        free(shown);
    } else {
        video_json(&out, info, NULL);
    }
    if (plan->mode == FAULTS_CREATE_NO_LINK || plan->mode == FAULTS_CREATE_NOT_TUS) {
        /* Rewrite the upload block: without its link, or for approach post. */
        struct sbjson_buf spoiled = { 0 };
        char *upload = strstr(out.data, "\"upload\":{\"status\"");
        char *link = upload ? strstr(upload, ",\"upload_link\":") : NULL;
        char *approach = upload ? strstr(upload, "\"approach\":\"tus\"") : NULL;
        if (plan->mode == FAULTS_CREATE_NO_LINK && link) {
            sbjson_append(&spoiled, out.data, (size_t)(link - out.data));
            sbjson_raw(&spoiled, strchr(link + 15, '}'));
        } else if (approach) {
            sbjson_append(&spoiled, out.data, (size_t)(approach - out.data));
            sbjson_raw(&spoiled, "\"approach\":\"post\"");
            sbjson_raw(&spoiled, approach + strlen("\"approach\":\"tus\""));
        }
        if (spoiled.data) {
            sbjson_buf_free(&out);
            out = spoiled;
        }
    }
    return reply_json(c, r, 200, &out, "application/vnd.vimeo.video+json");
}

static enum MHD_Result vimeo_create(struct MHD_Connection *c, struct request *r)
{
    const char *doc = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    struct sbjson_value v;
    char approach[32], password[256];
    struct store_video_info info = { .name = "Untitled", .privacy = "anybody" };

    if (!has_scope("upload"))
        return reply_no_scope(c, r, "upload");
    if (!sbjson_find(doc, len, "", &v) || v.type != SBJSON_OBJECT)
        return reply_vimeo_error(c, r, 400, 2205, "There was a problem with your request body.",
                                 "The request body is not valid JSON.");
    if (!sbjson_find(doc, len, "upload.approach", &v))
        return reply_invalid(c, r, "upload.approach", 2204, "upload.approach is required.");
    if (!sbjson_string(&v, approach, sizeof approach) || strcmp(approach, "tus") != 0)
        return reply_invalid(c, r, "upload.approach", 2230, "The upload approach is not supported.");
    if (!sbjson_find(doc, len, "upload.size", &v) || !sbjson_uint(&v, &info.size))
        return reply_invalid(c, r, "upload.size", 2204, "upload.size must be a number of bytes.");
    if (sbjson_find(doc, len, "name", &v) && !sbjson_string(&v, info.name, sizeof info.name))
        return reply_invalid(c, r, "name", 2204, "name must be a string.");
    if (sbjson_find(doc, len, "description", &v) && !sbjson_string(&v, info.description, sizeof info.description))
        return reply_invalid(c, r, "description", 2204, "description must be a string.");
    if (sbjson_find(doc, len, "privacy.view", &v)) {
        bool known = sbjson_string(&v, info.privacy, sizeof info.privacy);
        size_t i;
        for (i = 0; known && i < sizeof privacy_views / sizeof privacy_views[0]; i++)
            if (!strcmp(info.privacy, privacy_views[i]))
                break;
        if (!known || i == sizeof privacy_views / sizeof privacy_views[0])
            return reply_invalid(c, r, "privacy.view", 2204, "privacy.view is not a known view.");
    }
    /* The password is a top-level "password" string, required when
     * privacy.view is password (POST /me/videos body, OpenAPI 2019 and 2020);
     * privacy.password is not Vimeo's and is ignored. */
    bool has_password = sbjson_find(doc, len, "password", &v);
    if (has_password && !sbjson_string(&v, password, sizeof password))
        return reply_invalid(c, r, "password", 2204, "password must be a string.");
    if (!strcmp(info.privacy, "password") && (!has_password || !password[0]))
        return reply_invalid(c, r, "password", 2204, "A password is required when privacy.view is password.");
    /* folder_uri is the folder's uri, /users/{uid}/projects/{pid} (Vimeo
     * staff, vimeo.php issue 289 and vimeo.js issue 127). */
    if (sbjson_find(doc, len, "folder_uri", &v)) {
        const char *prefix = USER_URI "/projects/";
        bool ok = sbjson_string(&v, info.folder, sizeof info.folder) &&
                  !strncmp(info.folder, prefix, strlen(prefix)) && info.folder[strlen(prefix)] &&
                  strspn(info.folder + strlen(prefix), "0123456789") == strlen(info.folder + strlen(prefix));
        if (!ok)
            return reply_invalid(c, r, "folder_uri", 2204, "folder_uri is not one of your folders.");
    }
    /* Summed over every video: only when there is a quota to keep (10,000
     * creates summing 10,000 videos each were 4% of a bench's CPU). */
    uint64_t used = config.quota ? store_bytes_used() : 0;
    if (config.quota && info.size > config.quota - (used < config.quota ? used : config.quota))
        return reply_quota(c, r, 4101);
    if (config.quota_videos && store_videos_live() >= config.quota_videos)
        return reply_quota(c, r, 4102);
    int quota_fault = faults_quota();
    if (quota_fault)
        return reply_quota(c, r, quota_fault);

    struct faults_create_plan plan;
    faults_create(&plan);
    info.upload_plan = (struct store_status_plan){ plan.upload_error, plan.upload_delay };
    info.transcode_plan = (struct store_status_plan){ plan.transcode_error, plan.transcode_delay };
    if (config.hash_uris == HASH_ALL || (config.hash_uris == HASH_UNLISTED && !strcmp(info.privacy, "unlisted")))
        random_hash(info.hash, sizeof info.hash);
    store_video_get(store_video_create(&info), &info);
    if (info.upload)
        store_upload_count(info.upload, STORE_POST, false);
    return reply_created(c, r, &info, &plan);
}

/* POST /videos/{id}/versions: 201 and a version object, whose uri is the
 * version's and not the video's (OpenAPI 3.4 createVideoVersion). */
static enum MHD_Result vimeo_replace(struct MHD_Connection *c, struct request *r)
{
    const char *doc = r->body.data ? r->body.data : "";
    struct sbjson_value v;
    char approach[32], name[512] = "";
    uint64_t size;
    struct store_video_info info;
    if (!has_scope("upload"))
        return reply_no_scope(c, r, "upload");
    if (!request_video(r, &info))
        return reply_no_video(c, r);
    if (!sbjson_valid(doc, r->body.len))
        return reply_vimeo_error(c, r, 400, 2205, "There was a problem with your request body.",
                                 "The request body is not valid JSON.");
    if (!sbjson_find(doc, r->body.len, "upload.approach", &v) || !sbjson_string(&v, approach, sizeof approach) ||
        strcmp(approach, "tus") != 0)
        return reply_invalid(c, r, "upload.approach", 2230, "The upload approach is not supported.");
    if (!sbjson_find(doc, r->body.len, "upload.size", &v) || !sbjson_uint(&v, &size) || size == 0)
        return reply_invalid(c, r, "upload.size", 2204, "upload.size must be a number of bytes.");
    if (sbjson_find(doc, r->body.len, "file_name", &v))
        sbjson_string(&v, name, sizeof name);
    uint64_t version = store_video_replace(r->video, size, name);
    if (!version)
        return reply_no_video(c, r);
    store_video_get(r->video, &info);
    struct sbjson_buf out = { 0 };
    sbjson_printf(&out, "{\"uri\":\"/videos/%" PRIu64 "/versions/%" PRIu64 "\",\"file_name\":", r->video,
                  version);
    sbjson_quote(&out, name);
    sbjson_printf(&out, ",\"upload\":{\"status\":\"in_progress\",\"approach\":\"tus\",\"size\":%" PRIu64
                        ",\"upload_link\":\"%s/files/%s\"}}",
                  size, upload_base(size), store_upload_id(info.upload));
    return reply_json(c, r, 201, &out, "application/vnd.vimeo.video.version+json");
}

/* Tag names end each with '\n' in the store, so a name may hold none; Vimeo
 * caps tags at 255 characters (OpenAPI 3.4 tag name). */
static bool tag_ok(const char *name)
{
    return name[0] && strlen(name) < 256 && !strchr(name, '\n');
}

/* PUT /videos/{id}/tags with [{"name": ...}, ...] replaces the video's tags
 * (OpenAPI 3.4 addVideoTags, a batch request; answers 200 and the tags);
 * PUT /videos/{id}/tags/{word} adds one (addVideoTag, 204). Both need the
 * edit scope. */
static enum MHD_Result vimeo_tags(struct MHD_Connection *c, struct request *r)
{
    struct store_video_info info;
    if (!has_scope("edit"))
        return reply_no_scope(c, r, "edit");
    if (!request_video(r, &info))
        return reply_no_video(c, r);
    if (r->route == ROUTE_VIDEO_TAG) {
        char one[260];
        if (!tag_ok(r->tag))
            return reply_invalid(c, r, "word", 2204, "The tag is not valid.");
        snprintf(one, sizeof one, "%s\n", r->tag);
        if (!store_video_tags(r->video, one, true))
            return reply_invalid(c, r, "word", 2204, "The video has too many tags.");
        return reply(c, r, 204, "");
    }
    const char *doc = r->body.data ? r->body.data : "";
    struct sbjson_value v;
    if (!sbjson_find(doc, r->body.len, "", &v) || v.type != SBJSON_ARRAY)
        return reply_vimeo_error(c, r, 400, 2205, "There was a problem with your request body.",
                                 "The body must be a JSON array of tag objects.");
    char tags[2048] = "";
    size_t used = 0;
    for (unsigned i = 0;; i++) {
        char path[32], name[256];
        snprintf(path, sizeof path, "%u", i);
        if (!sbjson_find(doc, r->body.len, path, &v))
            break;
        snprintf(path, sizeof path, "%u.name", i);
        if (!sbjson_find(doc, r->body.len, path, &v) || !sbjson_string(&v, name, sizeof name) || !tag_ok(name))
            return reply_invalid(c, r, "name", 2204, "Each tag needs a name.");
        if (used + strlen(name) + 2 > sizeof tags)
            return reply_invalid(c, r, "name", 2204, "Too many tags.");
        used += (size_t)snprintf(tags + used, sizeof tags - used, "%s\n", name);
    }
    store_video_tags(r->video, tags, false);
    struct sbjson_buf out = { 0 };
    tags_json(&out, tags);
    return reply_json(c, r, 200, &out, "application/vnd.vimeo.tag+json");
}

/* One upload_quota block. Its unit is video_size (bytes) or, on accounts
 * whose quota counts videos, video_count: then free is a number of videos
 * (captured answers and users' reports in vimeo-dot-net PR 192). The
 * sandbox counts videos when only --quota-videos is given. */
static void quota_json(struct sbjson_buf *b, const char *key)
{
    bool by_count = config.quota_videos && !config.quota;
    uint64_t max = by_count ? config.quota_videos : config.quota;
    uint64_t used = by_count ? (uint64_t)store_videos_live() : store_bytes_used();
    sbjson_printf(b, "\"%s\":{", key);
    if (max)
        sbjson_printf(b, "\"free\":%" PRIu64 ",\"max\":%" PRIu64, used < max ? max - used : 0, max);
    else
        sbjson_raw(b, "\"free\":null,\"max\":null");
    sbjson_printf(b, ",\"used\":%" PRIu64 ",\"unit\":\"%s\"", used, by_count ? "video_count" : "video_size");
}

static void user_json(struct sbjson_buf *b)
{
    sbjson_raw(b, "{\"uri\":\"" USER_URI "\",\"name\":\"Sandbox User\",\"upload_quota\":{");
    quota_json(b, "space");
    sbjson_raw(b, ",\"showing\":\"periodic\"},");
    quota_json(b, "periodic");
    sbjson_raw(b, ",\"reset_date\":null},");
    quota_json(b, "lifetime");
    sbjson_raw(b, "}}}");
}

static enum MHD_Result vimeo_me(struct MHD_Connection *c, struct request *r)
{
    struct sbjson_buf b = { 0 };
    user_json(&b);
    return reply_json(c, r, 200, &b, "application/vnd.vimeo.user+json");
}

/* GET /oauth/verify: the token's scope (space-separated) and its user
 * (VIMEO-API.md, Corrections; OpenAPI 3.4 verifyToken). */
static enum MHD_Result vimeo_verify(struct MHD_Connection *c, struct request *r)
{
    struct sbjson_buf b = { 0 };
    sbjson_raw(&b, "{\"token_type\":\"bearer\",\"scope\":");
    sbjson_quote(&b, config.scopes);
    sbjson_raw(&b, ",\"app\":{\"name\":\"vimeo-sandbox\",\"uri\":\"/apps/1\"},\"user\":");
    user_json(&b);
    sbjson_raw(&b, "}");
    return reply_json(c, r, 200, &b, "application/vnd.vimeo.auth+json");
}

/* GET /me/videos with Vimeo's paging: page (from 1), per_page (at most 100,
 * default 25), and total, page, per_page, paging {next, previous, first, last}
 * and data, next null on the last page (OpenAPI 3.4 getVideos; captured
 * answers in public code). sort=date (the default) is newest first; any
 * other sort is refused rather than answered in a wrong order. */
static enum MHD_Result vimeo_list(struct MHD_Connection *c, struct request *r)
{
    uint64_t page = 1, per_page = 25;
    const char *arg = get_arg(c, "page"), *fields = get_arg(c, "fields"), *sort = get_arg(c, "sort");
    if (arg && (!parse_uint(arg, &page) || page == 0))
        return reply_invalid(c, r, "page", 2204, "page must be a positive number.");
    arg = get_arg(c, "per_page");
    if (arg && (!parse_uint(arg, &per_page) || per_page == 0 || per_page > 100))
        return reply_invalid(c, r, "per_page", 2204, "per_page must be from 1 to 100.");
    if (sort && strcmp(sort, "date") != 0 && strcmp(sort, "default") != 0)
        return reply_invalid(c, r, "sort", 2204, "The sandbox sorts by date only.");
    /* Videos made between counting and copying: ask again with more room. */
    size_t total, room = 64;
    uint64_t *numbers = malloc(room * sizeof *numbers);
    while (numbers && (total = store_video_list(numbers, room)) > room) {
        room = total + 64;
        uint64_t *more = realloc(numbers, room * sizeof *numbers);
        if (!more)
            free(numbers);
        numbers = more;
    }
    if (!numbers)
        abort();
    /* --list-lag: the newest videos are not listed yet, as when a listing
     * is served from a search index that lags behind creation. Plausible
     * for Vimeo, not documented by it: clients must ask such a video on its
     * own (GET /videos/{id} always knows it). */
    size_t lag = config.list_lag < total ? (size_t)config.list_lag : total;
    memmove(numbers, numbers + lag, (total - lag) * sizeof *numbers);
    total -= lag;
    uint64_t last = total ? (total + per_page - 1) / per_page : 1;
    struct sbjson_buf b = { 0 };
    char query[160];
    snprintf(query, sizeof query, "%s%s", fields ? "&fields=" : "", fields ? fields : "");
    sbjson_printf(&b, "{\"total\":%zu,\"page\":%" PRIu64 ",\"per_page\":%" PRIu64 ",\"paging\":{\"next\":", total,
                  page, per_page);
    if (page < last)
        sbjson_printf(&b, "\"/me/videos?page=%" PRIu64 "&per_page=%" PRIu64 "%s\"", page + 1, per_page, query);
    else
        sbjson_raw(&b, "null");
    sbjson_raw(&b, ",\"previous\":");
    if (page > 1)
        sbjson_printf(&b, "\"/me/videos?page=%" PRIu64 "&per_page=%" PRIu64 "%s\"", page - 1, per_page, query);
    else
        sbjson_raw(&b, "null");
    sbjson_printf(&b, ",\"first\":\"/me/videos?page=1&per_page=%" PRIu64 "%s\"", per_page, query);
    sbjson_printf(&b, ",\"last\":\"/me/videos?page=%" PRIu64 "&per_page=%" PRIu64 "%s\"},\"data\":[", last, per_page,
                  query);
    bool first = true;
    for (uint64_t i = (page - 1) * per_page; i < total && i < page * per_page; i++) {
        struct store_video_info *info = malloc(sizeof *info);
        if (!info)
            abort();
        if (store_video_get(numbers[i], info)) {
            if (!first)
                sbjson_raw(&b, ",");
            first = false;
            video_json(&b, info, fields);
        }
        free(info);
    }
    sbjson_raw(&b, "]}");
    free(numbers);
    return reply_json(c, r, 200, &b, "application/vnd.vimeo.video+json");
}

static enum MHD_Result vimeo_answer(struct MHD_Connection *c, struct request *r)
{
    struct store_video_info info;
    bool is_get = !strcmp(r->method, "GET"), is_post = !strcmp(r->method, "POST"), is_put = !strcmp(r->method, "PUT");
    switch (r->route) {
    case ROUTE_ME:
        if (is_get)
            return vimeo_me(c, r);
        break;
    case ROUTE_OAUTH_VERIFY:
        if (is_get)
            return vimeo_verify(c, r);
        break;
    case ROUTE_ME_VIDEOS:
        if (is_post)
            return vimeo_create(c, r);
        if (is_get)
            return vimeo_list(c, r);
        break;
    case ROUTE_VIDEO:
        if (is_get) {
            if (!request_video(r, &info))
                return reply_no_video(c, r);
            struct sbjson_buf b = { 0 };
            video_json(&b, &info, get_arg(c, "fields"));
            return reply_json(c, r, 200, &b, "application/vnd.vimeo.video+json");
        }
        if (!strcmp(r->method, "DELETE")) {
            /* Deleting needs the delete scope (VIMEO-API.md, Corrections). */
            if (!has_scope("delete"))
                return reply_no_scope(c, r, "delete");
            if (!request_video(r, &info) || !store_video_delete(r->video))
                return reply_no_video(c, r);
            return reply(c, r, 204, "");
        }
        break;
    case ROUTE_VIDEO_VERSIONS:
        if (is_post)
            return vimeo_replace(c, r);
        break;
    case ROUTE_VIDEO_TAGS:
    case ROUTE_VIDEO_TAG:
        if (is_put)
            return vimeo_tags(c, r);
        break;
    default:
        break;
    }
    return reply_vimeo_error(c, r, 405, 2000, "This method is not allowed here.", NULL);
}

/* ---- control ----------------------------------------------------------- */

static enum MHD_Result control_answer(struct MHD_Connection *c, struct request *r)
{
    struct sbjson_buf b = { 0 };
    if (r->route == ROUTE_CONTROL_UPLOADS && !strcmp(r->method, "GET")) {
        sbjson_raw(&b, "{\"uploads\":");
        store_uploads_json(&b);
        pthread_mutex_lock(&calls.lock);
        sbjson_raw(&b, ",\"api_calls_by_token\":");
        calls_by_token_json(&b);
        pthread_mutex_unlock(&calls.lock);
        sbjson_raw(&b, "}\n");
        return reply_json(c, r, 200, &b, "application/json");
    }
    if (r->route == ROUTE_CONTROL_CALLS && !strcmp(r->method, "GET")) {
        calls_json(&b);
        return reply_json(c, r, 200, &b, "application/json");
    }
    if (r->route == ROUTE_CONTROL_FAULTS) {
        if (!strcmp(r->method, "POST")) {
            char err[200];
            if (!faults_add(r->body.data ? r->body.data : "", err, sizeof err)) {
                strcat(err, "\n");
                return reply(c, r, 400, err);
            }
        } else if (!strcmp(r->method, "DELETE")) {
            faults_clear();
        } else if (strcmp(r->method, "GET") != 0) {
            return reply(c, r, 405, "method not allowed\n");
        }
        faults_json(&b);
        return reply_json(c, r, 200, &b, "application/json");
    }
    return reply(c, r, 405, "method not allowed\n");
}

/* ---- the request cycle ------------------------------------------------- */

/* First call for a request: everything decided from the headers alone. */
static enum MHD_Result begin(struct MHD_Connection *c, struct request *r, bool *answered)
{
    *answered = true;
    if (r->route == ROUTE_NONE)
        return reply(c, r, 404, "not found\n");
    if (is_control_route(r->route)) {
        *answered = false;
        return MHD_YES;
    }
    faults_plan(is_api_route(r->route) ? FAULTS_ON_API : FAULTS_ON_UPLOAD, r->method, FAULTS_AT_START, &r->plan);
    if (r->plan.latency_ms)
        nap(r->plan.latency_ms / 1000.0);
    /* Proxy-level faults come before the server sees the request. */
    if (r->plan.error_code)
        return reply(c, r, (unsigned)r->plan.error_code, "injected server error\n");
    if (r->plan.throttle_seconds)
        return reply_throttled(c, r, r->plan.throttle_seconds);

    if (is_tus_route(r->route)) {
        const char *version = header(c, "Tus-Resumable");
        if (strcmp(r->method, "OPTIONS") != 0 && (!version || strcmp(version, TUS_VERSION) != 0)) {
            struct MHD_Response *resp = text_response("unsupported version", "text/plain");
            MHD_add_response_header(resp, "Tus-Version", TUS_VERSION);
            return send_response(c, r, 412, resp);
        }
        if (r->route == ROUTE_TUS_CREATE) {
            if (!strcmp(r->method, "OPTIONS"))
                return reply_options(c, r);
            if (!strcmp(r->method, "POST"))
                return tus_create(c, r);
            return reply(c, r, 405, "method not allowed");
        }
        return tus_upload_begin(c, r, answered);
    }
    /* A token revoked while a run goes on gets what a wrong one gets:
     * VIMEO-API.md's error table, 8003 ("invalid or empty token"). */
    bool token_ok = authorized(c) && !r->plan.revoked;
    calls_count(r->route, token_ok, header(c, "Authorization"));
    if (!rate_limit_count(r)) /* over the limit: 429, and Vimeo sends no Retry-After */
        return reply_vimeo_error(c, r, 429, 9000, "Too many API requests.", NULL);
    if (!token_ok)
        return reply_vimeo_error(c, r, 401, 8003, "You must provide a valid authenticated access token.",
                                 "The access token is missing, invalid or revoked.");
    *answered = false;
    return MHD_YES;
}

static bool has_body(struct MHD_Connection *c)
{
    const char *length = header(c, "Content-Length");
    return header(c, "Transfer-Encoding") || (length && strcmp(length, "0") != 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **ctx)
{
    (void)cls;
    (void)version;
    struct request *r = *ctx;
    bool first = !r;
    if (first) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *ctx = r;
        clock_gettime(CLOCK_MONOTONIC, &r->started);
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->url, sizeof r->url, "%s", url);
        classify(r, url);
        /* A request without a body is answered from the next call, not this
         * one: libmicrohttpd closes the connection after a response queued
         * this early, and every HEAD would then cost the client a reconnect.
         * One with a body is judged now, before its bytes are read. */
        if (!has_body(c))
            return MHD_YES;
    }
    if (!r->begun) {
        bool answered;
        r->begun = true;
        enum MHD_Result ret = begin(c, r, &answered);
        if (first || answered || ret != MHD_YES)
            return ret;
    }
    if (r->status)
        return MHD_YES; /* answered already; MHD drops the rest of the body */
    if (*size) {
        size_t n = *size;
        *size = 0;
        if (r->claimed)
            return tus_patch_data(c, r, data, n) ? MHD_YES : MHD_NO;
        if (r->body.len + n > BODY_CAP)
            r->body_too_big = true;
        else
            sbjson_append(&r->body, data, n);
        return MHD_YES;
    }
    if (r->claimed)
        return tus_patch_done(c, r);
    if (r->body_too_big)
        return reply(c, r, 413, "request body too large\n");
    if (is_control_route(r->route))
        return control_answer(c, r);
    return vimeo_answer(c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    struct request *r = *ctx;
    if (!r)
        return;
    if (config.verbose)
        fprintf(stderr, "%s %s %u %" PRIu64 " bytes %.1f ms%s\n", r->method, r->url, r->status, r->patch_bytes,
                seconds_since(&r->started) * 1000, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (cut)");
    if (r->claimed)
        store_upload_release(r->upload);
    sbjson_buf_free(&r->body);
    free(r);
    *ctx = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct pacing *p = calloc(1, sizeof *p);
        if (p)
            clock_gettime(CLOCK_MONOTONIC, &p->start);
        *socket_ctx = p;
    } else {
        free(*socket_ctx);
        *socket_ctx = NULL;
    }
}

/* ---- main -------------------------------------------------------------- */

/* A listening socket on addr (port 0: any free one), which gets the port. */
static int listen_on(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    socklen_t len = sizeof *addr;
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)addr, sizeof *addr) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* One server on listener with a memory pool of pool bytes per connection
 * (see SMALL_UPLOAD), a thread per connection; keys: the TLS options, or an
 * empty list. */
static struct MHD_Daemon *serve(int listener, size_t pool, bool tls, struct MHD_OptionItem *keys)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0);
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_ARRAY, keys,
                            MHD_OPTION_LISTEN_SOCKET, listener, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                            MHD_OPTION_CONNECTION_MEMORY_INCREMENT, pool / 16, MHD_OPTION_CONNECTION_TIMEOUT, 300u,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
                            on_connection, NULL, MHD_OPTION_END);
}

static void usage(FILE *out)
{
    fputs("usage: vimeo-sandbox [options]\n"
          "A local Vimeo API and tus 1.0.0 server with fault injection, for tests.\n"
          "  --port N            listen on port N (0, the default: any free port)\n"
          "  --listen ADDR       IPv4 address to listen on (default 127.0.0.1)\n"
          "  --upload-host HOST  host name used in upload links (default: the listen address)\n"
          "  --dir DIR           store each upload as a file in DIR (default: a fresh temporary directory)\n"
          "  --sink              keep offsets and the digest but discard the bytes\n"
          "  --check sha256|xxh3 the digest kept of each upload (default sha256; xxh3 costs a fifth of its CPU)\n"
          "  --token T           the API token (default: env VIMEO_SANDBOX_TOKEN, else \"sandbox\")\n"
          "  --quota BYTES       upload quota shown by GET /me and enforced on create (4101; default: none)\n"
          "  --quota-videos N    videos the account may hold; more creates get 4102 (default: no limit)\n"
          "  --scopes \"S ...\"    the token's scopes (default: \"public private create edit delete interact\n"
          "                      upload video_files\"); without upload, creates get 403; without delete, DELETE\n"
          "  --tls               serve HTTPS (API and upload links) with a certificate for 127.0.0.1 and\n"
          "                      localhost from a CA made at start, written to DIR/ca.pem (or the temporary\n"
          "                      directory's), whose path is the second line on stdout\n"
          "  --list-lag N        GET /me/videos does not list the N newest videos yet\n"
          "  --hash-uris[=WHICH] video URIs /videos/ID:HASH for all videos, or with =unlisted for unlisted ones\n"
          "  --max-size BYTES    Tus-Max-Size for creation (default 1 TiB)\n"
          "  --rate-limit N      API calls allowed per window; more get 429 (default 600)\n"
          "  --rate-window SECS  the rate-limit window (default 60)\n"
          "  --fault SPEC        inject a fault (repeatable; see below)\n"
          "  --seed N            seed for the fraction of requests a fault hits\n"
          "  --verbose           one line per request on stderr\n"
          "  -h, --help          this text\n"
          "Faults: KIND[=VALUE][,rate=F][,times=N][,on=api|upload][,method=M][,code=404|410|403][,after=BYTES]\n"
          "        [,for=SECS]\n"
          "  cut=BYTES error=500|502|503 throttle=SECS stall=SECS locked conflict expire=ID|*\n"
          "  bandwidth=BYTES_PER_S latency=MS revoked\n"
          "  drawn per create: upload_status=error|in_progress transcode_status=error|in_progress\n"
          "  create=no-link|not-tus|empty|error|timeout|bare-uri quota=4101|4102|3428\n"
          "Control: GET /_sandbox/uploads, GET /_sandbox/calls; GET, POST (body: SPEC), DELETE /_sandbox/faults\n"
          "The first line on stdout is: listening on http://ADDR:PORT (https with --tls);\n"
          "with --tls the second is: CA certificate: PATH\n"
          "Uploads over 1 MiB get links on a second free port of the same address.\n",
          out);
}

static char temp_dir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    enum { OPT_PORT = 256, OPT_LISTEN, OPT_UPLOAD_HOST, OPT_DIR, OPT_SINK, OPT_TOKEN, OPT_QUOTA, OPT_MAX_SIZE,
           OPT_FAULT, OPT_SEED, OPT_VERBOSE, OPT_RATE_LIMIT, OPT_RATE_WINDOW, OPT_QUOTA_VIDEOS, OPT_SCOPES,
           OPT_HASH_URIS, OPT_TLS, OPT_LIST_LAG, OPT_CHECK };
    static const struct option options[] = {
        { "port", required_argument, NULL, OPT_PORT },       { "listen", required_argument, NULL, OPT_LISTEN },
        { "upload-host", required_argument, NULL, OPT_UPLOAD_HOST },
        { "dir", required_argument, NULL, OPT_DIR },         { "sink", no_argument, NULL, OPT_SINK },
        { "check", required_argument, NULL, OPT_CHECK },
        { "token", required_argument, NULL, OPT_TOKEN },     { "quota", required_argument, NULL, OPT_QUOTA },
        { "max-size", required_argument, NULL, OPT_MAX_SIZE }, { "fault", required_argument, NULL, OPT_FAULT },
        { "seed", required_argument, NULL, OPT_SEED },       { "verbose", no_argument, NULL, OPT_VERBOSE },
        { "rate-limit", required_argument, NULL, OPT_RATE_LIMIT },
        { "rate-window", required_argument, NULL, OPT_RATE_WINDOW },
        { "quota-videos", required_argument, NULL, OPT_QUOTA_VIDEOS },
        { "scopes", required_argument, NULL, OPT_SCOPES }, { "hash-uris", optional_argument, NULL, OPT_HASH_URIS },
        { "tls", no_argument, NULL, OPT_TLS }, { "list-lag", required_argument, NULL, OPT_LIST_LAG },
        { "help", no_argument, NULL, 'h' },                  { NULL, 0, NULL, 0 },
    };
    uint64_t port = 0, seed = 1;
    const char *listen_addr = "127.0.0.1", *upload_host = NULL, *dir = NULL;
    bool sink = false, tls = false;
    enum store_check check = STORE_SHA256;
    char err[200];
    config.token = getenv("VIMEO_SANDBOX_TOKEN");
    if (!config.token || !*config.token)
        config.token = "sandbox";
    config.max_size = 1ULL << 40;
    config.rate_limit = 600;
    config.rate_window = 60;
    snprintf(config.scopes, sizeof config.scopes, "public private create edit delete interact upload video_files");

    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_PORT:
            if (!parse_uint(optarg, &port) || port > 65535)
                return fprintf(stderr, "vimeo-sandbox: --port: not a port number: %s\n", optarg), 2;
            break;
        case OPT_LISTEN: listen_addr = optarg; break;
        case OPT_UPLOAD_HOST: upload_host = optarg; break;
        case OPT_DIR: dir = optarg; break;
        case OPT_SINK: sink = true; break;
        case OPT_CHECK:
            if (strcmp(optarg, "sha256") != 0 && strcmp(optarg, "xxh3") != 0)
                return fprintf(stderr, "vimeo-sandbox: --check: sha256 or xxh3, not %s\n", optarg), 2;
            check = optarg[0] == 'x' ? STORE_XXH3 : STORE_SHA256;
            break;
        case OPT_TOKEN: config.token = optarg; break;
        case OPT_QUOTA:
            if (!parse_uint(optarg, &config.quota))
                return fprintf(stderr, "vimeo-sandbox: --quota: not a byte count: %s\n", optarg), 2;
            break;
        case OPT_MAX_SIZE:
            if (!parse_uint(optarg, &config.max_size))
                return fprintf(stderr, "vimeo-sandbox: --max-size: not a byte count: %s\n", optarg), 2;
            break;
        case OPT_FAULT:
            if (!faults_add(optarg, err, sizeof err))
                return fprintf(stderr, "vimeo-sandbox: --fault: %s\n", err), 2;
            break;
        case OPT_SEED:
            if (!parse_uint(optarg, &seed))
                return fprintf(stderr, "vimeo-sandbox: --seed: not a number: %s\n", optarg), 2;
            break;
        case OPT_VERBOSE: config.verbose = true; break;
        case OPT_RATE_LIMIT:
            if (!parse_uint(optarg, &config.rate_limit) || config.rate_limit == 0)
                return fprintf(stderr, "vimeo-sandbox: --rate-limit: not a positive count: %s\n", optarg), 2;
            break;
        case OPT_RATE_WINDOW:
            if (!parse_uint(optarg, &config.rate_window) || config.rate_window == 0)
                return fprintf(stderr, "vimeo-sandbox: --rate-window: not a positive number of seconds: %s\n",
                               optarg), 2;
            break;
        case OPT_QUOTA_VIDEOS:
            if (!parse_uint(optarg, &config.quota_videos) || config.quota_videos == 0)
                return fprintf(stderr, "vimeo-sandbox: --quota-videos: not a positive count: %s\n", optarg), 2;
            break;
        case OPT_LIST_LAG:
            if (!parse_uint(optarg, &config.list_lag))
                return fprintf(stderr, "vimeo-sandbox: --list-lag: not a count: %s\n", optarg), 2;
            break;
        case OPT_SCOPES:
            if (strlen(optarg) >= sizeof config.scopes || strspn(optarg, "abcdefghijklmnopqrstuvwxyz_ ") != strlen(optarg))
                return fprintf(stderr, "vimeo-sandbox: --scopes: not a list of scope words: %s\n", optarg), 2;
            snprintf(config.scopes, sizeof config.scopes, "%s", optarg);
            break;
        case OPT_HASH_URIS:
            if (!optarg || !strcmp(optarg, "all"))
                config.hash_uris = HASH_ALL;
            else if (!strcmp(optarg, "unlisted"))
                config.hash_uris = HASH_UNLISTED;
            else
                return fprintf(stderr, "vimeo-sandbox: --hash-uris: all or unlisted, not %s\n", optarg), 2;
            break;
        case OPT_TLS: tls = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        return fprintf(stderr, "vimeo-sandbox: unexpected argument: %s\n", argv[optind]), 2;
    faults_seed(seed);

    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, listen_addr, &addr.sin_addr) != 1)
        return fprintf(stderr, "vimeo-sandbox: --listen: not an IPv4 address: %s\n", listen_addr), 2;
    if ((!sink || tls) && !dir) {
        snprintf(temp_dir, sizeof temp_dir, "%s/vimeo-sandbox.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(temp_dir))
            return fprintf(stderr, "vimeo-sandbox: cannot make a temporary directory: %s\n", strerror(errno)), 1;
        dir = temp_dir;
    }
    /* Vimeo is HTTPS only (api.vimeo.com and the *.tus.vimeo.com upload
     * hosts); --tls lets a client be tested against that, CA file and all. */
    struct tlscert cert = { 0 };
    if (tls && !tlscert_make(dir, &cert, err, sizeof err)) {
        fprintf(stderr, "vimeo-sandbox: --tls: %s\n", err);
        if (temp_dir[0])
            nftw(temp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    if (!store_open(sink ? NULL : dir, check))
        return fprintf(stderr, "vimeo-sandbox: out of memory\n"), 1;

    /* Signals go to sigwait() below only: connection threads inherit the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Bind here rather than in MHD, so the ports, and with them every upload
     * link, are known before any connection thread can read the config. */
    struct sockaddr_in bulk_addr = addr;
    bulk_addr.sin_port = 0;
    int listener = listen_on(&addr), bulk_listener = listener < 0 ? -1 : listen_on(&bulk_addr);
    if (bulk_listener < 0) {
        fprintf(stderr, "vimeo-sandbox: cannot listen on %s:%" PRIu64 ": %s\n", listen_addr,
                listener < 0 ? port : 0, strerror(errno));
        if (listener >= 0)
            close(listener);
        store_close();
        return 1;
    }
    unsigned bound = ntohs(addr.sin_port);
    const char *scheme = tls ? "https" : "http";
    snprintf(config.upload_base, sizeof config.upload_base, "%s://%s:%u", scheme,
             upload_host ? upload_host : listen_addr, bound);
    snprintf(config.upload_base_bulk, sizeof config.upload_base_bulk, "%s://%s:%u", scheme,
             upload_host ? upload_host : listen_addr, (unsigned)ntohs(bulk_addr.sin_port));

    /* Without --tls the key options are MHD_OPTION_ARRAY with nothing in it. */
    struct MHD_OptionItem tls_options[] = {
        { MHD_OPTION_HTTPS_MEM_KEY, 0, cert.key_pem },
        { MHD_OPTION_HTTPS_MEM_CERT, 0, cert.cert_pem },
        { MHD_OPTION_END, 0, NULL },
    };
    struct MHD_OptionItem *keys = tls ? tls_options : tls_options + 2;
    struct MHD_Daemon *d = serve(listener, SMALL_POOL, tls, keys);
    struct MHD_Daemon *bulk = d ? serve(bulk_listener, BULK_POOL, tls, keys) : NULL;
    if (!bulk) {
        fprintf(stderr, "vimeo-sandbox: cannot start the HTTP server\n");
        if (d)
            MHD_stop_daemon(d);
        else
            close(listener);
        close(bulk_listener);
        store_close();
        tlscert_free(&cert);
        return 1;
    }
    printf("listening on %s://%s:%u\n", scheme, listen_addr, bound);
    if (tls)
        printf("CA certificate: %s\n", cert.ca_path);
    fflush(stdout);

    int sig;
    sigwait(&stop_signals, &sig);
    atomic_store(&stopping, true);
    MHD_stop_daemon(bulk);
    MHD_stop_daemon(d);
    tlscert_free(&cert);
    store_close();
    if (temp_dir[0])
        nftw(temp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
