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

#include "faults.h"
#include "sbjson.h"
#include "store.h"

#define TUS_VERSION "1.0.0"
/* API and control bodies are small; anything larger is refused, not buffered. */
enum { BODY_CAP = 1 << 20 };

static struct {
    const char *token;
    uint64_t quota; /* 0: none known, shown as null like Vimeo's */
    uint64_t max_size;
    uint64_t rate_limit, rate_window; /* API calls per window of seconds */
    bool verbose;
    char upload_base[256]; /* http://HOST:PORT, the prefix of every upload link */
} config;

static atomic_bool stopping;

enum route {
    ROUTE_NONE, ROUTE_CONTROL_UPLOADS, ROUTE_CONTROL_FAULTS,
    ROUTE_TUS_CREATE, ROUTE_TUS_UPLOAD,
    ROUTE_ME, ROUTE_ME_VIDEOS, ROUTE_VIDEO, ROUTE_VIDEO_VERSIONS,
};

struct request {
    enum route route;
    char method[16];
    char url[512];
    char upload_id[64];
    uint64_t video;
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

/* Vimeo's error document: error, link, developer_message, error_code, and
 * invalid_parameters when a field is to blame. */
static enum MHD_Result reply_vimeo_error(struct MHD_Connection *c, struct request *r, unsigned status, int code,
                                         const char *message, const char *field)
{
    struct sbjson_buf b = { 0 };
    sbjson_raw(&b, "{\"error\":");
    sbjson_quote(&b, message);
    sbjson_raw(&b, ",\"link\":null,\"developer_message\":");
    sbjson_quote(&b, message);
    sbjson_printf(&b, ",\"error_code\":%d", code);
    if (field) {
        sbjson_raw(&b, ",\"invalid_parameters\":[{\"field\":");
        sbjson_quote(&b, field);
        sbjson_printf(&b, ",\"error_code\":%d,\"error\":", code);
        sbjson_quote(&b, message);
        sbjson_raw(&b, "}]");
    }
    sbjson_raw(&b, "}");
    return reply_json(c, r, status, &b, "application/vnd.vimeo.error+json");
}

static enum MHD_Result reply_throttled(struct MHD_Connection *c, struct request *r, unsigned seconds)
{
    char text[32];
    snprintf(text, sizeof text, "%u", seconds);
    struct MHD_Response *resp = text_response("too many requests", "text/plain");
    MHD_add_response_header(resp, "Retry-After", text);
    if (is_api_route(r->route))
        MHD_add_response_header(resp, "Content-Type", "application/vnd.vimeo.error+json");
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
        if (*end == '\0' || !strcmp(end, "/"))
            r->route = ROUTE_VIDEO;
        else if (!strcmp(end, "/versions"))
            r->route = ROUTE_VIDEO_VERSIONS;
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
    snprintf(location, sizeof location, "%s/files/%s", config.upload_base, store_upload_id(u));
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

static void video_json(struct sbjson_buf *b, const struct store_video_info *v)
{
    sbjson_printf(b, "{\"uri\":\"/videos/%" PRIu64 "\",\"link\":\"https://vimeo.com/%" PRIu64 "\",\"name\":",
                  v->number, v->number);
    sbjson_quote(b, v->name);
    sbjson_raw(b, ",\"description\":");
    sbjson_quote(b, v->description);
    sbjson_raw(b, ",\"privacy\":{\"view\":");
    sbjson_quote(b, v->privacy);
    sbjson_raw(b, "},\"upload\":");
    if (!v->upload) {
        /* Vimeo answers a 0-byte upload with an empty upload block and no link. */
        sbjson_raw(b, "{},\"transcode\":{\"status\":\"in_progress\"}}");
        return;
    }
    struct store_upload_state st;
    store_upload_state(v->upload, &st);
    bool complete = st.offset == st.length;
    sbjson_printf(b, "{\"status\":\"%s\",\"approach\":\"tus\",\"size\":%" PRIu64 ",\"upload_link\":",
                  complete ? "complete" : "in_progress", st.length);
    if (complete) {
        sbjson_raw(b, "null");
    } else {
        sbjson_printf(b, "\"%s/files/%s\"", config.upload_base, store_upload_id(v->upload));
    }
    sbjson_printf(b, "},\"transcode\":{\"status\":\"%s\"}}", complete ? "complete" : "in_progress");
}

static const char *const privacy_views[] = { "anybody", "contacts", "disable", "nobody", "password", "unlisted", "users" };

static enum MHD_Result vimeo_create(struct MHD_Connection *c, struct request *r)
{
    const char *doc = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    struct sbjson_value v;
    char approach[32], name[512] = "Untitled", description[1024] = "", privacy[32] = "anybody";
    uint64_t size;

    if (!sbjson_find(doc, len, "", &v) || v.type != SBJSON_OBJECT)
        return reply_vimeo_error(c, r, 400, 2205, "The request body is not valid JSON.", NULL);
    if (!sbjson_find(doc, len, "upload.approach", &v))
        return reply_vimeo_error(c, r, 400, 2204, "upload.approach is required.", "upload.approach");
    if (!sbjson_string(&v, approach, sizeof approach) || strcmp(approach, "tus") != 0)
        return reply_vimeo_error(c, r, 400, 2230, "The upload approach is not supported.", "upload.approach");
    if (!sbjson_find(doc, len, "upload.size", &v) || !sbjson_uint(&v, &size))
        return reply_vimeo_error(c, r, 400, 2204, "upload.size must be a number of bytes.", "upload.size");
    if (sbjson_find(doc, len, "name", &v) && !sbjson_string(&v, name, sizeof name))
        return reply_vimeo_error(c, r, 400, 2204, "name must be a string.", "name");
    if (sbjson_find(doc, len, "description", &v) && !sbjson_string(&v, description, sizeof description))
        return reply_vimeo_error(c, r, 400, 2204, "description must be a string.", "description");
    if (sbjson_find(doc, len, "privacy.view", &v)) {
        bool known = sbjson_string(&v, privacy, sizeof privacy);
        size_t i;
        for (i = 0; known && i < sizeof privacy_views / sizeof privacy_views[0]; i++)
            if (!strcmp(privacy, privacy_views[i]))
                break;
        if (!known || i == sizeof privacy_views / sizeof privacy_views[0])
            return reply_vimeo_error(c, r, 400, 2204, "privacy.view is not a known view.", "privacy.view");
        if (!strcmp(privacy, "password") && !sbjson_find(doc, len, "privacy.password", &v))
            return reply_vimeo_error(c, r, 400, 2204, "A password is required.", "privacy.password");
    }
    if (config.quota && size > config.quota - (store_bytes_used() < config.quota ? store_bytes_used() : config.quota))
        return reply_vimeo_error(c, r, 403, 4101, "Your upload quota is exceeded.", NULL);

    struct store_video_info info;
    store_video_get(store_video_create(name, description, privacy, size), &info);
    if (info.upload)
        store_upload_count(info.upload, STORE_POST, false);
    struct sbjson_buf out = { 0 };
    video_json(&out, &info);
    return reply_json(c, r, 200, &out, "application/vnd.vimeo.video+json");
}

static enum MHD_Result vimeo_replace(struct MHD_Connection *c, struct request *r)
{
    const char *doc = r->body.data ? r->body.data : "";
    struct sbjson_value v;
    char approach[32], name[512] = "";
    uint64_t size;
    if (!sbjson_valid(doc, r->body.len))
        return reply_vimeo_error(c, r, 400, 2205, "The request body is not valid JSON.", NULL);
    if (!sbjson_find(doc, r->body.len, "upload.approach", &v) || !sbjson_string(&v, approach, sizeof approach) ||
        strcmp(approach, "tus") != 0)
        return reply_vimeo_error(c, r, 400, 2230, "The upload approach is not supported.", "upload.approach");
    if (!sbjson_find(doc, r->body.len, "upload.size", &v) || !sbjson_uint(&v, &size) || size == 0)
        return reply_vimeo_error(c, r, 400, 2204, "upload.size must be a number of bytes.", "upload.size");
    if (sbjson_find(doc, r->body.len, "file_name", &v))
        sbjson_string(&v, name, sizeof name);
    if (!store_video_replace(r->video, size, name))
        return reply_vimeo_error(c, r, 404, 5000, "The requested video could not be found.", NULL);
    struct store_video_info info;
    store_video_get(r->video, &info);
    struct sbjson_buf out = { 0 };
    sbjson_printf(&out, "{\"uri\":\"/videos/%" PRIu64 "/versions/%s\",\"upload\":{\"status\":\"in_progress\","
                        "\"approach\":\"tus\",\"size\":%" PRIu64 ",\"upload_link\":\"%s/files/%s\"}}",
                  r->video, store_upload_id(info.upload), size, config.upload_base, store_upload_id(info.upload));
    return reply_json(c, r, 201, &out, "application/vnd.vimeo.video.version+json");
}

static void quota_json(struct sbjson_buf *b, const char *key, uint64_t used)
{
    sbjson_printf(b, "\"%s\":{", key);
    if (config.quota)
        sbjson_printf(b, "\"free\":%" PRIu64 ",\"max\":%" PRIu64, used < config.quota ? config.quota - used : 0,
                      config.quota);
    else
        sbjson_raw(b, "\"free\":null,\"max\":null");
    sbjson_printf(b, ",\"used\":%" PRIu64, used);
}

static enum MHD_Result vimeo_me(struct MHD_Connection *c, struct request *r)
{
    uint64_t used = store_bytes_used();
    struct sbjson_buf b = { 0 };
    sbjson_raw(&b, "{\"uri\":\"/users/1\",\"name\":\"Sandbox User\",\"upload_quota\":{");
    quota_json(&b, "space", used);
    sbjson_raw(&b, ",\"showing\":\"periodic\"},");
    quota_json(&b, "periodic", used);
    sbjson_raw(&b, ",\"reset_date\":null},");
    quota_json(&b, "lifetime", used);
    sbjson_raw(&b, "}}}");
    return reply_json(c, r, 200, &b, "application/vnd.vimeo.user+json");
}

static enum MHD_Result vimeo_answer(struct MHD_Connection *c, struct request *r)
{
    struct store_video_info info;
    bool is_get = !strcmp(r->method, "GET"), is_post = !strcmp(r->method, "POST");
    switch (r->route) {
    case ROUTE_ME:
        if (is_get)
            return vimeo_me(c, r);
        break;
    case ROUTE_ME_VIDEOS:
        if (is_post)
            return vimeo_create(c, r);
        break;
    case ROUTE_VIDEO:
        if (is_get) {
            if (!store_video_get(r->video, &info))
                return reply_vimeo_error(c, r, 404, 5000, "The requested video could not be found.", NULL);
            struct sbjson_buf b = { 0 };
            video_json(&b, &info);
            return reply_json(c, r, 200, &b, "application/vnd.vimeo.video+json");
        }
        if (!strcmp(r->method, "DELETE")) {
            if (!store_video_delete(r->video))
                return reply_vimeo_error(c, r, 404, 5000, "The requested video could not be found.", NULL);
            return reply(c, r, 204, "");
        }
        break;
    case ROUTE_VIDEO_VERSIONS:
        if (is_post)
            return vimeo_replace(c, r);
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
        store_uploads_json(&b);
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
    if (r->route == ROUTE_CONTROL_UPLOADS || r->route == ROUTE_CONTROL_FAULTS) {
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
    if (!rate_limit_count(r)) /* over the limit: 429, and Vimeo sends no Retry-After */
        return reply_vimeo_error(c, r, 429, 9000, "Too many API requests.", NULL);
    if (!authorized(c))
        return reply_vimeo_error(c, r, 401, 8003, "You must provide a valid authenticated access token.", NULL);
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
    if (r->route == ROUTE_CONTROL_UPLOADS || r->route == ROUTE_CONTROL_FAULTS)
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

static void usage(FILE *out)
{
    fputs("usage: vimeo-sandbox [options]\n"
          "A local Vimeo API and tus 1.0.0 server with fault injection, for tests.\n"
          "  --port N            listen on port N (0, the default: any free port)\n"
          "  --listen ADDR       IPv4 address to listen on (default 127.0.0.1)\n"
          "  --upload-host HOST  host name used in upload links (default: the listen address)\n"
          "  --dir DIR           store each upload as a file in DIR (default: a fresh temporary directory)\n"
          "  --sink              keep offsets and SHA-256 but discard the bytes\n"
          "  --token T           the API token (default: env VIMEO_SANDBOX_TOKEN, else \"sandbox\")\n"
          "  --quota BYTES       upload quota shown by GET /me and enforced on create (default: none)\n"
          "  --max-size BYTES    Tus-Max-Size for creation (default 1 TiB)\n"
          "  --rate-limit N      API calls allowed per window; more get 429 (default 600)\n"
          "  --rate-window SECS  the rate-limit window (default 60)\n"
          "  --fault SPEC        inject a fault (repeatable; see below)\n"
          "  --seed N            seed for the fraction of requests a fault hits\n"
          "  --verbose           one line per request on stderr\n"
          "  -h, --help          this text\n"
          "Faults: KIND[=VALUE][,rate=F][,times=N][,on=api|upload][,method=M][,code=404|410][,after=BYTES]\n"
          "  cut=BYTES error=500|502|503 throttle=SECS stall=SECS locked conflict expire=ID|*\n"
          "  bandwidth=BYTES_PER_S latency=MS\n"
          "Control: GET /_sandbox/uploads; GET, POST (body: SPEC), DELETE /_sandbox/faults\n"
          "The first line on stdout is: listening on http://ADDR:PORT\n",
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
           OPT_FAULT, OPT_SEED, OPT_VERBOSE, OPT_RATE_LIMIT, OPT_RATE_WINDOW };
    static const struct option options[] = {
        { "port", required_argument, NULL, OPT_PORT },       { "listen", required_argument, NULL, OPT_LISTEN },
        { "upload-host", required_argument, NULL, OPT_UPLOAD_HOST },
        { "dir", required_argument, NULL, OPT_DIR },         { "sink", no_argument, NULL, OPT_SINK },
        { "token", required_argument, NULL, OPT_TOKEN },     { "quota", required_argument, NULL, OPT_QUOTA },
        { "max-size", required_argument, NULL, OPT_MAX_SIZE }, { "fault", required_argument, NULL, OPT_FAULT },
        { "seed", required_argument, NULL, OPT_SEED },       { "verbose", no_argument, NULL, OPT_VERBOSE },
        { "rate-limit", required_argument, NULL, OPT_RATE_LIMIT },
        { "rate-window", required_argument, NULL, OPT_RATE_WINDOW },
        { "help", no_argument, NULL, 'h' },                  { NULL, 0, NULL, 0 },
    };
    uint64_t port = 0, seed = 1;
    const char *listen_addr = "127.0.0.1", *upload_host = NULL, *dir = NULL;
    bool sink = false;
    char err[200];
    config.token = getenv("VIMEO_SANDBOX_TOKEN");
    if (!config.token || !*config.token)
        config.token = "sandbox";
    config.max_size = 1ULL << 40;
    config.rate_limit = 600;
    config.rate_window = 60;

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
    if (!sink && !dir) {
        snprintf(temp_dir, sizeof temp_dir, "%s/vimeo-sandbox.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(temp_dir))
            return fprintf(stderr, "vimeo-sandbox: cannot make a temporary directory: %s\n", strerror(errno)), 1;
        dir = temp_dir;
    }
    if (!store_open(sink ? NULL : dir))
        return fprintf(stderr, "vimeo-sandbox: out of memory\n"), 1;

    /* Signals go to sigwait() below only: connection threads inherit the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Bind here rather than in MHD, so the port, and with it every upload
     * link, is known before any connection thread can read the config. */
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t addr_len = sizeof addr;
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 128) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) {
        fprintf(stderr, "vimeo-sandbox: cannot listen on %s:%" PRIu64 ": %s\n", listen_addr, port, strerror(errno));
        store_close();
        return 1;
    }
    unsigned bound = ntohs(addr.sin_port);
    snprintf(config.upload_base, sizeof config.upload_base, "http://%s:%u", upload_host ? upload_host : listen_addr,
             bound);

    /* A large read buffer per connection lets a PATCH body arrive in big
     * pieces: fewer system calls and hash updates per byte. */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, listener,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(4 << 20), MHD_OPTION_CONNECTION_MEMORY_INCREMENT,
        (size_t)(256 << 10), MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "vimeo-sandbox: cannot start the HTTP server\n");
        close(listener);
        store_close();
        return 1;
    }
    printf("listening on http://%s:%u\n", listen_addr, bound);
    fflush(stdout);

    int sig;
    sigwait(&stop_signals, &sig);
    atomic_store(&stopping, true);
    MHD_stop_daemon(d);
    store_close();
    if (temp_dir[0])
        nftw(temp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
