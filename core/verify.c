/* Verification without uploading: `vimeo-up verify` jobs and verify-now. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "transport.h"

bool verify_describe_offsets(uint64_t offset, uint64_t length, uint64_t size, char *out, size_t cap)
{
    bool complete = offset == length && length == size;
    if (complete)
        snprintf(out, cap, "complete: offset = length = %" PRIu64, offset);
    else
        snprintf(out, cap, "incomplete: offset %" PRIu64 " of length %" PRIu64 " (file %" PRIu64 ")", offset,
                 length, size);
    return complete;
}

/* The verdict on a job's upload from its link and video; true when complete. */
static bool verify_remote(const struct transport *t, const char *link, const char *video, uint64_t size,
                          bool vimeo, char *out, size_t cap)
{
    struct transport_result head = { .outcome = HTTP_GONE };
    if (link[0]) {
        t->ops->head(t->ctx, link, 0, &head);
        if (head.outcome == HTTP_OK)
            return verify_describe_offsets(head.offset, head.length, size, out, cap);
    }
    if (head.outcome == HTTP_GONE && video[0] && vimeo) {
        /* Vimeo drops finished links; its API still knows the upload's fate. */
        char status[32];
        struct transport_result res;
        t->ops->status(t->ctx, video, status, sizeof status, &res);
        if (res.outcome != HTTP_OK)
            return snprintf(out, cap, "cannot verify: %.300s", res.error), false;
        bool complete = !strcmp(status, "complete");
        snprintf(out, cap, "%s: Vimeo upload.status %s", complete ? "complete" : "incomplete",
                 status[0] ? status : "unknown");
        return complete;
    }
    if (!link[0])
        snprintf(out, cap, "never created on the server");
    else
        snprintf(out, cap, "cannot verify: %.300s", head.error);
    return false;
}

void verify_run(struct engine *e, struct job *job, const struct transport *t)
{
    char link[HTTP_URL_MAX], video[VIDEO_MAX], result[ERROR_MAX];
    pthread_mutex_lock(&e->lock);
    snprintf(link, sizeof link, "%s", job_text(job->link));
    snprintf(video, sizeof video, "%s", job->video);
    job_enter(e, job, ENGINE_VERIFYING, NULL);
    pthread_mutex_unlock(&e->lock);
    if (!link[0] && !video[0]) {
        /* Nothing was ever sent: nothing to verify, and no failure either. */
        pthread_mutex_lock(&e->lock);
        job_set_textf(&job->verified, "not started: nothing was sent yet");
        engine_emit(e, ENGINE_EV_VERIFIED, job, "%s", job_text(job->verified));
        job->hidden = true;
        job_recount(e, job);
        pthread_mutex_unlock(&e->lock);
        return;
    }
    bool complete = verify_remote(t, link, video, job->size, !e->tus_endpoint, result, sizeof result);
    pthread_mutex_lock(&e->lock);
    job_set_text(&job->verified, result);
    engine_emit(e, ENGINE_EV_VERIFIED, job, "%s", result);
    if (complete) {
        job_enter(e, job, ENGINE_DONE, video[0] ? video : link);
    } else {
        job_fail(e, job, "%s: %s", job->path, result);
    }
    pthread_mutex_unlock(&e->lock);
}

void verify_now(struct engine *e, unsigned id, const struct transport *t)
{
    char link[HTTP_URL_MAX];
    pthread_mutex_lock(&e->lock);
    struct job *job = job_find(e, id);
    if (!job || job->hidden || job->state == ENGINE_CANCELLED) {
        pthread_mutex_unlock(&e->lock);
        return;
    }
    snprintf(link, sizeof link, "%s", job_text(job->link));
    pthread_mutex_unlock(&e->lock);
    char result[ERROR_MAX];
    struct transport_result head = { 0 };
    if (!link[0])
        snprintf(result, sizeof result, "nothing to verify yet: no upload created");
    else if (t->ops->head(t->ctx, link, 0, &head), head.outcome != HTTP_OK)
        snprintf(result, sizeof result, "cannot verify: %.300s", head.error);
    else
        verify_describe_offsets(head.offset, head.length, job->size, result, sizeof result);
    pthread_mutex_lock(&e->lock);
    job_set_text(&job->verified, result);
    if (link[0])
        job_save_later(e, job);
    engine_emit(e, ENGINE_EV_VERIFIED, job, "%s", result);
    pthread_mutex_unlock(&e->lock);
}
