#include "api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/units.h"

enum {
    WINDOW_SLACK_SECONDS = 1,  /* the reset is given to the second: round up, never early */
};
/* A reset this much later than the known one starts a new window. */
static const double NEW_WINDOW_AFTER = 1.5;
/* How often a budget wait looks at stop() again. */
static const double STOP_POLL_SECONDS = 0.2;
/* How long the others wait for the answer to a probe before another goes. */
static const double PROBE_SECONDS = 1.0;

void api_init(struct api *api, const char *base, const char *token)
{
    api->base = base;
    api->token = token;
    api->budget = -1;
    api->window_end = 0;
    pthread_mutex_init(&api->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&api->changed, &ca);
    pthread_condattr_destroy(&ca);
}

void api_destroy(struct api *api)
{
    pthread_cond_destroy(&api->changed);
    pthread_mutex_destroy(&api->lock);
}

void api_note(struct api *api, const struct vimeo_result *res)
{
    if (res->ratelimit_remaining < 0 || res->ratelimit_reset_in < 0)
        return;
    double window_end = clock_mono() + (double)res->ratelimit_reset_in + WINDOW_SLACK_SECONDS;
    pthread_mutex_lock(&api->lock);
    if (api->budget < 0 || api->probing || window_end > api->window_end + NEW_WINDOW_AFTER) {
        api->probing = false;
        api->budget = res->ratelimit_remaining;
        api->window_end = window_end;
        pthread_cond_broadcast(&api->changed);
    } else if (res->ratelimit_remaining < api->budget) {
        api->budget = res->ratelimit_remaining;
    }
    pthread_mutex_unlock(&api->lock);
}

/* Caller holds api->lock. */
static double seconds_to_wait(struct api *api)
{
    if (api->budget >= 0 && clock_mono() >= api->window_end) {
        /* The window is over, and how large the next one is only an answer
         * says: one call goes first, or workers calling at once could spend
         * more than it holds. */
        api->budget = 1;
        api->window_end = clock_mono() + PROBE_SECONDS;
        api->probing = true;
    }
    return api->budget == 0 ? api->window_end - clock_mono() : 0;
}

double api_wait_seconds(struct api *api)
{
    pthread_mutex_lock(&api->lock);
    double wait = seconds_to_wait(api);
    pthread_mutex_unlock(&api->lock);
    return wait;
}

bool api_reserve(struct api *api, bool (*stop)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&api->lock);
    for (;;) {
        if (stop && stop(ctx)) {
            pthread_mutex_unlock(&api->lock);
            return false;
        }
        double wait = seconds_to_wait(api);
        if (wait <= 0)
            break;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        double slice = wait < STOP_POLL_SECONDS ? wait : STOP_POLL_SECONDS;
        until = units_timespec((double)until.tv_sec + (double)until.tv_nsec / 1e9 + slice);
        pthread_cond_timedwait(&api->changed, &api->lock, &until);
    }
    if (api->budget > 0)
        api->budget--;
    pthread_mutex_unlock(&api->lock);
    return true;
}

void api_call(struct api *api, struct http *http, const struct api_request *req, struct api_answer *out,
              struct vimeo_result *res, bool (*stop)(void *ctx), void *ctx)
{
    if (!api_reserve(api, stop, ctx)) {
        *res = (struct vimeo_result){ .outcome = HTTP_ABORTED, .retry_after = -1, .ratelimit_remaining = -1,
                                      .ratelimit_reset_in = -1 };
        snprintf(res->error, sizeof res->error, "stopped while waiting for Vimeo's rate limit");
        return;
    }
    struct vimeo_api v = { .http = http, .base = api->base, .token = api->token };
    switch (req->op) {
    case API_CREATE:
        vimeo_create(&v, req->size, req->meta, &out->upload, res);
        break;
    case API_STATUS:
        vimeo_status(&v, req->uri, out->upload_status, out->transcode_status, sizeof out->upload_status,
                     out->upload.page, sizeof out->upload.page, res);
        break;
    case API_QUOTA:
        vimeo_me(&v, &out->free_bytes, out->user_uri, sizeof out->user_uri, res);
        break;
    case API_DELETE:
        vimeo_delete(&v, req->uri, res);
        break;
    case API_TAGS:
        vimeo_tags(&v, req->uri, req->tags, req->ntags, res);
        break;
    case API_REPLACE:
        vimeo_replace(&v, req->uri, req->size, req->file_name, &out->upload, res);
        break;
    case API_LIST:
        vimeo_list(&v, req->page, API_LIST_PER_PAGE, req->videos, req->videos_cap, &out->nvideos, &out->more, res);
        break;
    case API_SCOPES:
        vimeo_scopes(&v, out->scope, sizeof out->scope, out->user_name, sizeof out->user_name, res);
        break;
    }
    api_note(api, res);
}
