#include "upload.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/units.h"

enum {
    BACKOFF_CAP = 60,          /* seconds */
    BACKOFF_DOUBLINGS = 6,     /* 1, 2, 4 … 32 s, then the cap */
    RETRY_AFTER_CAP = 600,     /* seconds: a server cannot park us longer */
    RATE_LIMIT_WAIT = 60,      /* seconds after a 429 that says not how long */
    SAVE_INTERVAL = 2,         /* seconds between journal saves of the offset */
    STOP_HEAD_TIMEOUT = 1,     /* seconds for the last HEAD when stopping: exit stays prompt */
};
/* The rate is smoothed over samples at least this far apart … */
static const double RATE_SAMPLE_SECONDS = 0.5;
/* … each weighing this much against the smoothed rate before it. */
static const double RATE_NEW_WEIGHT = 0.4;
/* Progress wakes the front end at most this often, all workers together. */
static const double PROGRESS_WAKE_SECONDS = 0.1;
/* Jitter: a wait is a random fraction of its base, from this much up to 1. */
static const double JITTER_FLOOR = 0.5;

#define STEP_NAME(name) #name,
static const char *const step_names[] = { UPLOAD_STEPS(STEP_NAME) };
#undef STEP_NAME

const char *upload_step_name(enum upload_step step)
{
    return step_names[step];
}

double upload_backoff(unsigned attempt, long retry_after, bool rate_limited, unsigned *rng)
{
    if (retry_after >= 0)
        return retry_after > RETRY_AFTER_CAP ? RETRY_AFTER_CAP : (double)retry_after;
    if (rate_limited)
        return RATE_LIMIT_WAIT;
    double base = attempt > BACKOFF_DOUBLINGS ? BACKOFF_CAP : (double)(1u << (attempt - 1));
    if (base > BACKOFF_CAP)
        base = BACKOFF_CAP;
    /* Jitter keeps many clients from retrying in lockstep. */
    double fraction = (double)(rand_r(rng) % 1000) / 1000.0;
    return base * (JITTER_FLOOR + (1 - JITTER_FLOOR) * fraction);
}

/* ---- publishing to the job (each takes e->lock) ----------------------------- */

/* An event for the log, with no change of state. */
static void say(struct upload *u, enum engine_event_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct upload *u, enum engine_event_kind kind, const char *fmt, ...)
{
    char message[ERROR_MAX + 200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&u->e->lock);
    engine_emit(u->e, kind, u->job, "%s", message);
    pthread_mutex_unlock(&u->e->lock);
}

static enum upload_step fail(struct upload *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum upload_step fail(struct upload *u, const char *fmt, ...)
{
    char why[ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&u->e->lock);
    job_fail(u->e, u->job, "%s", why);
    pthread_mutex_unlock(&u->e->lock);
    return STEP_END;
}

static enum upload_step fail_changed(struct upload *u)
{
    return fail(u, "%s changed during the upload (size, modification time or inode differs); not resumed", u->job->path);
}

/* The journal did not take a save: pause, saying why. */
static enum upload_step pause_for_journal(struct upload *u, const char *why)
{
    pthread_mutex_lock(&u->e->lock);
    job_set_text(&u->job->error, why);
    u->job->rate = 0;
    job_enter(u->e, u->job, ENGINE_PAUSED, why);
    pthread_mutex_unlock(&u->e->lock);
    return STEP_END;
}

/* Publish the confirmed offset. Caller holds e->lock. */
static void publish_offset(struct upload *u)
{
    u->job->acked = u->acked;
    atomic_store(&u->job->sent, u->acked);
}

static void enter_if_not(struct upload *u, enum engine_state state)
{
    pthread_mutex_lock(&u->e->lock);
    if (u->job->state != state)
        job_enter(u->e, u->job, state, NULL);
    pthread_mutex_unlock(&u->e->lock);
}

/* Go to WAIT with the reason, then on to next. */
static enum upload_step retry(struct upload *u, const struct transport_result *res, enum upload_step next)
{
    snprintf(u->why, sizeof u->why, "%s", res->error);
    u->retry_after = res->retry_after;
    u->rate_limited = res->status == 429;
    u->next = next;
    return STEP_WAIT;
}

/* The transfer was stopped on purpose: STOP sorts out why. */
static enum upload_step stopped(struct upload *u, enum upload_step next)
{
    u->next = next;
    return STEP_STOP;
}

/* An answer's offset: progress when beyond any seen before (which resets the
 * retry count), a failure when behind what the server already confirmed. */
static bool take_offset(struct upload *u, uint64_t offset)
{
    if (offset < u->acked)
        return false;
    if (offset > u->high_water) {
        u->high_water = offset;
        u->retries = u->rate_limited_waits = 0;
    }
    u->acked = offset;
    pthread_mutex_lock(&u->e->lock);
    publish_offset(u);
    u->job->retries = 0;
    pthread_mutex_unlock(&u->e->lock);
    return true;
}

static enum upload_step went_back(struct upload *u, uint64_t offset)
{
    return fail(u, "%s: the server went back from %" PRIu64 " to %" PRIu64 " bytes of the upload; not resumed",
                u->job->path, u->acked, offset);
}

/* Sleep for seconds unless stop, a pause or a cancel comes first. */
static void nap(struct upload *u, double seconds)
{
    struct engine *e = u->e;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until = units_timespec((double)until.tv_sec + (double)until.tv_nsec / 1e9 + seconds * e->backoff_scale);
    pthread_mutex_lock(&e->lock);
    while (!atomic_load(&e->stopping) && !u->job->want_pause && !u->job->want_cancel)
        if (pthread_cond_timedwait(&e->commands, &e->lock, &until) != 0)
            break;
    pthread_mutex_unlock(&e->lock);
}

/* ---- the transfer's callbacks (no lock held) -------------------------------- */

static int on_progress(void *ctx, uint64_t sent)
{
    struct upload *u = ctx;
    struct job *job = u->job;
    uint64_t total = u->chunk_start + sent;
    atomic_store(&job->sent, total);
    /* Counted as it goes, not from offsets: what the server had before this
     * run (a killed run's last chunk, a resume) was not sent by it. A rewind
     * sends again, and counts again. */
    atomic_fetch_add(&u->e->bytes_sent, sent >= u->request_sent ? sent - u->request_sent : sent);
    u->request_sent = sent;
    double now = clock_mono();
    if (total < u->rate_mark_bytes) {
        /* Sending again what a cut lost: measure from here. */
        u->rate_mark_bytes = total;
        u->rate_mark_time = now;
    }
    /* The sample spans chunks: with small fast chunks no single PATCH lasts
     * long enough to measure, and the rate would read 0 while bytes move. */
    if (now - u->rate_mark_time >= RATE_SAMPLE_SECONDS) {
        double sample = (double)(total - u->rate_mark_bytes) / (now - u->rate_mark_time);
        pthread_mutex_lock(&u->e->lock);
        job->rate = job->rate > 0 ? (1 - RATE_NEW_WEIGHT) * job->rate + RATE_NEW_WEIGHT * sample : sample;
        pthread_mutex_unlock(&u->e->lock);
        u->rate_mark_time = now;
        u->rate_mark_bytes = total;
    }
    double last = atomic_load(&u->e->last_progress_wake);
    if (now - last >= PROGRESS_WAKE_SECONDS && atomic_compare_exchange_strong(&u->e->last_progress_wake, &last, now))
        engine_wake(u->e);
    return atomic_load(&job->interrupt) ? 1 : 0;
}

static bool interrupted(void *ctx)
{
    const struct upload *u = ctx;
    return atomic_load(&u->job->interrupt);
}

static size_t throttle(void *ctx, size_t want)
{
    struct upload *u = ctx;
    return bucket_take(&u->e->bucket, want, interrupted, ctx);
}

/* ---- the steps ---------------------------------------------------------------- */

/* A create whose outcome is not known (it went out, the answer was lost)
 * may be repeated once: each may have made a video. False: no more. */
static bool unsure_create_again(struct upload *u, struct transport_result *res)
{
    if (res->outcome != HTTP_RETRY || !res->maybe_done)
        return true;
    if (++u->unsure_creates >= MAX_UNSURE_CREATES)
        return false;
    size_t n = strlen(res->error); /* said in the log: the retry may leave a duplicate */
    snprintf(res->error + n, sizeof res->error - n, " (a video may have been made; trying once more)");
    return true;
}

/* The new video must be in the journal before a byte goes out: a run
 * killed now resumes it instead of making another. A journal that cannot
 * say so leaves no video behind either. */
static enum upload_step record_new_upload(struct upload *u, const char *video, const char *link)
{
    struct transport_result res;
    char why[ERROR_MAX];
    if (!job_save_now(u->e, u->job, ENGINE_UPLOADING, why, sizeof why)) {
        atomic_store(&u->job->interrupt, false); /* this DELETE must go out whatever came meanwhile */
        res.outcome = HTTP_OK;
        if (!u->job->replaces) /* a replaced video is the user's: never deleted */
            u->transport.ops->remove(u->transport.ctx, video, link, &res);
        pthread_mutex_lock(&u->e->lock);
        job_set_text(&u->job->link, NULL);
        job_set_video(u->job, NULL);
        if (res.outcome != HTTP_OK && res.outcome != HTTP_GONE)
            engine_emit(u->e, ENGINE_EV_FAILED, u->job, "could not delete %s, which the journal could not record: %s",
                        video[0] ? video : link, res.error);
        pthread_mutex_unlock(&u->e->lock);
        return pause_for_journal(u, why);
    }
    pthread_mutex_lock(&u->e->lock);
    if (u->job->state == ENGINE_CANCELLED) {
        pthread_mutex_unlock(&u->e->lock);
        return stopped(u, STEP_END); /* cancelled while creating: STOP deletes what was made */
    }
    job_enter(u->e, u->job, ENGINE_UPLOADING, NULL);
    engine_emit(u->e, ENGINE_EV_CREATED, u->job, "%s%s", u->job->replaces ? "a new version of " : "",
                video[0] ? video : link);
    pthread_mutex_unlock(&u->e->lock);
    u->transport.ops->tag(u->transport.ctx, u->job, video, &res);
    if (res.outcome != HTTP_OK && res.outcome != HTTP_ABORTED) /* a nicety: the upload goes on */
        say(u, ENGINE_EV_FAILED, "could not tag %s: %s", video, res.error);
    return STEP_SEND;
}

static enum upload_step step_create(struct upload *u)
{
    if (!job_file_unchanged(u->job, u->fd))
        return fail_changed(u);
    enter_if_not(u, ENGINE_CREATING);
    struct transport_result res;
    char video[VIDEO_MAX], link[HTTP_URL_MAX];
    u->transport.ops->create(u->transport.ctx, u->job, video, link, &res);
    if (!unsure_create_again(u, &res))
        return fail(u, "%s: %s; a video may have been made each time: look in your Vimeo library before adding "
                    "the file again", u->job->path, res.error);
    if (res.outcome == HTTP_RETRY)
        return retry(u, &res, STEP_CREATE);
    if (res.outcome == HTTP_ABORTED) {
        if (res.maybe_done) { /* the stop's grace ran out (pool_stop): said now, and kept by the journal */
            static const char why[] = "stopped before Vimeo answered its create: a video may have been made; "
                                      "look in your Vimeo library";
            pthread_mutex_lock(&u->e->lock);
            job_set_text(&u->job->error, why);
            engine_emit(u->e, ENGINE_EV_PAUSED, u->job, "%s", why);
            pthread_mutex_unlock(&u->e->lock);
        }
        return stopped(u, STEP_CREATE);
    }
    if (res.outcome != HTTP_OK)
        return fail(u, "%s: %s", u->job->path, res.error);
    snprintf(u->video, sizeof u->video, "%s", video);
    snprintf(u->link, sizeof u->link, "%s", link);
    u->acked = u->high_water = 0;
    pthread_mutex_lock(&u->e->lock);
    job_set_video(u->job, video);
    job_set_text(&u->job->link, link);
    job_set_text(&u->job->page, res.page);
    job_set_text(&u->job->error, NULL);
    publish_offset(u);
    pthread_mutex_unlock(&u->e->lock);
    return record_new_upload(u, video, link);
}

/* The server's answer to HEAD must describe this file. */
static bool head_matches(struct upload *u, struct transport_result *res)
{
    if (res->outcome == HTTP_OK && res->length != u->job->size) {
        res->outcome = HTTP_FATAL;
        snprintf(res->error, sizeof res->error, "server says the upload is %" PRIu64 " bytes, the file is %" PRIu64,
                 res->length, u->job->size);
    }
    return res->outcome == HTTP_OK;
}

static enum upload_step step_locate(struct upload *u)
{
    struct transport_result res;
    u->transport.ops->head(u->transport.ctx, u->link, 0, &res);
    if (head_matches(u, &res)) {
        if (!take_offset(u, res.offset))
            return went_back(u, res.offset);
        /* What the server had (a killed run's last chunk) was not sent now:
         * the rate is measured from here. */
        u->rate_mark_bytes = u->acked;
        u->rate_mark_time = clock_mono();
        enter_if_not(u, ENGINE_UPLOADING);
        return u->acked >= u->job->size ? STEP_VERIFY : STEP_SEND;
    }
    switch (res.outcome) {
    case HTTP_GONE: return STEP_EXPIRE;
    case HTTP_ABORTED: return stopped(u, STEP_LOCATE);
    case HTTP_RETRY: case HTTP_CONFLICT: return retry(u, &res, STEP_LOCATE);
    default: return fail(u, "%s: %s", u->job->path, res.error);
    }
}

/* Write the offset to the journal now and then; the last byte's is
 * VERIFY's to write. */
static bool save_progress(struct upload *u, char *why, size_t cap)
{
    double now = clock_mono();
    if (u->acked >= u->job->size || now - u->last_saved < SAVE_INTERVAL * u->e->backoff_scale)
        return true;
    u->last_saved = now;
    return job_save_now(u->e, u->job, JOB_STATE_CURRENT, why, cap);
}

static enum upload_step step_send(struct upload *u)
{
    if (!job_file_unchanged(u->job, u->fd))
        return fail_changed(u);
    uint64_t left = u->job->size - u->acked;
    uint64_t chunk = u->e->cfg.chunk_size;
    uint64_t length = chunk && chunk < left ? chunk : left;
    u->chunk_start = u->acked;
    u->request_sent = 0;
    struct patch_hooks hooks = { .progress = on_progress, .throttle = throttle, .ctx = u };
    struct transport_result res;
    u->transport.ops->patch(u->transport.ctx, u->link, u->fd, u->acked, length, &hooks, &res);
    if (res.outcome != HTTP_OK && !job_file_unchanged(u->job, u->fd))
        return fail_changed(u); /* a short read is the file's doing, not the network's */
    switch (res.outcome) {
    case HTTP_OK: {
        char why[ERROR_MAX];
        if (!take_offset(u, res.offset))
            return went_back(u, res.offset);
        enter_if_not(u, ENGINE_UPLOADING);
        if (!save_progress(u, why, sizeof why))
            return pause_for_journal(u, why);
        engine_wake(u->e);
        return u->acked >= u->job->size ? STEP_VERIFY : STEP_SEND;
    }
    case HTTP_GONE: return STEP_EXPIRE;
    case HTTP_ABORTED: return stopped(u, STEP_LOCATE);
    case HTTP_RETRY: case HTTP_CONFLICT: return retry(u, &res, STEP_LOCATE);
    default: return fail(u, "%s: %s", u->job->path, res.error);
    }
}

/* On to CONFIRM, whose clock starts now. */
static enum upload_step confirm(struct upload *u)
{
    u->confirm_since = clock_mono();
    u->confirm_wait = 2;
    return STEP_CONFIRM;
}

/* Vimeo's own upload.status for the video into status; "" when unknown. */
static bool ask_status(struct upload *u, char *status, size_t cap)
{
    struct transport_result res;
    status[0] = '\0';
    if (!u->video[0])
        return false;
    u->transport.ops->status(u->transport.ctx, u->video, status, cap, &res);
    if (res.outcome == HTTP_OK)
        snprintf(u->transcode, sizeof u->transcode, "%s", res.transcode);
    if (res.outcome == HTTP_OK && res.page[0]) {
        /* Said again, or said only now: a new version's answer has none. */
        pthread_mutex_lock(&u->e->lock);
        job_set_text(&u->job->page, res.page);
        pthread_mutex_unlock(&u->e->lock);
    }
    return res.outcome == HTTP_OK;
}

static enum upload_step step_verify(struct upload *u)
{
    enter_if_not(u, ENGINE_VERIFYING);
    /* The row says verifying, with the last offset: what the job does now,
     * and then, waiting for Vimeo's word without a worker, may be killed
     * in. Taken before HEAD and ended after it, the copy goes with
     * whichever save another thread writes meanwhile (on many small files
     * a transaction of its own cost a tenth of the CPU); the job goes on
     * only once it is written. */
    struct save *save = job_save_start(u->e, u->job, JOB_STATE_CURRENT);
    struct transport_result res;
    u->transport.ops->head(u->transport.ctx, u->link, 0, &res);
    char why[ERROR_MAX];
    if (!job_save_end(u->e, u->job, save, why, sizeof why))
        return pause_for_journal(u, why);
    bool matches = head_matches(u, &res);
    if (!job_file_unchanged(u->job, u->fd))
        return fail_changed(u);
    if (matches && verify_describe_offsets(res.offset, res.length, u->job->size, u->verified, sizeof u->verified))
        return confirm(u);
    if (matches) {
        /* Fewer bytes than were acknowledged: the server lost some. */
        return went_back(u, res.offset);
    }
    char status[32];
    switch (res.outcome) {
    case HTTP_GONE:
        /* Vimeo may expire a link once it has the whole file: its word that
         * the upload is complete is proof enough, and starting again would
         * make a second video. */
        if (ask_status(u, status, sizeof status) && !strcmp(status, "complete")) {
            snprintf(u->verified, sizeof u->verified,
                     "complete: Vimeo upload.status complete (the upload link expired after the last byte)");
            return confirm(u);
        }
        return STEP_EXPIRE;
    case HTTP_ABORTED: return stopped(u, STEP_VERIFY);
    case HTTP_RETRY: case HTTP_CONFLICT: return retry(u, &res, STEP_VERIFY);
    default: return fail(u, "%s: verification failed: %s", u->job->path, res.error);
    }
}

/* The job is done once the journal says so; a journal that cannot pauses it. */
static enum upload_step finish(struct upload *u)
{
    if (confirm_finish(u->e, u->job, u->verified, u->transcode) == CONFIRM_END_CANCELLED)
        return stopped(u, STEP_END); /* cancelled at the last moment: STOP deletes, if asked */
    return STEP_END;
}

/* Every byte is proven there; Vimeo's upload.status has the last word:
 * complete is done, error is a failure (Vimeo refuses e.g. a video under
 * half a second only now), in_progress is asked again for a while. No
 * answer at all leaves the HEAD's proof standing. The follower asks for
 * many jobs at once: this worker hands the job over and takes the next
 * file; it asks itself only where the follower cannot take it. */
static enum upload_step step_confirm(struct upload *u)
{
    char status[32];
    if (strstr(u->verified, "upload.status"))
        return finish(u); /* asked already: the link was gone */
    if (confirm_hand_over(u->e, u->job, u->verified))
        return STEP_END;
    if (!ask_status(u, status, sizeof status))
        status[0] = '\0';
    switch (confirm_judge(status, clock_mono() - u->confirm_since, CONFIRM_WINDOW * u->e->backoff_scale, u->verified,
                          sizeof u->verified)) {
    case CONFIRM_FAILED:
        pthread_mutex_lock(&u->e->lock);
        confirm_refused(u->e, u->job);
        pthread_mutex_unlock(&u->e->lock);
        return STEP_END;
    case CONFIRM_AGAIN:
        nap(u, u->confirm_wait);
        u->confirm_wait = u->confirm_wait * 2 > CONFIRM_WAIT_CAP ? CONFIRM_WAIT_CAP : u->confirm_wait * 2;
        return STEP_CONFIRM;
    case CONFIRM_DONE:
        break;
    }
    return finish(u);
}

static enum upload_step step_expire(struct upload *u)
{
    /* A link may go once Vimeo has every byte: then the upload is done, and
     * a new one would be a second video. */
    char status[32];
    if (u->acked > 0 && ask_status(u, status, sizeof status) && !strcmp(status, "complete")) {
        snprintf(u->verified, sizeof u->verified, "complete: Vimeo upload.status complete (the upload link is gone)");
        return confirm(u);
    }
    /* The last expired video goes too: a half-uploaded video is of no use
     * on the account, and a retry (r) starts a new one anyway. */
    bool give_up = ++u->recreates > MAX_RECREATES;
    char stale[VIDEO_MAX], stale_page[PAGE_MAX];
    snprintf(stale, sizeof stale, "%s", u->video);
    uint64_t stale_acked = u->acked;
    pthread_mutex_lock(&u->e->lock);
    snprintf(stale_page, sizeof stale_page, "%s", job_text(u->job->page));
    if (!give_up)
        engine_emit(u->e, ENGINE_EV_RETRY, u->job, "upload link expired; starting a new %s",
                    u->job->replaces ? "version" : "upload");
    job_set_text(&u->job->link, NULL);
    job_set_text(&u->job->page, NULL);
    job_set_video(u->job, NULL);
    u->job->acked = 0;
    pthread_mutex_unlock(&u->e->lock);
    char why[ERROR_MAX];
    if (!job_save_now(u->e, u->job, JOB_STATE_CURRENT, why, sizeof why)) {
        /* The journal still has the old upload: so must the job, or a
         * resume would make a new video and never delete the stale one. */
        pthread_mutex_lock(&u->e->lock);
        job_set_text(&u->job->link, u->link);
        job_set_video(u->job, stale);
        job_set_text(&u->job->page, stale_page);
        u->job->acked = stale_acked;
        pthread_mutex_unlock(&u->e->lock);
        return pause_for_journal(u, why);
    }
    u->link[0] = u->video[0] = '\0';
    u->acked = u->high_water = 0;
    pthread_mutex_lock(&u->e->lock);
    publish_offset(u);
    pthread_mutex_unlock(&u->e->lock);
    if (stale[0] && !u->job->replaces) { /* a replaced video is the user's: never deleted */
        struct transport_result res;
        u->transport.ops->remove(u->transport.ctx, stale, "", &res);
        if (res.outcome != HTTP_OK && res.outcome != HTTP_GONE)
            say(u, ENGINE_EV_RETRY, "could not delete the stale video %s: %s", stale, res.error);
    }
    if (give_up)
        return fail(u, "%s: the upload link expired %u times; not trying again", u->job->path, MAX_RECREATES);
    return STEP_CREATE;
}

static enum upload_step step_wait(struct upload *u)
{
    struct engine *e = u->e;
    struct job *job = u->job;
    /* Being told to slow down is not a failure: a 429 waits, uncounted,
     * but a server that says nothing else for an hour or so is one. */
    if (!u->rate_limited && ++u->retries > MAX_RETRIES)
        return fail(u, "gave up after %d retries: %s", MAX_RETRIES, u->why);
    if (u->rate_limited && ++u->rate_limited_waits > MAX_RATE_LIMITED_WAITS)
        return fail(u, "rate-limited %d times in a row: %s", MAX_RATE_LIMITED_WAITS, u->why);
    double wait = upload_backoff(u->retries ? u->retries : 1, u->retry_after, u->rate_limited, &u->rng);
    char message[ERROR_MAX + 40];
    snprintf(message, sizeof message, "%s; retry %u in %.1f s", u->why, u->retries, wait);
    pthread_mutex_lock(&e->lock);
    job_set_text(&job->error, u->why);
    job->retries = u->retries;
    job->retry_at = clock_mono() + wait * e->backoff_scale;
    job->rate = 0;
    job_enter(e, job, ENGINE_RETRYING, message);
    pthread_mutex_unlock(&e->lock);
    nap(u, wait);
    return u->next;
}

/* Stopping: the server may hold more than it acknowledged before the
 * abort. Ask it briefly, so the journal shows what really arrived. */
static void note_last_offset(struct upload *u)
{
    struct transport_result res = { .outcome = HTTP_FATAL };
    atomic_store(&u->job->interrupt, false); /* the interrupt was for the transfer, not this HEAD */
    if (u->link[0])
        u->transport.ops->head(u->transport.ctx, u->link, STOP_HEAD_TIMEOUT, &res);
    if (res.outcome == HTTP_OK && res.length == u->job->size && res.offset >= u->acked) {
        u->acked = res.offset;
        pthread_mutex_lock(&u->e->lock);
        publish_offset(u);
        pthread_mutex_unlock(&u->e->lock);
    }
}

static enum upload_step step_stop(struct upload *u)
{
    struct engine *e = u->e;
    struct job *job = u->job;
    pthread_mutex_lock(&e->lock);
    bool stopping = atomic_load(&e->stopping), cancel = job->want_cancel, delete_video = job->delete_video;
    if (!stopping && !cancel && job->want_pause) {
        job->want_pause = false;
        atomic_store(&job->interrupt, false);
        job->rate = 0;
        job_enter(e, job, ENGINE_PAUSED, job->journal_failed ? job_text(job->error) : NULL);
    } else if (!stopping && !cancel) {
        atomic_store(&job->interrupt, false); /* paused and resumed before we looked */
        pthread_mutex_unlock(&e->lock);
        return u->next;
    }
    pthread_mutex_unlock(&e->lock);
    if (stopping) {
        note_last_offset(u); /* engine_free saves it */
    } else if (cancel && delete_video && !job->replaces) {
        /* The interrupt was for the transfer; the DELETE must go out. */
        atomic_store(&job->interrupt, false);
        struct transport_result res;
        u->transport.ops->remove(u->transport.ctx, u->video, u->link, &res);
        if (res.outcome != HTTP_OK && res.outcome != HTTP_GONE)
            say(u, ENGINE_EV_FAILED, "could not delete %s: %s", u->video[0] ? u->video : u->link, res.error);
    }
    return STEP_END;
}

typedef enum upload_step (*step_fn)(struct upload *u);
static const step_fn steps[] = {
    [STEP_CREATE] = step_create, [STEP_LOCATE] = step_locate, [STEP_SEND] = step_send,
    [STEP_VERIFY] = step_verify, [STEP_CONFIRM] = step_confirm, [STEP_EXPIRE] = step_expire,
    [STEP_WAIT] = step_wait, [STEP_STOP] = step_stop,
};

void upload_run(struct engine *e, struct job *job, const struct transport *t, int fd, unsigned seed)
{
    struct upload u = { .e = e, .job = job, .transport = *t, .fd = fd, .retry_after = -1, .rng = seed };
    pthread_mutex_lock(&e->lock);
    snprintf(u.link, sizeof u.link, "%s", job_text(job->link));
    snprintf(u.video, sizeof u.video, "%s", job->video);
    u.acked = u.high_water = job->acked;
    u.step = u.link[0] ? STEP_LOCATE : STEP_CREATE;
    e->uploads_running++;
    if (!job->started)
        job->started = clock_wall();
    job_enter(e, job, u.link[0] ? ENGINE_UPLOADING : ENGINE_CREATING, NULL);
    pthread_mutex_unlock(&e->lock);
    u.last_saved = u.rate_mark_time = clock_mono();
    u.rate_mark_bytes = u.acked;
    /* Nothing goes out for a job whose journal row cannot be written. A
     * journal that wrote a row within the last second is taken at its word
     * (on many small files this write cost a twentieth of the CPU): should
     * it fail after all, record_new_upload deletes the new video again. */
    char why[ERROR_MAX];
    if (!job_journal_wrote_lately(e) && !job_save_now(e, job, JOB_STATE_CURRENT, why, sizeof why))
        u.step = pause_for_journal(&u, why);
    while (u.step != STEP_END) {
        if (u.step != STEP_STOP && atomic_load(&job->interrupt)) {
            u.next = u.step;
            u.step = STEP_STOP;
        }
        u.step = steps[u.step](&u);
    }
    pthread_mutex_lock(&e->lock);
    /* The last upload ended: confirmations waiting for a batch wait no more. */
    if (!--e->uploads_running && !e->rq_len && e->nconfirm)
        pthread_cond_signal(&e->follow_ready);
    pthread_mutex_unlock(&e->lock);
}
