/*
 * transport: the requests an upload makes, behind a table of functions, so
 * that the upload's state machine (upload.c) and verification (verify.c)
 * can be tested against a scripted fake: no network, no sleeps.
 *
 * net_transport() is the real one: Vimeo's API through api_call(), so every
 * API request waits on the call budget (or a generic tus creation endpoint),
 * and tus HEAD/PATCH/DELETE on the upload link. Each function fills a
 * transport_result; none of them touches the job's published view.
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "internal.h"

struct transport_result {
    enum http_outcome outcome;
    long status;               /* 0 when no HTTP answer arrived */
    bool maybe_done;           /* create: failed after it was sent, so a video may exist */
    long retry_after;          /* seconds, -1 when the server gave none */
    uint64_t offset, length;   /* HEAD: both; PATCH: the new offset */
    char error[ERROR_MAX];     /* one line when outcome is not HTTP_OK */
    char page[PAGE_MAX];       /* create, status: the video's page on vimeo.com, "" when not said */
    char transcode[32];        /* status: Vimeo's transcode.status, "" when not said */
};

struct patch_hooks {
    int (*progress)(void *ctx, uint64_t sent);   /* non-zero aborts */
    size_t (*throttle)(void *ctx, size_t want);  /* 0 aborts */
    void *ctx;
};

struct transport_ops {
    /* A new upload for job: on Vimeo a video (video gets its URI), else a
     * tus upload; link gets the upload link. */
    void (*create)(void *ctx, const struct job *job, char video[VIDEO_MAX], char link[HTTP_URL_MAX],
                   struct transport_result *res);
    /* timeout: seconds, 0 for the default. */
    void (*head)(void *ctx, const char *link, long timeout, struct transport_result *res);
    void (*patch)(void *ctx, const char *link, int fd, uint64_t offset, uint64_t length,
                  const struct patch_hooks *hooks, struct transport_result *res);
    /* Vimeo's upload.status of a video; HTTP_FATAL without Vimeo. */
    void (*status)(void *ctx, const char *video, char *upload_status, size_t cap, struct transport_result *res);
    /* One page (from 1) of the account's videos, newest first, with their
     * upload.status, transcode.status and page (GET /me/videos): up to cap
     * into out, *n of them; *more when a later page exists. HTTP_FATAL
     * without Vimeo. */
    void (*list)(void *ctx, unsigned page, struct vimeo_video_status *out, size_t cap, size_t *n, bool *more,
                 struct transport_result *res);
    /* Delete the video, or without Vimeo the tus upload. */
    void (*remove)(void *ctx, const char *video, const char *link, struct transport_result *res);
    /* Tag the video job made: the file's own tags (--manifest), else the
     * run's for a new video (a replaced video keeps its own); OK at once
     * when there are none. */
    void (*tag)(void *ctx, const struct job *job, const char *video, struct transport_result *res);
};

struct transport {
    const struct transport_ops *ops;
    void *ctx;
};

/* The real transport for one thread: its own curl handle (from http_new).
 * job, when not NULL, is the job it works for: a budget wait gives up when
 * the job is paused or cancelled. */
struct net {
    struct engine *e;
    struct http *http;
    struct job *job;
};
struct transport net_transport(struct net *net);
/* The same for an engine thread that works for no job (the helper, the
 * transcode follower): its own handle (net->http NULL when out of memory),
 * every request stopped when the engine stops. */
struct transport net_transport_engine(struct net *net, struct engine *e);

#endif
