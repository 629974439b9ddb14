/*
 * transcode: once a video's bytes are verified, Vimeo transcodes it. There
 * is no webhook (help centre, "transcode status"; VIMEO-API.md): one
 * follower thread polls GET /videos/{id}?fields=...,transcode.status for
 * each video still in progress, through api_call and so within the call
 * budget, each video with its own growing interval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/units.h"
#include "internal.h"
#include "transport.h"

/* Seconds before the first question, and at most between two. */
static const double FIRST_WAIT = 2, WAIT_CAP = 30;
/* With the tests' backoff_scale of 0, still no busy loop. */
static const double WAIT_FLOOR = 0.05;

/* Caller holds e->lock. */
static void follow(struct engine *e, struct job *job)
{
    if (job->following)
        return;
    if (e->nfollow == e->follow_cap) {
        size_t cap = e->follow_cap ? e->follow_cap * 2 : 16;
        struct job **more = realloc(e->follow, cap * sizeof *more);
        if (!more)
            return; /* not followed: the row says transcoding, as far as we know */
        e->follow = more;
        e->follow_cap = cap;
    }
    e->follow[e->nfollow++] = job;
    job->following = true;
    job->transcode_wait = FIRST_WAIT;
    job->transcode_at = clock_mono() + FIRST_WAIT * e->backoff_scale;
    pthread_cond_signal(&e->follow_ready);
}

/* Caller holds e->lock. */
static void unfollow(struct engine *e, struct job *job)
{
    for (size_t i = 0; i < e->nfollow; i++) {
        if (e->follow[i] == job) {
            e->follow[i] = e->follow[--e->nfollow];
            break;
        }
    }
    job->following = false;
}

void transcode_update(struct engine *e, struct job *job, const char *status)
{
    enum engine_transcode t = engine_transcode_parse(status);
    if (t == ENGINE_TRANSCODE_UNKNOWN)
        t = ENGINE_TRANSCODE_IN_PROGRESS;
    if (t == ENGINE_TRANSCODE_IN_PROGRESS)
        follow(e, job);
    else
        unfollow(e, job);
    if (t == job->transcode)
        return;
    job->transcode = t;
    job_save_later(e, job);
    if (t == ENGINE_TRANSCODE_COMPLETE)
        engine_emit(e, ENGINE_EV_AVAILABLE, job, "%s", job->page ? job->page : job->video);
    else if (t == ENGINE_TRANSCODE_ERROR)
        engine_emit(e, ENGINE_EV_TRANSCODE_ERROR, job, "%s: Vimeo could not transcode the video (transcode.status "
                    "error)", job->video);
    else
        engine_emit(e, ENGINE_EV_TRANSCODING, job, "%s", job->video);
}

/* Still worth a question: in the table, not cancelled. */
static bool followed(const struct job *job)
{
    return !job->hidden && job->state != ENGINE_CANCELLED;
}

bool transcode_pending(const struct engine *e)
{
    for (size_t i = 0; i < e->nfollow; i++)
        if (followed(e->follow[i]))
            return true;
    return false;
}

/* The followed job to ask now, or NULL with *wake the soonest time one is
 * due (0: none is followed). Jobs taken out of the table are dropped.
 * Caller holds e->lock. */
static struct job *next_due(struct engine *e, double now, double *wake)
{
    *wake = 0;
    for (size_t i = 0; i < e->nfollow;) {
        struct job *job = e->follow[i];
        if (!followed(job)) {
            unfollow(e, job);
            continue;
        }
        if (job->transcode_at <= now)
            return job;
        if (!*wake || job->transcode_at < *wake)
            *wake = job->transcode_at;
        i++;
    }
    return NULL;
}

/* Ask about one video, then note the answer. Called with e->lock held,
 * which it lets go of around the request. */
static void ask(struct engine *e, struct job *job, const struct transport *t)
{
    char video[VIDEO_MAX], status[32];
    snprintf(video, sizeof video, "%s", job->video);
    double wait = job->transcode_wait * e->backoff_scale;
    job->transcode_at = clock_mono() + (wait > WAIT_FLOOR ? wait : WAIT_FLOOR);
    job->transcode_wait = job->transcode_wait * 2 > WAIT_CAP ? WAIT_CAP : job->transcode_wait * 2;
    pthread_mutex_unlock(&e->lock);
    struct transport_result res;
    t->ops->status(t->ctx, video, status, sizeof status, &res);
    pthread_mutex_lock(&e->lock);
    if (res.outcome == HTTP_OK && res.page[0])
        job_set_text(&job->page, res.page);
    if (res.outcome == HTTP_OK && followed(job))
        transcode_update(e, job, res.transcode);
    else if (res.outcome == HTTP_GONE && followed(job))
        transcode_update(e, job, "error"); /* deleted meanwhile: it will never be available */
    /* Anything else: asked again when due. */
}

void *transcode_main(void *arg)
{
    struct engine *e = arg;
    struct net net;
    struct transport t = net_transport_engine(&net, e);
    pthread_mutex_lock(&e->lock);
    while (!atomic_load(&e->stopping) && net.http) {
        double wake;
        struct job *job = next_due(e, clock_mono(), &wake);
        if (job) {
            ask(e, job, &t);
            engine_wake(e);
        } else if (wake) {
            struct timespec until = units_timespec(wake);
            pthread_cond_timedwait(&e->follow_ready, &e->lock, &until);
        } else {
            pthread_cond_wait(&e->follow_ready, &e->lock);
        }
    }
    pthread_mutex_unlock(&e->lock);
    http_free(net.http);
    return NULL;
}
