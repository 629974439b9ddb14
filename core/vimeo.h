/*
 * vimeo: the Vimeo API calls vimeo-up makes, and Vimeo's errors as one line.
 *
 * Every call sends the token as "Authorization: bearer" to the API base
 * only; the token never appears in a result or an error. Failures say what
 * Vimeo said: its "error" text, its error_code and the invalid fields.
 * Rate limits: a 429, or X-RateLimit-Remaining reaching 0, gives a
 * retry_after taken from Retry-After or else from X-RateLimit-Reset.
 */
#ifndef VIMEO_H
#define VIMEO_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"

struct vimeo_api {
    struct http *http;
    const char *base;    /* https://api.vimeo.com, no trailing slash */
    const char *token;
};

struct vimeo_result {
    enum http_outcome outcome;
    long status;
    bool sent;           /* the request reached the server, which may have acted on it */
    long retry_after;    /* seconds to wait before the next API call, -1 if none */
    long ratelimit_remaining;  /* X-RateLimit-Remaining, -1 when absent */
    long ratelimit_reset_in;   /* seconds until X-RateLimit-Reset, -1 when absent */
    char error[400];
};

struct vimeo_video_meta {
    const char *name, *description, *privacy, *folder; /* NULL: not sent */
    const char *password;      /* with privacy "password": a top-level "password" (OpenAPI POST /me/videos) */
};

struct vimeo_upload {
    char uri[96];                  /* /videos/N */
    char upload_link[HTTP_URL_MAX];
    char page[256];                /* the video's "link", https://vimeo.com/N[/hash]; "" when not said */
};

/* POST /me/videos with approach tus and the size; fills uri and upload_link. */
void vimeo_create(struct vimeo_api *api, uint64_t size, const struct vimeo_video_meta *meta,
                  struct vimeo_upload *out, struct vimeo_result *res);
/* POST {uri}/versions: a new upload link for an existing video. */
void vimeo_replace(struct vimeo_api *api, const char *uri, uint64_t size, const char *file_name,
                   struct vimeo_upload *out, struct vimeo_result *res);
/* GET {uri}: upload.status and transcode.status ("in_progress", "complete", "error"), and the
 * video's page link into page (page_cap bytes; "" when not said). */
void vimeo_status(struct vimeo_api *api, const char *uri, char *upload_status, char *transcode_status, size_t cap,
                  char *page, size_t page_cap, struct vimeo_result *res);
/* One video as GET /me/videos lists it. */
struct vimeo_video_status {
    char uri[96];                  /* /videos/N or /videos/N:hash */
    char upload_status[32], transcode_status[32]; /* "" when not said */
    char page[256];                /* its "link", as vimeo_create keeps it; "" when not said */
};
/* GET /me/videos, one page (from 1) of per_page (at most 100) of the
 * account's videos, newest first, with their upload.status,
 * transcode.status and link: up to cap into out, *n of them; *more when
 * paging.next names a later page. One call for many videos' statuses. */
void vimeo_list(struct vimeo_api *api, unsigned page, unsigned per_page, struct vimeo_video_status *out, size_t cap,
                size_t *n, bool *more, struct vimeo_result *res);
/* The number in a video URI (/videos/N or /videos/N:hash): the same video
 * whichever form an answer uses; 0 when uri is neither. */
uint64_t vimeo_video_id(const char *uri);

/* GET /me: free upload space in bytes, or -1 when Vimeo does not say (null). */
void vimeo_quota(struct vimeo_api *api, int64_t *free_bytes, struct vimeo_result *res);
/* The same, and the user's uri (/users/N), which folder URIs start with. */
void vimeo_me(struct vimeo_api *api, int64_t *free_bytes, char *user_uri, size_t cap, struct vimeo_result *res);
/* PUT {uri}/tags: add each of the n tags (a batch; OpenAPI 3.4 addVideoTags). */
void vimeo_tags(struct vimeo_api *api, const char *uri, const char *const *tags, size_t n, struct vimeo_result *res);
void vimeo_delete(struct vimeo_api *api, const char *uri, struct vimeo_result *res);
/* GET /oauth/verify: the token's scopes, space-separated ("" when not said),
 * and its user's name (user_name may be NULL). */
void vimeo_scopes(struct vimeo_api *api, char *scope, size_t cap, char *user_name, size_t name_cap,
                  struct vimeo_result *res);

/* Seconds from now until X-RateLimit-Reset's ISO-8601 instant (like
 * 2023-04-08T09:21:35+00:00), capped to 0..3600; -1 if unreadable. */
long vimeo_reset_in(const char *iso);

/* Vimeo's error document (or whatever came instead) as one line. secret
 * (the token) is masked as "***" wherever the server echoes it; control
 * characters become spaces. Exported for tests. */
void vimeo_error_line(long status, const char *content_type, const char *body, size_t len, const char *secret,
                      char *out, size_t cap);

#endif
