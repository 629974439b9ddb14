/*
 * api: every Vimeo API request goes through api_call(), which keeps Vimeo's
 * rate limit as a call budget. Each answer's X-RateLimit-Remaining and
 * X-RateLimit-Reset say how many calls are left until the reset; each call
 * reserves one before it goes out, and an empty budget waits for the reset
 * (or until the caller's stop says to give up). Workers calling at once
 * cannot overrun the window this way, as they would if they only reacted to
 * answers. Thread-safe: the budget has its own lock, taken after the
 * engine's and never around the network.
 */
#ifndef API_H
#define API_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vimeo.h"

struct api {
    const char *base;          /* https://api.vimeo.com, no trailing slash */
    const char *token;
    pthread_mutex_t lock;      /* budget and window_end */
    pthread_cond_t changed;    /* a new window opened */
    long budget;               /* calls left in the window; -1: unknown, go on */
    double window_end;         /* monotonic time of the reset */
    bool probing;              /* a window ended: one call goes to learn the next */
};

enum api_op { API_CREATE, API_STATUS, API_QUOTA, API_DELETE, API_SCOPES, API_TAGS, API_REPLACE, API_LIST };

struct api_request {
    enum api_op op;
    const char *uri;                       /* STATUS, DELETE, REPLACE: the video */
    uint64_t size;                         /* CREATE, REPLACE */
    const struct vimeo_video_meta *meta;   /* CREATE */
    const char *const *tags;               /* TAGS */
    size_t ntags;
    const char *file_name;                 /* REPLACE */
    unsigned page;                         /* LIST: from 1, 100 videos a page */
    struct vimeo_video_status *videos;     /* LIST: the caller's room for them */
    size_t videos_cap;
};

enum { API_LIST_PER_PAGE = 100 };          /* Vimeo's most per page */

struct api_answer {
    struct vimeo_upload upload;            /* CREATE, REPLACE; STATUS: its page only */
    char upload_status[32], transcode_status[32]; /* STATUS */
    int64_t free_bytes;                    /* QUOTA: -1 when Vimeo sets no limit */
    char scope[512];                       /* SCOPES: space-separated */
    char user_uri[64];                     /* QUOTA: /users/N */
    char user_name[128];                   /* SCOPES: the token's user */
    size_t nvideos;                        /* LIST: how many it filled */
    bool more;                             /* LIST: a later page exists */
};

void api_init(struct api *api, const char *base, const char *token);
void api_destroy(struct api *api);

/* Reserve a call, make it, and note the answer's rate-limit headers.
 * stop(ctx) is asked while waiting for the budget: true gives up with
 * outcome HTTP_ABORTED and nothing sent. */
void api_call(struct api *api, struct http *http, const struct api_request *req, struct api_answer *out,
              struct vimeo_result *res, bool (*stop)(void *ctx), void *ctx);

/* The two halves of api_call, for tests and for the budget alone. */
bool api_reserve(struct api *api, bool (*stop)(void *ctx), void *ctx);
void api_note(struct api *api, const struct vimeo_result *res);
/* Seconds until the budget allows a call; 0 when it does now. */
double api_wait_seconds(struct api *api);

#endif
