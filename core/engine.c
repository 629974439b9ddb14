#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bucket.h"
#include "http.h"
#include "journal.h"
#include "tus.h"
#include "units.h"
#include "vimeo.h"
#include "wakeup.h"

enum {
    MAX_WORKERS = 64,
    MAX_RETRIES = 12,          /* consecutive failures without progress before giving up */
    BACKOFF_CAP = 60,          /* seconds */
    RETRY_AFTER_CAP = 600,     /* seconds: a server cannot park us longer */
    SAVE_INTERVAL = 2,         /* seconds between journal saves of the offset */
    STOP_HEAD_TIMEOUT = 1,     /* seconds for the last HEAD when stopping: exit stays prompt */
    PREFLIGHT_TRIES = 3,
};

struct job {
    unsigned id;
    int64_t journal_id;
    int64_t row;               /* the journal row it came from, even when it changes nothing there */
    char *path;                /* absolute */
    const char *name;          /* points into path */
    uint64_t size;
    int64_t mtime_ns;
    uint64_t inode;
    bool verify_only;          /* `verify`: HEAD-check, upload nothing */
    char journal_state[16];    /* verify-only jobs keep the row's own state */

    enum engine_state state;
    bool queued;               /* in the run queue */
    bool running;              /* a worker holds it */
    bool removed;
    bool want_pause, want_cancel, delete_video;
    atomic_bool interrupt;     /* read by the transfer callbacks: stop now */

    atomic_uint_fast64_t sent;
    uint64_t acked, chunk_start;
    double rate, rate_mark_time;
    uint64_t rate_mark_bytes;
    unsigned retries;
    double retry_at;           /* monotonic */

    char video[96];
    char link[HTTP_URL_MAX];
    char error[400];
    char verified[400];
    char note[160];
    double started, finished;
    double last_saved;
};

struct verify_task {
    unsigned job;
    struct verify_task *next;
};

struct engine {
    struct engine_config cfg;
    char *token, *api_base, *tus_endpoint, *state_dir, *name, *description, *privacy, *folder;
    const char *endpoint_key;  /* what the journal keys uploads by */
    struct journal *journal;
    struct http_options http_options;
    struct bucket bucket;

    pthread_mutex_t lock;
    pthread_cond_t cond;       /* work, commands, and the end of workers */
    struct job **jobs;
    size_t njobs, jobs_cap;
    struct job **runq;
    size_t rq_head, rq_len, rq_cap;
    unsigned next_id;
    unsigned target_workers;
    bool worker_alive[MAX_WORKERS];    /* running its loop */
    bool worker_joinable[MAX_WORKERS]; /* started and not yet joined */
    pthread_t workers[MAX_WORKERS];
    bool stopping;

    pthread_t helper;
    bool helper_started, helper_busy;
    struct verify_task *tasks;

    struct engine_event *events;
    size_t nevents, events_cap;

    long api_budget;           /* API calls left in Vimeo's rate-limit window; -1: unknown */
    double api_window_end;     /* monotonic time of the window's reset */
    bool quota_known;
    int64_t quota_free;        /* -1: Vimeo sets no limit we know of */

    struct wakeup wakeup;
    _Atomic double last_progress_wake;
};

struct worker {
    struct engine *e;
    unsigned index;
    struct http *http;
};

static const char *const state_names[] = { "queued", "creating", "uploading", "paused", "retrying",
                                           "verifying", "done", "failed" };
static const char *const event_names[] = { "queued", "created", "progress", "paused", "resumed",
                                           "retry", "verified", "done", "failed", "removed" };

const char *engine_state_name(enum engine_state state)
{
    return state_names[state];
}

const char *engine_event_name(enum engine_event_kind kind)
{
    return event_names[kind];
}

static double wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ---- waking the front end ------------------------------------------------ */

static void wake(struct engine *e)
{
    wakeup_signal(&e->wakeup);
}

int engine_wakeup_fd(struct engine *e)
{
    return wakeup_fd(&e->wakeup);
}

void engine_wakeup_drain(struct engine *e)
{
    wakeup_drain(&e->wakeup);
}

/* Caller holds the lock. */
static void emit(struct engine *e, enum engine_event_kind kind, const struct job *job, const char *fmt, ...)
{
    if (e->nevents == e->events_cap) {
        size_t cap = e->events_cap ? e->events_cap * 2 : 64;
        struct engine_event *more = realloc(e->events, cap * sizeof *more);
        if (!more)
            return; /* an event lost to memory pressure beats a crash */
        e->events = more;
        e->events_cap = cap;
    }
    struct engine_event *ev = &e->events[e->nevents++];
    ev->kind = kind;
    ev->job = job->id;
    ev->time = wall_now();
    ev->message[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ev->message, sizeof ev->message, fmt, ap);
        va_end(ap);
    }
    wake(e);
}

size_t engine_events(struct engine *e, struct engine_event *out, size_t max)
{
    pthread_mutex_lock(&e->lock);
    size_t n = e->nevents < max ? e->nevents : max;
    if (n == 0) {
        pthread_mutex_unlock(&e->lock);
        return 0;
    }
    memcpy(out, e->events, n * sizeof *out);
    memmove(e->events, e->events + n, (e->nevents - n) * sizeof *out);
    e->nevents -= n;
    pthread_mutex_unlock(&e->lock);
    return n;
}

/* ---- journal ------------------------------------------------------------- */

static const char *journal_state_of(const struct job *job)
{
    return job->verify_only ? job->journal_state : state_names[job->state];
}

/* Caller holds the lock (the fields are copied under it); SQLite work is short. */
static void save(struct engine *e, struct job *job)
{
    if (!job->journal_id)
        return;
    struct journal_entry *entry = calloc(1, sizeof *entry);
    if (!entry)
        return;
    entry->id = job->journal_id;
    snprintf(entry->video, sizeof entry->video, "%s", job->video);
    snprintf(entry->upload_link, sizeof entry->upload_link, "%s", job->link);
    entry->acked = job->acked;
    snprintf(entry->state, sizeof entry->state, "%s", job->removed ? "cancelled" : journal_state_of(job));
    snprintf(entry->error, sizeof entry->error, "%s", job->error);
    snprintf(entry->verified, sizeof entry->verified, "%s", job->verified);
    journal_save(e->journal, entry);
    free(entry);
    job->last_saved = bucket_now();
}

/* ---- jobs and the run queue (caller holds the lock) ----------------------- */

static void set_state(struct engine *e, struct job *job, enum engine_state state)
{
    job->state = state;
    if (state == ENGINE_DONE || state == ENGINE_FAILED)
        job->finished = wall_now();
    save(e, job);
    wake(e);
}

static void fail(struct engine *e, struct job *job, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct engine *e, struct job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->error, sizeof job->error, fmt, ap);
    va_end(ap);
    set_state(e, job, ENGINE_FAILED);
    emit(e, ENGINE_EV_FAILED, job, "%s", job->error);
}

static bool runq_push(struct engine *e, struct job *job)
{
    if (job->queued)
        return true;
    if (e->rq_len == e->rq_cap) {
        size_t cap = e->rq_cap ? e->rq_cap * 2 : 64;
        struct job **q = malloc(cap * sizeof *q);
        if (!q)
            return false;
        for (size_t i = 0; i < e->rq_len; i++)
            q[i] = e->runq[(e->rq_head + i) % e->rq_cap];
        free(e->runq);
        e->runq = q;
        e->rq_head = 0;
        e->rq_cap = cap;
    }
    e->runq[(e->rq_head + e->rq_len++) % e->rq_cap] = job;
    job->queued = true;
    pthread_cond_broadcast(&e->cond);
    return true;
}

static struct job *runq_pop(struct engine *e)
{
    while (e->rq_len) {
        struct job *job = e->runq[e->rq_head];
        e->rq_head = (e->rq_head + 1) % e->rq_cap;
        e->rq_len--;
        job->queued = false;
        if (job->state == ENGINE_QUEUED && !job->removed)
            return job;
    }
    return NULL;
}

static struct job *find_job(struct engine *e, unsigned id)
{
    if (id == 0 || id > e->njobs)
        return NULL;
    struct job *job = e->jobs[id - 1];
    return job->removed ? NULL : job;
}

static struct job *new_job(struct engine *e, const char *path)
{
    struct job *job = calloc(1, sizeof *job);
    if (!job || !(job->path = strdup(path))) {
        free(job);
        return NULL;
    }
    if (e->njobs == e->jobs_cap) {
        size_t cap = e->jobs_cap ? e->jobs_cap * 2 : 64;
        struct job **more = realloc(e->jobs, cap * sizeof *more);
        if (!more) {
            free(job->path);
            free(job);
            return NULL;
        }
        e->jobs = more;
        e->jobs_cap = cap;
    }
    const char *slash = strrchr(job->path, '/');
    job->name = slash ? slash + 1 : job->path;
    job->id = ++e->next_id;
    atomic_init(&job->sent, 0);
    atomic_init(&job->interrupt, false);
    e->jobs[e->njobs++] = job;
    return job;
}

/* ---- transfer callbacks (worker thread, no lock) ------------------------- */

struct transfer_ctx {
    struct engine *e;
    struct job *job;
};

static int on_progress(void *ctx, uint64_t sent)
{
    struct transfer_ctx *t = ctx;
    struct job *job = t->job;
    atomic_store(&job->sent, job->chunk_start + sent);
    double now = bucket_now();
    if (now - job->rate_mark_time >= 0.5) {
        pthread_mutex_lock(&t->e->lock);
        uint64_t total = job->chunk_start + sent;
        double inst = (double)(total - job->rate_mark_bytes) / (now - job->rate_mark_time);
        job->rate = job->rate > 0 ? 0.6 * job->rate + 0.4 * inst : inst;
        job->rate_mark_time = now;
        job->rate_mark_bytes = total;
        pthread_mutex_unlock(&t->e->lock);
    }
    /* Progress wakes the front end at most ten times a second in all. */
    double last = atomic_load(&t->e->last_progress_wake);
    if (now - last >= 0.1 && atomic_compare_exchange_strong(&t->e->last_progress_wake, &last, now))
        wake(t->e);
    return atomic_load(&job->interrupt) ? 1 : 0;
}

static bool interrupted(void *ctx)
{
    struct transfer_ctx *t = ctx;
    return atomic_load(&t->job->interrupt);
}

static size_t throttle(void *ctx, size_t want)
{
    struct transfer_ctx *t = ctx;
    return bucket_take(&t->e->bucket, want, interrupted, ctx);
}

/* ---- waiting (worker thread) ---------------------------------------------- */

static void deadline_after(double seconds, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    *ts = units_timespec((double)ts->tv_sec + (double)ts->tv_nsec / 1e9 + seconds);
}

/* Sleep for a retry unless a command for this job, or stop, comes first.
 * Caller holds the lock. Returns false when interrupted. */
static bool wait_for_retry(struct engine *e, struct job *job, double seconds)
{
    struct timespec until;
    deadline_after(seconds, &until);
    job->retry_at = bucket_now() + seconds;
    while (!e->stopping && !job->want_pause && !job->want_cancel) {
        if (pthread_cond_timedwait(&e->cond, &e->lock, &until) == ETIMEDOUT)
            return true;
    }
    return false;
}

static double backoff_seconds(unsigned attempt, long retry_after)
{
    if (retry_after >= 0)
        return retry_after > RETRY_AFTER_CAP ? RETRY_AFTER_CAP : (double)retry_after;
    double base = attempt >= 7 ? BACKOFF_CAP : (double)(1u << (attempt - 1));
    if (base > BACKOFF_CAP)
        base = BACKOFF_CAP;
    /* Jitter in [0.5, 1) keeps many clients from retrying in lockstep. */
    return base * (0.5 + 0.5 * ((double)(rand() % 1000) / 1000.0));
}

/* ---- the upload of one job (worker thread) -------------------------------- */

enum step { STEP_GO_ON, STEP_STOP };

/* A retryable failure: count it, wait, and say whether to go on. Lock held. */
static enum step retry_later(struct engine *e, struct job *job, const char *error, long retry_after)
{
    job->retries++;
    if (job->retries > MAX_RETRIES) {
        fail(e, job, "gave up after %d retries: %s", MAX_RETRIES, error);
        return STEP_STOP;
    }
    double wait = backoff_seconds(job->retries, retry_after);
    snprintf(job->error, sizeof job->error, "%s", error);
    set_state(e, job, ENGINE_RETRYING);
    emit(e, ENGINE_EV_RETRY, job, "%s; retry %u in %.1f s", error, job->retries, wait);
    wait_for_retry(e, job, wait);
    return STEP_GO_ON;
}

/* The file must be what it was when queued: same size, same mtime. */
static bool file_unchanged(struct job *job, int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && (uint64_t)st.st_size == job->size &&
           (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec == job->mtime_ns;
}

static void vimeo_api_for(struct engine *e, struct worker *w, struct vimeo_api *api)
{
    *api = (struct vimeo_api){ .http = w->http, .base = e->api_base, .token = e->token };
}

/* Vimeo's rate limit, kept as a budget: each answer says how many calls are
 * left until the reset, each call reserves one before it goes out, and an
 * empty budget waits for the reset. Workers calling at once cannot overrun
 * the window this way, as they would if they only reacted to answers. */
static void note_rate_limit(struct engine *e, const struct vimeo_result *r)
{
    if (r->ratelimit_remaining < 0 || r->ratelimit_reset_in < 0)
        return;
    /* The reset is given to the second: round up, never early. */
    double window_end = bucket_now() + (double)r->ratelimit_reset_in + 1.0;
    pthread_mutex_lock(&e->lock);
    if (e->api_budget < 0 || window_end > e->api_window_end + 1.5) {
        e->api_budget = r->ratelimit_remaining; /* a new window */
        e->api_window_end = window_end;
    } else if (r->ratelimit_remaining < e->api_budget) {
        e->api_budget = r->ratelimit_remaining;
    }
    pthread_mutex_unlock(&e->lock);
}

/* Reserve one API call for job, waiting for the reset when none is left.
 * Gives up early on pause, cancel or stop. Lock not held. */
static void wait_for_api(struct engine *e, struct job *job)
{
    pthread_mutex_lock(&e->lock);
    while (!e->stopping && !(job && (job->want_pause || job->want_cancel))) {
        if (e->api_budget >= 0 && bucket_now() >= e->api_window_end)
            e->api_budget = -1; /* the window is over; the next answer says more */
        if (e->api_budget != 0) {
            if (e->api_budget > 0)
                e->api_budget--;
            break;
        }
        struct timespec until;
        deadline_after(e->api_window_end - bucket_now(), &until);
        pthread_cond_timedwait(&e->cond, &e->lock, &until);
    }
    pthread_mutex_unlock(&e->lock);
}

/* Create a new upload for job: on Vimeo a video, else a tus upload. */
static enum step create_upload(struct engine *e, struct worker *w, struct job *job)
{
    pthread_mutex_lock(&e->lock);
    set_state(e, job, ENGINE_CREATING);
    bool check_quota = !e->tus_endpoint && !e->quota_known;
    pthread_mutex_unlock(&e->lock);

    char link[HTTP_URL_MAX] = "", video[96] = "", error[400] = "";
    enum http_outcome outcome;
    long retry_after = -1;
    if (e->tus_endpoint) {
        struct tus_result r;
        tus_create(w->http, e->tus_endpoint, job->size, e->name ? e->name : job->name, link, sizeof link, &r);
        outcome = r.outcome;
        retry_after = r.retry_after;
        snprintf(error, sizeof error, "%s", r.error);
    } else {
        struct vimeo_api api;
        struct vimeo_result r;
        vimeo_api_for(e, w, &api);
        if (check_quota) {
            int64_t free_bytes;
            wait_for_api(e, job);
            vimeo_quota(&api, &free_bytes, &r);
            note_rate_limit(e, &r);
            pthread_mutex_lock(&e->lock);
            if (r.outcome == HTTP_OK && !e->quota_known) {
                e->quota_known = true;
                e->quota_free = free_bytes;
            }
            pthread_mutex_unlock(&e->lock);
        }
        pthread_mutex_lock(&e->lock);
        bool too_big = e->quota_known && e->quota_free >= 0 && job->size > (uint64_t)e->quota_free;
        int64_t quota_free = e->quota_free;
        if (!too_big && e->quota_known && e->quota_free >= 0)
            e->quota_free -= (int64_t)job->size;
        pthread_mutex_unlock(&e->lock);
        if (too_big) {
            pthread_mutex_lock(&e->lock);
            fail(e, job, "%s (%" PRIu64 " bytes) is larger than the free upload quota (%" PRId64 " bytes)",
                 job->path, job->size, quota_free);
            pthread_mutex_unlock(&e->lock);
            return STEP_STOP;
        }
        struct vimeo_video_meta meta = { .name = e->name ? e->name : job->name, .description = e->description,
                                         .privacy = e->privacy, .folder = e->folder };
        struct vimeo_upload up;
        wait_for_api(e, job);
        vimeo_create(&api, job->size, &meta, &up, &r);
        note_rate_limit(e, &r);
        outcome = r.outcome;
        retry_after = r.retry_after;
        snprintf(error, sizeof error, "%s", r.error);
        if (outcome == HTTP_OK) {
            snprintf(link, sizeof link, "%s", up.upload_link);
            snprintf(video, sizeof video, "%s", up.uri);
        }
    }

    pthread_mutex_lock(&e->lock);
    enum step step = STEP_GO_ON;
    if (outcome == HTTP_OK) {
        snprintf(job->link, sizeof job->link, "%s", link);
        snprintf(job->video, sizeof job->video, "%s", video);
        job->acked = 0;
        atomic_store(&job->sent, 0);
        job->error[0] = '\0';
        set_state(e, job, ENGINE_UPLOADING);
        emit(e, ENGINE_EV_CREATED, job, "%s", video[0] ? video : link);
    } else if (outcome == HTTP_RETRY) {
        step = retry_later(e, job, error, retry_after);
    } else if (outcome != HTTP_ABORTED) {
        fail(e, job, "%s: %s", job->path, error);
        step = STEP_STOP;
    }
    pthread_mutex_unlock(&e->lock);
    return step;
}

/* The link is gone (404/410): forget it, delete the stale video, start again. */
static void drop_expired(struct engine *e, struct worker *w, struct job *job)
{
    char stale[96];
    pthread_mutex_lock(&e->lock);
    snprintf(stale, sizeof stale, "%s", job->video);
    emit(e, ENGINE_EV_RETRY, job, "upload link expired; starting a new upload");
    job->link[0] = job->video[0] = '\0';
    job->acked = 0;
    save(e, job);
    pthread_mutex_unlock(&e->lock);
    if (stale[0] && !e->tus_endpoint) {
        struct vimeo_api api;
        struct vimeo_result r;
        vimeo_api_for(e, w, &api);
        vimeo_delete(&api, stale, &r); /* best effort: the new upload matters, not the old */
    }
}

/* HEAD: where is the upload? Returns the outcome; sets acked on success. */
static enum http_outcome locate(struct engine *e, struct worker *w, struct job *job, struct tus_result *r)
{
    tus_head(w->http, job->link, 0, r);
    if (r->outcome == HTTP_OK && r->length != job->size) {
        r->outcome = HTTP_FATAL;
        snprintf(r->error, sizeof r->error, "server says the upload is %" PRIu64 " bytes, the file is %" PRIu64,
                 r->length, job->size);
    }
    if (r->outcome == HTTP_OK) {
        pthread_mutex_lock(&e->lock);
        job->acked = r->offset;
        atomic_store(&job->sent, r->offset);
        pthread_mutex_unlock(&e->lock);
    }
    return r->outcome;
}

/* Verified: HEAD says offset == length == size; Vimeo's upload.status is recorded too. */
/* Vimeo's upload.status of the job's video into out ("" when there is no
 * video or no answer); false when it could not be asked. */
static bool ask_upload_status(struct engine *e, struct worker *w, struct job *job, char *out, size_t cap)
{
    char transcode[32];
    out[0] = '\0';
    if (e->tus_endpoint || !job->video[0])
        return false;
    struct vimeo_api api;
    struct vimeo_result r;
    vimeo_api_for(e, w, &api);
    wait_for_api(e, job);
    vimeo_status(&api, job->video, out, transcode, cap < sizeof transcode ? cap : sizeof transcode, &r);
    note_rate_limit(e, &r);
    return r.outcome == HTTP_OK;
}

static void record_verified(struct engine *e, struct worker *w, struct job *job, const struct tus_result *head)
{
    char upload_status[32];
    ask_upload_status(e, w, job, upload_status, sizeof upload_status);
    pthread_mutex_lock(&e->lock);
    snprintf(job->verified, sizeof job->verified, "complete: offset = length = %" PRIu64 "%s%s", head->offset,
             upload_status[0] ? "; Vimeo upload.status " : "", upload_status);
    pthread_mutex_unlock(&e->lock);
}

/* Every byte was acknowledged but the link is gone now: Vimeo may expire a
 * link once it has the whole file. Its own word that the upload is complete
 * is proof enough; starting again would make a second video. */
static bool vimeo_says_complete(struct engine *e, struct worker *w, struct job *job)
{
    char upload_status[32];
    if (!ask_upload_status(e, w, job, upload_status, sizeof upload_status) || strcmp(upload_status, "complete"))
        return false;
    pthread_mutex_lock(&e->lock);
    snprintf(job->verified, sizeof job->verified,
             "complete: Vimeo upload.status complete (the upload link expired after the last byte)");
    pthread_mutex_unlock(&e->lock);
    return true;
}

static enum step handle_abort(struct engine *e, struct worker *w, struct job *job);

static void run_upload(struct engine *e, struct worker *w, struct job *job, int fd)
{
    struct transfer_ctx ctx = { e, job };
    bool need_head = job->link[0] != '\0';
    for (;;) {
        if (atomic_load(&job->interrupt)) {
            if (handle_abort(e, w, job) == STEP_STOP)
                return;
            continue;
        }
        if (!file_unchanged(job, fd)) {
            pthread_mutex_lock(&e->lock);
            fail(e, job, "%s changed during the upload (size or modification time differs); not resumed", job->path);
            pthread_mutex_unlock(&e->lock);
            return;
        }
        if (!job->link[0]) {
            if (create_upload(e, w, job) == STEP_STOP)
                return;
            need_head = false;
            continue;
        }
        struct tus_result r;
        if (need_head) {
            enum http_outcome o = locate(e, w, job, &r);
            if (o == HTTP_GONE) {
                drop_expired(e, w, job);
                continue;
            }
            if (o == HTTP_ABORTED)
                continue;
            pthread_mutex_lock(&e->lock);
            enum step step = STEP_GO_ON;
            if (o == HTTP_RETRY || o == HTTP_CONFLICT)
                step = retry_later(e, job, r.error, r.retry_after);
            else if (o == HTTP_FATAL)
                fail(e, job, "%s: %s", job->path, r.error), step = STEP_STOP;
            else if (job->state != ENGINE_UPLOADING)
                set_state(e, job, ENGINE_UPLOADING);
            pthread_mutex_unlock(&e->lock);
            if (step == STEP_STOP)
                return;
            if (o != HTTP_OK)
                continue;
            need_head = false;
        }
        if (job->acked >= job->size) {
            /* Every byte acknowledged: prove it with a HEAD of its own. */
            pthread_mutex_lock(&e->lock);
            set_state(e, job, ENGINE_VERIFYING);
            pthread_mutex_unlock(&e->lock);
            enum http_outcome o = locate(e, w, job, &r);
            bool whole = o == HTTP_OK && r.offset == r.length && r.length == job->size;
            if (file_unchanged(job, fd) && (whole || (o == HTTP_GONE && vimeo_says_complete(e, w, job)))) {
                if (whole)
                    record_verified(e, w, job, &r);
                pthread_mutex_lock(&e->lock);
                job->error[0] = '\0';
                emit(e, ENGINE_EV_VERIFIED, job, "%s", job->verified);
                set_state(e, job, ENGINE_DONE);
                emit(e, ENGINE_EV_DONE, job, "%s", job->video[0] ? job->video : job->link);
                pthread_mutex_unlock(&e->lock);
                return;
            }
            need_head = o != HTTP_OK;
            if (o == HTTP_GONE) {
                drop_expired(e, w, job);
                continue;
            }
            if (o == HTTP_FATAL) {
                pthread_mutex_lock(&e->lock);
                fail(e, job, "%s: verification failed: %s", job->path, r.error);
                pthread_mutex_unlock(&e->lock);
                return;
            }
            if (o == HTTP_RETRY) {
                pthread_mutex_lock(&e->lock);
                enum step step = retry_later(e, job, r.error, r.retry_after);
                pthread_mutex_unlock(&e->lock);
                if (step == STEP_STOP)
                    return;
            }
            continue; /* the server has fewer bytes than we thought: send the rest */
        }

        uint64_t left = job->size - job->acked;
        uint64_t length = e->cfg.chunk_size && e->cfg.chunk_size < left ? e->cfg.chunk_size : left;
        job->chunk_start = job->acked;
        job->rate_mark_time = bucket_now();
        job->rate_mark_bytes = job->acked;
        tus_patch(w->http, job->link, fd, job->acked, length, on_progress, throttle, &ctx, &r);
        pthread_mutex_lock(&e->lock);
        enum step step = STEP_GO_ON;
        switch (r.outcome) {
        case HTTP_OK:
            job->acked = r.offset;
            atomic_store(&job->sent, r.offset);
            job->retries = 0; /* progress resets the count */
            if (job->state != ENGINE_UPLOADING)
                set_state(e, job, ENGINE_UPLOADING);
            else if (bucket_now() - job->last_saved >= SAVE_INTERVAL || job->acked == job->size)
                save(e, job);
            wake(e);
            break;
        case HTTP_CONFLICT:
            need_head = true;
            break;
        case HTTP_GONE:
            break;
        case HTTP_RETRY:
            need_head = true;
            step = retry_later(e, job, r.error, r.retry_after);
            break;
        case HTTP_ABORTED:
            need_head = true;
            break;
        case HTTP_FATAL:
            fail(e, job, "%s: %s", job->path, r.error);
            step = STEP_STOP;
            break;
        }
        pthread_mutex_unlock(&e->lock);
        if (r.outcome == HTTP_GONE)
            drop_expired(e, w, job);
        if (step == STEP_STOP)
            return;
    }
}

/* Delete what a cancelled job made, if asked: the video, or the tus upload. */
static void delete_remote(struct engine *e, struct http *http, const char *video, const char *link)
{
    if (!e->tus_endpoint && video[0]) {
        struct vimeo_api api = { .http = http, .base = e->api_base, .token = e->token };
        struct vimeo_result r;
        vimeo_delete(&api, video, &r);
    } else if (link[0]) {
        struct tus_result r;
        tus_delete(http, link, &r);
    }
}

/* The transfer was interrupted on purpose: stop, pause or cancel. */
static enum step handle_abort(struct engine *e, struct worker *w, struct job *job)
{
    pthread_mutex_lock(&e->lock);
    if (e->stopping) {
        /* The server may hold more than it acknowledged before the abort:
         * ask it briefly, so the journal shows what really arrived. */
        char link[HTTP_URL_MAX];
        snprintf(link, sizeof link, "%s", job->link);
        pthread_mutex_unlock(&e->lock);
        struct tus_result r = { .outcome = HTTP_FATAL };
        if (link[0])
            tus_head(w->http, link, STOP_HEAD_TIMEOUT, &r);
        pthread_mutex_lock(&e->lock);
        if (r.outcome == HTTP_OK && r.length == job->size && r.offset >= job->acked)
            job->acked = r.offset;
        save(e, job);
        pthread_mutex_unlock(&e->lock);
        return STEP_STOP;
    }
    if (job->want_cancel) {
        bool delete_video = job->delete_video;
        char video[96], link[HTTP_URL_MAX];
        snprintf(video, sizeof video, "%s", job->video);
        snprintf(link, sizeof link, "%s", job->link);
        job->removed = true; /* before the save: the row must say cancelled, or resume would bring it back */
        save(e, job);
        pthread_mutex_unlock(&e->lock);
        if (delete_video)
            delete_remote(e, w->http, video, link);
        return STEP_STOP;
    }
    if (job->want_pause) {
        job->want_pause = false;
        atomic_store(&job->interrupt, false);
        job->rate = 0;
        set_state(e, job, ENGINE_PAUSED);
        emit(e, ENGINE_EV_PAUSED, job, NULL);
        pthread_mutex_unlock(&e->lock);
        return STEP_STOP;
    }
    atomic_store(&job->interrupt, false);
    pthread_mutex_unlock(&e->lock);
    return STEP_GO_ON;
}

/* `verify`: HEAD the upload, and on Vimeo read upload.status when the link is gone. */
static void run_verify_only(struct engine *e, struct worker *w, struct job *job)
{
    struct tus_result r = { 0 };
    char status[32] = "", transcode[32] = "";
    bool complete = false;
    char result[400];
    if (job->link[0]) {
        tus_head(w->http, job->link, 0, &r);
        complete = r.outcome == HTTP_OK && r.offset == r.length && r.length == job->size;
    }
    if (complete) {
        snprintf(result, sizeof result, "complete: offset = length = %" PRIu64, r.offset);
    } else if ((!job->link[0] || r.outcome == HTTP_GONE) && job->video[0] && !e->tus_endpoint) {
        /* Vimeo drops finished links; its API still knows the upload's fate. */
        struct vimeo_api api;
        struct vimeo_result vr;
        vimeo_api_for(e, w, &api);
        vimeo_status(&api, job->video, status, transcode, sizeof status, &vr);
        complete = vr.outcome == HTTP_OK && !strcmp(status, "complete");
        if (vr.outcome == HTTP_OK)
            snprintf(result, sizeof result, "%s: Vimeo upload.status %s", complete ? "complete" : "incomplete",
                     status[0] ? status : "unknown");
        else
            snprintf(result, sizeof result, "cannot verify: %.300s", vr.error);
    } else if (!job->link[0]) {
        snprintf(result, sizeof result, "never created on the server");
    } else if (r.outcome == HTTP_OK) {
        snprintf(result, sizeof result, "incomplete: offset %" PRIu64 " of length %" PRIu64 " (file %" PRIu64 ")",
                 r.offset, r.length, job->size);
    } else {
        snprintf(result, sizeof result, "cannot verify: %s", r.error);
    }
    pthread_mutex_lock(&e->lock);
    snprintf(job->verified, sizeof job->verified, "%s", result);
    emit(e, ENGINE_EV_VERIFIED, job, "%s", result);
    if (complete) {
        set_state(e, job, ENGINE_DONE);
        emit(e, ENGINE_EV_DONE, job, "%s", job->video[0] ? job->video : job->link);
    } else {
        fail(e, job, "%s: %s", job->path, result);
    }
    pthread_mutex_unlock(&e->lock);
}

static void run_job(struct engine *e, struct worker *w, struct job *job)
{
    if (job->verify_only) {
        run_verify_only(e, w, job);
        return;
    }
    int fd = open(job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pthread_mutex_lock(&e->lock);
        fail(e, job, "%s: %s", job->path, strerror(errno));
        pthread_mutex_unlock(&e->lock);
        return;
    }
    pthread_mutex_lock(&e->lock);
    if (!job->started)
        job->started = wall_now();
    if (job->state == ENGINE_QUEUED)
        set_state(e, job, job->link[0] ? ENGINE_UPLOADING : ENGINE_CREATING);
    pthread_mutex_unlock(&e->lock);
    run_upload(e, w, job, fd);
    close(fd);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct engine *e = w->e;
    w->http = http_new(&e->http_options);
    pthread_mutex_lock(&e->lock);
    for (;;) {
        struct job *job = NULL;
        while (!e->stopping && w->index < e->target_workers && w->http && !(job = runq_pop(e)))
            pthread_cond_wait(&e->cond, &e->lock);
        if (!job)
            break;
        job->running = true;
        pthread_mutex_unlock(&e->lock);
        run_job(e, w, job);
        pthread_mutex_lock(&e->lock);
        job->running = false;
        if (job->want_cancel)
            job->removed = true;
        pthread_cond_broadcast(&e->cond);
        wake(e);
    }
    e->worker_alive[w->index] = false;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    /* Still ours after this: the handle. engine_free() joins us, so curl's
     * global cleanup can never run before this. */
    http_free(w->http);
    free(w);
    return NULL;
}

/* Caller holds the lock. */
static void start_workers(struct engine *e)
{
    /* Workers must not take the program's signals: the front end handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; i < e->target_workers && i < MAX_WORKERS; i++) {
        if (e->worker_alive[i])
            continue;
        if (e->worker_joinable[i]) {
            /* A worker that left when the pool shrank: it needs the lock no
             * more, so joining it here cannot deadlock. */
            pthread_join(e->workers[i], NULL);
            e->worker_joinable[i] = false;
        }
        struct worker *w = calloc(1, sizeof *w);
        if (!w)
            break;
        w->e = e;
        w->index = i;
        if (pthread_create(&e->workers[i], NULL, worker_main, w) != 0) {
            free(w);
            break;
        }
        e->worker_alive[i] = e->worker_joinable[i] = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- the helper: verify-now and deletes of idle cancelled jobs ------------ */

static void *helper_main(void *arg)
{
    struct engine *e = arg;
    struct http *http = http_new(&e->http_options);
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!e->stopping && !e->tasks)
            pthread_cond_wait(&e->cond, &e->lock);
        if (e->stopping || !http)
            break;
        struct verify_task *task = e->tasks;
        e->tasks = task->next;
        struct job *job = find_job(e, task->job);
        free(task);
        if (!job || !job->link[0]) {
            if (job) {
                snprintf(job->verified, sizeof job->verified, "nothing to verify yet: no upload created");
                emit(e, ENGINE_EV_VERIFIED, job, "%s", job->verified);
            }
            continue;
        }
        char link[HTTP_URL_MAX];
        uint64_t size = job->size;
        snprintf(link, sizeof link, "%s", job->link);
        e->helper_busy = true;
        pthread_mutex_unlock(&e->lock);
        struct tus_result r;
        tus_head(http, link, 0, &r);
        pthread_mutex_lock(&e->lock);
        e->helper_busy = false;
        if (r.outcome != HTTP_OK)
            snprintf(job->verified, sizeof job->verified, "cannot verify: %s", r.error);
        else if (r.offset == r.length && r.length == size)
            snprintf(job->verified, sizeof job->verified, "complete: offset = length = %" PRIu64, r.offset);
        else
            snprintf(job->verified, sizeof job->verified,
                     "incomplete: offset %" PRIu64 " of length %" PRIu64 " (file %" PRIu64 ")", r.offset, r.length,
                     size);
        save(e, job);
        emit(e, ENGINE_EV_VERIFIED, job, "%s", job->verified);
    }
    while (e->tasks) {
        struct verify_task *t = e->tasks;
        e->tasks = t->next;
        free(t);
    }
    pthread_mutex_unlock(&e->lock);
    http_free(http);
    return NULL;
}

/* ---- construction -------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct engine *engine_new(const struct engine_config *config, char *err, size_t cap)
{
    char why[96];
    const char *endpoint = config->tus_endpoint ? config->tus_endpoint : config->api_base;
    if (!http_url_allowed(endpoint, why, sizeof why)) {
        snprintf(err, cap, "%s: %s: %s", config->tus_endpoint ? "--tus-endpoint" : "API URL", endpoint, why);
        return NULL;
    }
    struct engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    e->cfg = *config;
    e->token = dup_or_null(config->token);
    e->api_base = dup_or_null(config->api_base);
    e->tus_endpoint = dup_or_null(config->tus_endpoint);
    e->state_dir = dup_or_null(config->state_dir);
    e->name = dup_or_null(config->name);
    e->description = dup_or_null(config->description);
    e->privacy = dup_or_null(config->privacy);
    e->folder = dup_or_null(config->folder);
    size_t base_len = e->api_base ? strlen(e->api_base) : 0;
    while (base_len && e->api_base[base_len - 1] == '/')
        e->api_base[--base_len] = '\0';
    e->endpoint_key = e->tus_endpoint ? e->tus_endpoint : e->api_base;
    e->http_options = (struct http_options){ .connect_timeout = 20, .low_speed_limit = 1024,
                                             .low_speed_time = config->stall_seconds > 0 ? config->stall_seconds : 30,
                                             .api_timeout = 120 };
    e->api_budget = -1;
    e->target_workers = config->workers ? (config->workers > MAX_WORKERS ? MAX_WORKERS : config->workers) : 4;
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cond, &ca);
    pthread_condattr_destroy(&ca);
    bucket_init(&e->bucket, config->rate_limit);
    atomic_init(&e->last_progress_wake, 0.0);
    e->wakeup.fd[0] = e->wakeup.fd[1] = -1;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());

    if (!e->api_base || !wakeup_init(&e->wakeup)) {
        snprintf(err, cap, "cannot start: %s", strerror(errno));
        engine_free(e);
        return NULL;
    }
    e->journal = journal_open(e->state_dir, err, cap);
    if (!e->journal) {
        engine_free(e);
        return NULL;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    e->helper_started = pthread_create(&e->helper, NULL, helper_main, e) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_lock(&e->lock);
    start_workers(e);
    pthread_mutex_unlock(&e->lock);
    return e;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    for (size_t i = 0; i < e->njobs; i++)
        atomic_store(&e->jobs[i]->interrupt, true);
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    for (unsigned i = 0; i < MAX_WORKERS; i++)
        if (e->worker_joinable[i])
            pthread_join(e->workers[i], NULL);
    if (e->helper_started)
        pthread_join(e->helper, NULL);
    for (size_t i = 0; i < e->njobs; i++) {
        struct job *job = e->jobs[i];
        if (e->journal && job->journal_id) {
            if (!job->verify_only && job->state != ENGINE_DONE && job->state != ENGINE_FAILED && !job->removed)
                save(e, job);
            journal_release(e->journal, job->journal_id);
        }
        free(job->path);
        free(job);
    }
    journal_close(e->journal);
    free(e->jobs);
    free(e->runq);
    free(e->events);
    wakeup_close(&e->wakeup);
    bucket_destroy(&e->bucket);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->lock);
    if (e->token)
        memset(e->token, 0, strlen(e->token));
    free(e->token);
    free(e->api_base);
    free(e->tus_endpoint);
    free(e->state_dir);
    free(e->name);
    free(e->description);
    free(e->privacy);
    free(e->folder);
    free(e);
}

bool engine_check_api(struct engine *e, char *err, size_t cap)
{
    if (e->tus_endpoint)
        return true;
    struct http *http = http_new(&e->http_options);
    if (!http)
        return snprintf(err, cap, "out of memory"), false;
    struct vimeo_api api = { .http = http, .base = e->api_base, .token = e->token };
    struct vimeo_result r;
    int64_t free_bytes;
    /* A passing 5xx or 429 should not stop a run before it starts. */
    for (int attempt = 1;; attempt++) {
        vimeo_quota(&api, &free_bytes, &r);
        note_rate_limit(e, &r);
        if (r.outcome != HTTP_RETRY || r.status == 0 || attempt == PREFLIGHT_TRIES)
            break;
        double wait = backoff_seconds((unsigned)attempt, r.retry_after);
        struct timespec ts = units_timespec(wait);
        nanosleep(&ts, NULL);
    }
    http_free(http);
    if (r.outcome != HTTP_OK)
        return snprintf(err, cap, "%s", r.error), false;
    pthread_mutex_lock(&e->lock);
    e->quota_known = true;
    e->quota_free = free_bytes;
    pthread_mutex_unlock(&e->lock);
    return true;
}

/* ---- adding work --------------------------------------------------------- */

static bool absolute_path(const char *path, char *out, size_t cap)
{
    if (path[0] == '/')
        return snprintf(out, cap, "%s", path) < (int)cap;
    char cwd[PATH_MAX];
    return getcwd(cwd, sizeof cwd) && snprintf(out, cap, "%s/%s", cwd, path) < (int)cap;
}

unsigned engine_add(struct engine *e, const char *path, char *err, size_t cap)
{
    char abs[PATH_MAX];
    struct stat st;
    if (!absolute_path(path, abs, sizeof abs))
        return snprintf(err, cap, "%s: path too long", path), 0;
    if (stat(abs, &st) != 0)
        return snprintf(err, cap, "%s: %s", path, strerror(errno)), 0;
    if (S_ISDIR(st.st_mode))
        return snprintf(err, cap, "%s: is a directory", path), 0;
    if (!S_ISREG(st.st_mode))
        return snprintf(err, cap, "%s: not a regular file", path), 0;
    if (st.st_size == 0)
        return snprintf(err, cap, "%s: empty file (Vimeo cannot take 0 bytes)", path), 0;
    if (access(abs, R_OK) != 0)
        return snprintf(err, cap, "%s: %s", path, strerror(errno)), 0;

    struct journal_key key = { .path = abs, .size = (uint64_t)st.st_size,
                               .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                               .inode = (uint64_t)st.st_ino, .endpoint = e->endpoint_key };
    struct journal_entry *entry = malloc(sizeof *entry);
    if (!entry)
        return snprintf(err, cap, "out of memory"), 0;
    enum journal_claim claim = journal_claim(e->journal, &key, e->cfg.again, entry);
    if (claim == JOURNAL_BUSY || claim == JOURNAL_ERROR) {
        snprintf(err, cap, claim == JOURNAL_BUSY ? "%s: being uploaded by another vimeo-up process"
                                                 : "%s: the journal cannot record it", path);
        free(entry);
        return 0;
    }
    pthread_mutex_lock(&e->lock);
    /* The same file twice (overlapping globs, or added again from the
     * dashboard): one job, or two workers would share one upload. */
    for (size_t i = 0; i < e->njobs; i++) {
        if (!e->jobs[i]->removed && !e->jobs[i]->verify_only && e->jobs[i]->row == entry->id) {
            unsigned id = e->jobs[i]->id;
            pthread_mutex_unlock(&e->lock);
            free(entry);
            return id;
        }
    }
    struct job *job = new_job(e, abs);
    if (!job) {
        pthread_mutex_unlock(&e->lock);
        free(entry);
        return snprintf(err, cap, "out of memory"), 0;
    }
    job->journal_id = job->row = entry->id;
    job->size = key.size;
    job->mtime_ns = key.mtime_ns;
    job->inode = key.inode;
    snprintf(job->video, sizeof job->video, "%s", entry->video);
    snprintf(job->link, sizeof job->link, "%s", entry->upload_link);
    snprintf(job->verified, sizeof job->verified, "%s", entry->verified);
    job->acked = entry->acked;
    atomic_store(&job->sent, entry->acked);
    if (claim == JOURNAL_ALREADY_DONE) {
        snprintf(job->note, sizeof job->note, "already uploaded as %.120s",
                 entry->video[0] ? entry->video : entry->upload_link);
        job->state = ENGINE_DONE;
        job->journal_id = 0; /* this run changes nothing in that row */
        job->finished = wall_now();
        emit(e, ENGINE_EV_DONE, job, "%s", job->note);
    } else {
        job->state = ENGINE_QUEUED;
        emit(e, ENGINE_EV_QUEUED, job, NULL);
        runq_push(e, job);
    }
    unsigned id = job->id;
    pthread_mutex_unlock(&e->lock);
    free(entry);
    return id;
}

struct unfinished_ctx {
    struct engine *e;
    unsigned added;
};

static void add_unfinished_row(void *arg, const struct journal_entry *row)
{
    struct unfinished_ctx *ctx = arg;
    struct engine *e = ctx->e;
    if (strcmp(row->endpoint, e->endpoint_key) != 0)
        return; /* uploads to another endpoint are resumed with that endpoint */
    struct journal_entry *entry = malloc(sizeof *entry);
    if (!entry || journal_claim_id(e->journal, row->id, entry) != JOURNAL_CLAIMED) {
        free(entry);
        return;
    }
    struct stat st;
    bool same = stat(entry->path, &st) == 0 && (uint64_t)st.st_size == entry->size &&
                (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec == entry->mtime_ns;
    pthread_mutex_lock(&e->lock);
    struct job *job = new_job(e, entry->path);
    if (job) {
        job->journal_id = job->row = entry->id;
        job->size = entry->size;
        job->mtime_ns = entry->mtime_ns;
        job->inode = entry->inode;
        snprintf(job->video, sizeof job->video, "%s", entry->video);
        snprintf(job->link, sizeof job->link, "%s", entry->upload_link);
        job->acked = entry->acked;
        atomic_store(&job->sent, entry->acked);
        ctx->added++;
        if (!same) {
            fail(e, job, "%s %s since the upload started; not resumed", entry->path,
                 errno == ENOENT ? "is gone" : "changed");
        } else {
            job->state = ENGINE_QUEUED;
            emit(e, ENGINE_EV_QUEUED, job, NULL);
            runq_push(e, job);
        }
    }
    pthread_mutex_unlock(&e->lock);
    free(entry);
}

unsigned engine_add_unfinished(struct engine *e)
{
    struct unfinished_ctx ctx = { e, 0 };
    journal_each(e->journal, true, add_unfinished_row, &ctx);
    return ctx.added;
}

struct verify_ctx {
    struct engine *e;
    const char *want;     /* a path or a /videos/N; NULL for all */
    char abs[PATH_MAX];
    unsigned added, last_match;
    int64_t latest;
    struct journal_entry *match;
};

static void add_verify_job(struct engine *e, const struct journal_entry *row)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = new_job(e, row->path);
    if (job) {
        job->verify_only = true;
        job->journal_id = row->id;
        job->size = row->size;
        job->mtime_ns = row->mtime_ns;
        snprintf(job->journal_state, sizeof job->journal_state, "%s", row->state);
        snprintf(job->video, sizeof job->video, "%s", row->video);
        snprintf(job->link, sizeof job->link, "%s", row->upload_link);
        job->acked = row->acked;
        atomic_store(&job->sent, row->acked);
        job->state = ENGINE_QUEUED;
        runq_push(e, job);
    }
    pthread_mutex_unlock(&e->lock);
}

static void match_verify_row(void *arg, const struct journal_entry *row)
{
    struct verify_ctx *ctx = arg;
    if (!strcmp(row->state, "cancelled"))
        return;
    if (!ctx->want) {
        add_verify_job(ctx->e, row);
        ctx->added++;
    } else if ((!strcmp(row->video, ctx->want) || !strcmp(row->path, ctx->abs)) && row->id > ctx->latest) {
        ctx->latest = row->id;
        *ctx->match = *row;
    }
}

unsigned engine_add_verify(struct engine *e, const char *path_or_uri, char *err, size_t cap)
{
    struct verify_ctx ctx = { .e = e, .want = path_or_uri };
    if (!absolute_path(path_or_uri, ctx.abs, sizeof ctx.abs))
        ctx.abs[0] = '\0';
    ctx.match = malloc(sizeof *ctx.match);
    if (!ctx.match)
        return snprintf(err, cap, "out of memory"), 0;
    journal_each(e->journal, false, match_verify_row, &ctx);
    unsigned id = 0;
    if (!ctx.latest) {
        snprintf(err, cap, "%s: not in the journal", path_or_uri);
    } else {
        add_verify_job(e, ctx.match);
        pthread_mutex_lock(&e->lock);
        id = e->jobs[e->njobs - 1]->id;
        pthread_mutex_unlock(&e->lock);
    }
    free(ctx.match);
    return id;
}

unsigned engine_add_verify_all(struct engine *e)
{
    struct verify_ctx ctx = { .e = e };
    journal_each(e->journal, false, match_verify_row, &ctx);
    return ctx.added;
}

/* ---- commands ------------------------------------------------------------ */

static void pause_job(struct engine *e, struct job *job)
{
    switch (job->state) {
    case ENGINE_QUEUED:
        set_state(e, job, ENGINE_PAUSED);
        emit(e, ENGINE_EV_PAUSED, job, NULL);
        break;
    case ENGINE_CREATING: case ENGINE_UPLOADING: case ENGINE_RETRYING: case ENGINE_VERIFYING:
        if (job->running && !job->verify_only) {
            job->want_pause = true;
            atomic_store(&job->interrupt, true);
            pthread_cond_broadcast(&e->cond);
        }
        break;
    default:
        break;
    }
}

static void resume_job(struct engine *e, struct job *job)
{
    if (job->state == ENGINE_PAUSED || (job->state == ENGINE_FAILED && !job->verify_only && job->link[0])) {
        job->want_pause = false;
        job->retries = 0;
        job->error[0] = '\0';
        atomic_store(&job->interrupt, false);
        set_state(e, job, ENGINE_QUEUED);
        emit(e, ENGINE_EV_RESUMED, job, NULL);
        runq_push(e, job);
    } else if (job->want_pause) {
        job->want_pause = false; /* paused and resumed before the worker noticed */
        atomic_store(&job->interrupt, false);
    }
}

void engine_pause(struct engine *e, unsigned id)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = find_job(e, id);
    if (job)
        pause_job(e, job);
    pthread_mutex_unlock(&e->lock);
}

void engine_resume(struct engine *e, unsigned id)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = find_job(e, id);
    if (job)
        resume_job(e, job);
    pthread_mutex_unlock(&e->lock);
}

void engine_pause_all(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->njobs; i++)
        if (!e->jobs[i]->removed)
            pause_job(e, e->jobs[i]);
    pthread_mutex_unlock(&e->lock);
}

void engine_resume_all(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->njobs; i++)
        if (!e->jobs[i]->removed && e->jobs[i]->state == ENGINE_PAUSED)
            resume_job(e, e->jobs[i]);
    pthread_mutex_unlock(&e->lock);
}

void engine_verify(struct engine *e, unsigned id)
{
    struct verify_task *task = calloc(1, sizeof *task);
    if (!task)
        return;
    task->job = id;
    pthread_mutex_lock(&e->lock);
    struct verify_task **tail = &e->tasks;
    while (*tail)
        tail = &(*tail)->next;
    *tail = task;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

void engine_cancel(struct engine *e, unsigned id, bool delete_video)
{
    char video[96] = "", link[HTTP_URL_MAX] = "";
    bool delete_now = false;
    pthread_mutex_lock(&e->lock);
    struct job *job = find_job(e, id);
    if (job) {
        job->want_cancel = true;
        job->delete_video = delete_video;
        atomic_store(&job->interrupt, true);
        emit(e, ENGINE_EV_REMOVED, job, delete_video ? "video deleted" : NULL);
        if (!job->running) {
            job->removed = true;
            save(e, job);
            delete_now = delete_video;
            snprintf(video, sizeof video, "%s", job->video);
            snprintf(link, sizeof link, "%s", job->link);
        }
        pthread_cond_broadcast(&e->cond);
    }
    pthread_mutex_unlock(&e->lock);
    if (delete_now) {
        /* Rare and short: the caller's thread makes the one DELETE itself. */
        struct http *http = http_new(&e->http_options);
        if (http)
            delete_remote(e, http, video, link);
        http_free(http);
    }
}

void engine_set_workers(struct engine *e, unsigned workers)
{
    pthread_mutex_lock(&e->lock);
    e->target_workers = workers < 1 ? 1 : workers > MAX_WORKERS ? MAX_WORKERS : workers;
    start_workers(e);
    pthread_cond_broadcast(&e->cond);
    wake(e);
    pthread_mutex_unlock(&e->lock);
}

void engine_set_rate_limit(struct engine *e, uint64_t bytes_per_second)
{
    bucket_set_rate(&e->bucket, bytes_per_second);
    pthread_mutex_lock(&e->lock);
    wake(e);
    pthread_mutex_unlock(&e->lock);
}

/* ---- reading state ------------------------------------------------------- */

/* Copy src into dst, cut at a UTF-8 character boundary if it does not fit. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *row_message(const struct job *job)
{
    if (job->error[0] && job->state != ENGINE_DONE)
        return job->error;
    if (job->note[0])
        return job->note;
    return job->verified;
}

static void fill_row(const struct job *job, struct engine_row *row, double now)
{
    row->id = job->id;
    row->state = job->state;
    copy_cut(row->name, sizeof row->name, job->name);
    row->size = job->size;
    row->acked = job->acked;
    uint64_t sent = atomic_load(&job->sent);
    row->sent = sent < job->acked ? job->acked : sent > job->size ? job->size : sent;
    row->rate = job->state == ENGINE_UPLOADING ? job->rate : 0;
    row->retries = job->retries;
    double left = job->retry_at - now;
    row->retry_in = job->state == ENGINE_RETRYING && left > 0 ? left : 0;
    copy_cut(row->video, sizeof row->video, job->video);
    copy_cut(row->message, sizeof row->message, row_message(job));
    row->started = job->started;
    row->finished = job->finished;
}

bool engine_details(struct engine *e, unsigned id, struct engine_details *out)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = id && id <= e->njobs ? e->jobs[id - 1] : NULL;
    if (job) {
        fill_row(job, &out->row, bucket_now());
        snprintf(out->path, sizeof out->path, "%s", job->path);
        snprintf(out->upload_link, sizeof out->upload_link, "%s", job->link);
        snprintf(out->error, sizeof out->error, "%s", job->error);
        snprintf(out->verified, sizeof out->verified, "%s", job->verified);
        snprintf(out->note, sizeof out->note, "%s", job->note);
    }
    pthread_mutex_unlock(&e->lock);
    return job != NULL;
}

size_t engine_snapshot(struct engine *e, struct engine_row **rows, size_t *cap, struct engine_totals *totals)
{
    pthread_mutex_lock(&e->lock);
    *totals = (struct engine_totals){ .workers = e->target_workers, .rate_limit = bucket_rate(&e->bucket) };
    if (*cap < e->njobs) {
        /* Room to grow, so that adding files does not reallocate each frame. */
        size_t want = e->njobs + e->njobs / 4 + 16;
        struct engine_row *grown = realloc(*rows, want * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&e->lock);
            return 0;
        }
        *rows = grown;
        *cap = want;
    }
    double now = bucket_now();
    size_t n = 0;
    for (size_t i = 0; i < e->njobs; i++) {
        const struct job *job = e->jobs[i];
        if (job->removed)
            continue;
        struct engine_row *row = &(*rows)[n++];
        fill_row(job, row, now);
        totals->files++;
        totals->bytes += row->size;
        totals->acked += row->acked;
        totals->rate += row->rate;
        totals->done += row->state == ENGINE_DONE;
        totals->failed += row->state == ENGINE_FAILED;
        totals->active += row->state != ENGINE_DONE && row->state != ENGINE_FAILED && row->state != ENGINE_PAUSED &&
                          row->state != ENGINE_QUEUED;
    }
    pthread_mutex_unlock(&e->lock);
    return n;
}

bool engine_settled(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool settled = !e->tasks && !e->helper_busy;
    for (size_t i = 0; i < e->njobs && settled; i++) {
        const struct job *job = e->jobs[i];
        if (job->running || (!job->removed && job->state != ENGINE_DONE && job->state != ENGINE_FAILED &&
                             job->state != ENGINE_PAUSED))
            settled = false;
    }
    pthread_mutex_unlock(&e->lock);
    return settled;
}
