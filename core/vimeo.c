#include "vimeo.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "util/json.h"
#include "util/json_write.h"

long vimeo_reset_in(const char *iso)
{
    struct tm tm = { 0 };
    const char *rest = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    long zone = 0;
    int hh, mm;
    if (*rest == '+' || *rest == '-') {
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        zone = (hh * 3600 + mm * 60) * (*rest == '-' ? -1 : 1);
    } else if (*rest != 'Z' && *rest != '\0') {
        return -1;
    }
    long delta = (long)(timegm(&tm) - zone - time(NULL));
    return delta < 0 ? 0 : delta > 3600 ? 3600 : delta;
}

/* Text from the server, as it may be shown: control characters become
 * spaces, and the token, should the server echo it, becomes "***". */
static void shown(const char *text, const char *secret, char *out, size_t cap)
{
    size_t n = 0, secret_len = secret ? strlen(secret) : 0;
    while (*text && n + 1 < cap) {
        if (secret_len && !strncmp(text, secret, secret_len)) {
            n += (size_t)snprintf(out + n, cap - n, "***");
            n = n < cap ? n : cap - 1;
            text += secret_len;
        } else {
            out[n++] = (unsigned char)*text < 0x20 ? ' ' : *text;
            text++;
        }
    }
    out[n] = '\0';
}

/* Append "field: its error" for each of Vimeo's invalid_parameters, while
 * they fit: the field alone says little ("privacy.view"), its error says
 * what to change. */
static void invalid_fields(const struct json *j, const char *secret, char *out, size_t cap)
{
    struct json_iter params;
    json_array_iter(j, json_find(j, "invalid_parameters"), &params);
    for (int item; (item = json_iter_next(&params)) >= 0;) {
        char text[200], field[64], why[120], one[200];
        if (!json_get_string(j, json_find_in(j, item, "field"), text, sizeof text))
            continue;
        shown(text, secret, field, sizeof field);
        why[0] = '\0';
        if (json_get_string(j, json_find_in(j, item, "error"), text, sizeof text))
            shown(text, secret, why, sizeof why);
        snprintf(one, sizeof one, "%s%s%s", field, why[0] ? ": " : "", why);
        size_t used = strlen(out);
        if (used + strlen(one) + 3 >= cap)
            break;
        snprintf(out + used, cap - used, "%s%s", used ? "; " : "", one);
    }
}

void vimeo_error_line(long status, const char *content_type, const char *body, size_t len, const char *secret,
                      char *out, size_t cap)
{
    struct json j;
    char text[200], message[200] = "", developer[200] = "", fields[240] = "";
    uint64_t code = 0;
    if (json_parse(&j, body, len) && json_type(&j, 0) == 'o') {
        if (json_get_string(&j, json_find(&j, "error"), text, sizeof text))
            shown(text, secret, message, sizeof message);
        /* Often the only useful part: for 8002 "error" says "get in touch with the app's creator". */
        if (json_get_string(&j, json_find(&j, "developer_message"), text, sizeof text) && strcmp(text, message))
            shown(text, secret, developer, sizeof developer);
        json_get_uint(&j, json_find(&j, "error_code"), &code);
        invalid_fields(&j, secret, fields, sizeof fields);
    }
    json_free(&j);
    if (message[0] || developer[0])
        snprintf(out, cap, "Vimeo API: %s%s%s (HTTP %ld%s%.0" PRIu64 "%s%s)", message,
                 message[0] && developer[0] ? "; " : "", developer, status, code ? ", error " : "", code,
                 fields[0] ? "; invalid: " : "", fields);
    else
        snprintf(out, cap, "Vimeo API answered HTTP %ld with %s", status,
                 len == 0 ? "an empty body" : content_type && strstr(content_type, "json") ? "unreadable JSON" :
                 "a body that is not JSON");
}

/* Run one API call; on success parse its JSON into j (caller frees). */
static bool call(struct vimeo_api *api, const char *method, const char *path, const char *body,
                 struct vimeo_result *res, struct http_result *hr, struct json *j)
{
    char url[HTTP_URL_MAX];
    snprintf(url, sizeof url, "%s%s", api->base, path);
    const char *headers[] = { "Content-Type: application/json", NULL };
    struct http_request req = { .method = method, .url = url, .token = api->token,
                                .headers = body ? headers : NULL, .body = body, .body_len = body ? strlen(body) : 0 };
    *res = (struct vimeo_result){ .retry_after = -1, .ratelimit_remaining = -1, .ratelimit_reset_in = -1 };
    *j = (struct json){ 0 };
    if (!http_perform(api->http, &req, hr)) {
        res->outcome = HTTP_FATAL;
        snprintf(res->error, sizeof res->error, "%s %s: %s", method, path, hr->error);
        return false;
    }
    res->status = hr->status;
    res->sent = hr->status != 0 || hr->request_sent;
    res->outcome = http_outcome_of(hr);
    res->retry_after = hr->retry_after;
    res->ratelimit_remaining = hr->ratelimit_remaining;
    res->ratelimit_reset_in = hr->ratelimit_reset[0] ? vimeo_reset_in(hr->ratelimit_reset) : -1;
    if (res->retry_after < 0 && hr->status == 429)
        res->retry_after = res->ratelimit_reset_in;
    if (res->outcome == HTTP_ABORTED)
        return false;
    if (!hr->status) {
        snprintf(res->error, sizeof res->error, "Vimeo API%s%s",
                 hr->transport_error && !hr->timed_out ? " unreachable: " : ": ", hr->error);
        return false;
    }
    if (res->outcome != HTTP_OK) {
        vimeo_error_line(hr->status, hr->content_type, hr->body.data ? hr->body.data : "", hr->body.len, api->token,
                         res->error, sizeof res->error);
        return false;
    }
    if (hr->status == 204)
        return true;
    if (!json_parse(j, hr->body.data ? hr->body.data : "", hr->body.len)) {
        res->outcome = HTTP_RETRY; /* a proxy's HTML page or a cut answer: try again */
        snprintf(res->error, sizeof res->error, "Vimeo API answered HTTP %ld with %s", hr->status,
                 hr->body.len ? "a body that is not JSON" : "an empty body");
        return false;
    }
    return true;
}

static bool read_upload(struct json *j, const char *prefix, struct vimeo_upload *out, struct vimeo_result *res)
{
    char path[64], why[96], approach[16];
    snprintf(path, sizeof path, "%supload.approach", prefix);
    if (json_get_string(j, json_find(j, path), approach, sizeof approach) && strcmp(approach, "tus") != 0) {
        res->outcome = HTTP_FATAL;
        snprintf(res->error, sizeof res->error, "Vimeo API answered with upload approach \"%s\", not tus", approach);
        return false;
    }
    snprintf(path, sizeof path, "%supload.upload_link", prefix);
    int token = json_find(j, path);
    if (!json_get_string(j, token, out->upload_link, sizeof out->upload_link)) {
        res->outcome = HTTP_FATAL;
        if (json_type(j, token) == 's')
            snprintf(res->error, sizeof res->error, "Vimeo API answer has an upload_link longer than %d bytes",
                     HTTP_URL_MAX - 1);
        else
            snprintf(res->error, sizeof res->error, "Vimeo API answer has no upload.upload_link");
        return false;
    }
    if (!http_url_allowed(out->upload_link, why, sizeof why)) {
        res->outcome = HTTP_FATAL;
        snprintf(res->error, sizeof res->error, "Vimeo gave an upload link that is refused: %s", why);
        return false;
    }
    return true;
}

/* /videos/{id}, or /videos/{id}:{hash} for an unlisted video (Vimeo staff
 * in vimeo.js issue 50: "you should always be getting a URI with the
 * colon"); whether a create answers with the hash is not published, so
 * both are taken. */
static bool valid_video_uri(const char *uri)
{
    if (strncmp(uri, "/videos/", 8) != 0)
        return false;
    const char *p = uri + 8;
    size_t digits = strspn(p, "0123456789");
    if (!digits)
        return false;
    p += digits;
    if (*p == ':' && p[1])
        p += 1 + strspn(p + 1, "0123456789abcdefABCDEF");
    return *p == '\0';
}

/* The video's page, Vimeo's "link": only an https address on vimeo.com,
 * in printable ASCII, is kept, as it is shown, stored and handed to hooks
 * (an escape sequence from a server must not reach a terminal). */
static void read_page_in(struct json *j, int from, char *page, size_t cap)
{
    bool kept = json_get_string(j, json_find_in(j, from, "link"), page, cap) &&
                (!strncmp(page, "https://vimeo.com/", 18) || !strncmp(page, "https://www.vimeo.com/", 22));
    for (const char *c = page; kept && *c; c++)
        kept = *c > ' ' && *c < 0x7f && *c != '"';
    if (!kept)
        page[0] = '\0';
}

static void read_page(struct json *j, char *page, size_t cap)
{
    read_page_in(j, 0, page, cap);
}

bool engine_parse_video(const char *text, char *out, size_t cap)
{
    const char *p = text, *hash = "";
    size_t hash_len = 0;
    for (const char *const *prefix = (const char *const[]){ "https://", "http://", "www.", "vimeo.com/", NULL };
         *prefix; prefix++)
        if (!strncmp(p, *prefix, strlen(*prefix)))
            p += strlen(*prefix);
    bool page = p != text;
    if (page && strncmp(text, "https://vimeo.com/", 18) && strncmp(text, "https://www.vimeo.com/", 22) &&
        strncmp(text, "vimeo.com/", 10) && strncmp(text, "www.vimeo.com/", 14))
        return false; /* an address, but not Vimeo's */
    if (!page && !strncmp(p, "/videos/", 8))
        p += 8;
    size_t digits = strspn(p, "0123456789");
    if (!digits || digits > 20)
        return false;
    const char *rest = p + digits;
    char sep = page ? '/' : ':';
    if (*rest == sep && rest[1] && rest[1] != '?' && rest[1] != '#') {
        hash = rest + 1;
        hash_len = strspn(hash, "0123456789abcdefABCDEF");
        rest = hash + hash_len;
    }
    /* A page address may end with a slash, a query or a fragment (?share=copy). */
    bool end = *rest == '\0' || (page && (*rest == '?' || *rest == '#' || (*rest == '/' && !rest[1])));
    if (!end || (hash[0] && !hash_len))
        return false;
    return snprintf(out, cap, "/videos/%.*s%s%.*s", (int)digits, p, hash_len ? ":" : "", (int)hash_len, hash) <
           (int)cap;
}

static bool append_field(struct buf *b, const char *key, const char *value)
{
    return buf_printf(b, ",\"%s\":", key) && json_append_string(b, value);
}

/* A title from a file name: names are bytes, not always UTF-8 (Latin-1
 * from an old archive); such a byte becomes U+FFFD rather than refusing
 * the file. */
static bool append_title(struct buf *b, const char *name)
{
    return buf_puts(b, ",\"name\":") && json_append_string_lossy(b, name);
}

void vimeo_create(struct vimeo_api *api, uint64_t size, const struct vimeo_video_meta *meta,
                  struct vimeo_upload *out, struct vimeo_result *res)
{
    struct buf body;
    buf_init(&body, 64 * 1024);
    bool ok = buf_printf(&body, "{\"upload\":{\"approach\":\"tus\",\"size\":%" PRIu64 "}", size) &&
              (!meta->name || append_title(&body, meta->name)) &&
              (!meta->description || append_field(&body, "description", meta->description)) &&
              (!meta->folder || append_field(&body, "folder_uri", meta->folder)) &&
              (!meta->password || append_field(&body, "password", meta->password)) &&
              (!meta->privacy || (buf_puts(&body, ",\"privacy\":{\"view\":") &&
                                  json_append_string(&body, meta->privacy) && buf_puts(&body, "}"))) &&
              buf_puts(&body, "}");
    if (!ok) {
        *res = (struct vimeo_result){ .outcome = HTTP_FATAL, .retry_after = -1 };
        snprintf(res->error, sizeof res->error, "the video description or folder is not valid UTF-8");
        buf_free(&body);
        return;
    }
    struct http_result hr = { 0 };
    struct json j;
    if (call(api, "POST", "/me/videos?fields=uri,name,link,upload", body.data, res, &hr, &j)) {
        if (!json_get_string(&j, json_find(&j, "uri"), out->uri, sizeof out->uri) || !valid_video_uri(out->uri)) {
            res->outcome = HTTP_FATAL;
            snprintf(res->error, sizeof res->error, "Vimeo API answer has no video uri");
        } else {
            read_upload(&j, "", out, res);
            read_page(&j, out->page, sizeof out->page);
        }
    }
    json_free(&j);
    http_result_free(&hr);
    buf_free(&body);
}

void vimeo_replace(struct vimeo_api *api, const char *uri, uint64_t size, const char *file_name,
                   struct vimeo_upload *out, struct vimeo_result *res)
{
    struct buf body;
    buf_init(&body, 8192);
    char path[160];
    snprintf(path, sizeof path, "%s/versions?fields=upload", uri);
    bool ok = buf_puts(&body, "{\"file_name\":") && json_append_string_lossy(&body, file_name) &&
              buf_printf(&body, ",\"upload\":{\"approach\":\"tus\",\"size\":%" PRIu64 "}}", size);
    struct http_result hr = { 0 };
    struct json j = { 0 };
    if (!ok) {
        *res = (struct vimeo_result){ .outcome = HTTP_FATAL, .retry_after = -1 };
        snprintf(res->error, sizeof res->error, "the file name is not valid UTF-8");
    } else if (call(api, "POST", path, body.data, res, &hr, &j) && read_upload(&j, "", out, res)) {
        snprintf(out->uri, sizeof out->uri, "%s", uri);
    }
    json_free(&j);
    http_result_free(&hr);
    buf_free(&body);
}

void vimeo_status(struct vimeo_api *api, const char *uri, char *upload_status, char *transcode_status, size_t cap,
                  char *page, size_t page_cap, struct vimeo_result *res)
{
    char path[160];
    snprintf(path, sizeof path, "%s?fields=uri,link,upload.status,transcode.status", uri);
    struct http_result hr = { 0 };
    struct json j;
    upload_status[0] = transcode_status[0] = page[0] = '\0';
    if (call(api, "GET", path, NULL, res, &hr, &j)) {
        json_get_string(&j, json_find(&j, "upload.status"), upload_status, cap);
        json_get_string(&j, json_find(&j, "transcode.status"), transcode_status, cap);
        read_page(&j, page, page_cap);
    }
    json_free(&j);
    http_result_free(&hr);
}

uint64_t vimeo_video_id(const char *uri)
{
    if (!valid_video_uri(uri))
        return 0;
    uint64_t id = 0;
    for (const char *p = uri + 8; *p >= '0' && *p <= '9'; p++)
        id = id > (UINT64_MAX - 9) / 10 ? UINT64_MAX : id * 10 + (uint64_t)(*p - '0');
    return id;
}

void vimeo_list(struct vimeo_api *api, unsigned page, unsigned per_page, struct vimeo_video_status *out, size_t cap,
                size_t *n, bool *more, struct vimeo_result *res)
{
    char path[200];
    /* sort=date with direction=desc: the videos just uploaded come first,
     * so one page usually holds every one a run waits for. */
    snprintf(path, sizeof path,
             "/me/videos?fields=uri,link,upload.status,transcode.status&sort=date&direction=desc&per_page=%u&page=%u",
             per_page, page);
    struct http_result hr = { 0 };
    struct json j;
    *n = 0;
    *more = false;
    if (call(api, "GET", path, NULL, res, &hr, &j)) {
        struct json_iter items;
        json_array_iter(&j, json_find(&j, "data"), &items);
        for (int item; (item = json_iter_next(&items)) >= 0 && *n < cap;) {
            struct vimeo_video_status *v = &out[*n];
            *v = (struct vimeo_video_status){ .uri = "" };
            if (!json_get_string(&j, json_find_in(&j, item, "uri"), v->uri, sizeof v->uri) || !valid_video_uri(v->uri))
                continue;
            json_get_string(&j, json_find_in(&j, item, "upload.status"), v->upload_status, sizeof v->upload_status);
            json_get_string(&j, json_find_in(&j, item, "transcode.status"), v->transcode_status,
                            sizeof v->transcode_status);
            read_page_in(&j, item, v->page, sizeof v->page);
            (*n)++;
        }
        int next = json_find(&j, "paging.next");
        *more = json_type(&j, next) == 's';
    }
    json_free(&j);
    http_result_free(&hr);
}

void vimeo_me(struct vimeo_api *api, int64_t *free_bytes, char *user_uri, size_t cap, struct vimeo_result *res)
{
    struct http_result hr = { 0 };
    struct json j;
    *free_bytes = -1;
    if (user_uri)
        user_uri[0] = '\0';
    if (call(api, "GET", "/me?fields=uri,upload_quota", NULL, res, &hr, &j)) {
        uint64_t v;
        char unit[32] = "";
        int t = json_find(&j, "upload_quota.space.free");
        json_get_string(&j, json_find(&j, "upload_quota.space.unit"), unit, sizeof unit);
        /* On accounts whose quota counts videos, free is a number of videos
         * (unit video_count; vimeo-dot-net PR 192): no byte limit we know of. */
        if (strcmp(unit, "video_count") != 0 && json_get_uint(&j, t, &v))
            *free_bytes = v > INT64_MAX ? INT64_MAX : (int64_t)v;
        if (user_uri)
            json_get_string(&j, json_find(&j, "uri"), user_uri, cap);
    }
    json_free(&j);
    http_result_free(&hr);
}

void vimeo_quota(struct vimeo_api *api, int64_t *free_bytes, struct vimeo_result *res)
{
    vimeo_me(api, free_bytes, NULL, 0, res);
}

void vimeo_tags(struct vimeo_api *api, const char *uri, const char *const *tags, size_t n, struct vimeo_result *res)
{
    struct buf body;
    buf_init(&body, 64 * 1024);
    bool ok = buf_puts(&body, "[");
    for (size_t i = 0; ok && i < n; i++)
        ok = buf_puts(&body, i ? ",{\"name\":" : "{\"name\":") && json_append_string(&body, tags[i]) &&
             buf_puts(&body, "}");
    ok = ok && buf_puts(&body, "]");
    char path[160];
    snprintf(path, sizeof path, "%s/tags", uri);
    struct http_result hr = { 0 };
    struct json j = { 0 };
    if (!ok) {
        *res = (struct vimeo_result){ .outcome = HTTP_FATAL, .retry_after = -1 };
        snprintf(res->error, sizeof res->error, "a tag is not valid UTF-8");
    } else {
        call(api, "PUT", path, body.data, res, &hr, &j);
    }
    json_free(&j);
    http_result_free(&hr);
    buf_free(&body);
}

void vimeo_scopes(struct vimeo_api *api, char *scope, size_t cap, char *user_name, size_t name_cap,
                  struct vimeo_result *res)
{
    struct http_result hr = { 0 };
    struct json j;
    scope[0] = '\0';
    if (user_name)
        user_name[0] = '\0';
    if (call(api, "GET", "/oauth/verify", NULL, res, &hr, &j)) {
        json_get_string(&j, json_find(&j, "scope"), scope, cap);
        if (user_name)
            json_get_string(&j, json_find(&j, "user.name"), user_name, name_cap);
    }
    json_free(&j);
    http_result_free(&hr);
}

void vimeo_delete(struct vimeo_api *api, const char *uri, struct vimeo_result *res)
{
    struct http_result hr = { 0 };
    struct json j;
    call(api, "DELETE", uri, NULL, res, &hr, &j);
    json_free(&j);
    http_result_free(&hr);
}
