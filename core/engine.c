/* The engine's public face: start and stop, and commands (what front ends
 * read is in view.c). */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/clock.h"
#include "internal.h"
#include "util/units.h"
#include "upload.h"

enum {
    CONNECT_TIMEOUT = 20,      /* seconds */
    STALL_BYTES_PER_SECOND = 1024,
    API_TIMEOUT = 120,         /* seconds */
};

/* curl_global_init is the engine's: once for all engines, undone by the last. */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned global_users;

static bool global_acquire(void)
{
    pthread_mutex_lock(&global_lock);
    bool ok = global_users > 0 || http_global_init();
    global_users += ok;
    pthread_mutex_unlock(&global_lock);
    return ok;
}

static void global_release(void)
{
    pthread_mutex_lock(&global_lock);
    if (global_users && --global_users == 0)
        http_global_cleanup();
    pthread_mutex_unlock(&global_lock);
}

int engine_wakeup_fd(struct engine *e)
{
    return wakeup_fd(&e->wakeup);
}

void engine_wakeup_drain(struct engine *e)
{
    wakeup_drain(&e->wakeup);
}

/* ---- start and stop ----------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void copy_config(struct engine *e, const struct engine_config *config)
{
    e->cfg = *config;
    e->token = dup_or_null(config->token);
    e->api_base = dup_or_null(config->api_base);
    e->tus_endpoint = dup_or_null(config->tus_endpoint);
    e->state_dir = dup_or_null(config->state_dir);
    e->name = dup_or_null(config->name);
    e->description = dup_or_null(config->description);
    e->privacy = dup_or_null(config->privacy);
    e->folder = dup_or_null(config->folder);
    e->password = dup_or_null(config->password);
    e->ca_file = dup_or_null(config->ca_file);
    e->replace = dup_or_null(config->replace);
    e->tags = config->ntags ? calloc(config->ntags, sizeof *e->tags) : NULL;
    for (size_t i = 0; e->tags && i < config->ntags; i++)
        e->ntags += (e->tags[i] = strdup(config->tags[i])) != NULL;
    size_t base_len = e->api_base ? strlen(e->api_base) : 0;
    while (base_len && e->api_base[base_len - 1] == '/')
        e->api_base[--base_len] = '\0';
    e->endpoint_key = e->tus_endpoint ? e->tus_endpoint : e->api_base;
    long stall = config->stall_seconds > 0 ? config->stall_seconds : ENGINE_DEFAULT_STALL_SECONDS;
    e->http_options = (struct http_options){ .connect_timeout = CONNECT_TIMEOUT,
                                             .low_speed_limit = STALL_BYTES_PER_SECOND,
                                             .low_speed_time = stall, .api_timeout = API_TIMEOUT,
                                             .ca_file = e->ca_file, .on_request = config->on_request,
                                             .on_request_ctx = config->on_request_ctx };
    unsigned workers = config->workers ? config->workers : ENGINE_DEFAULT_WORKERS;
    e->target_workers = workers > ENGINE_MAX_WORKERS ? ENGINE_MAX_WORKERS : workers;
    e->backoff_scale = 1;
}

static void init_sync(struct engine *e)
{
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->save_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->work, &ca);
    pthread_cond_init(&e->commands, &ca);
    pthread_cond_init(&e->tasks_ready, &ca);
    pthread_cond_init(&e->tasks_done, &ca);
    pthread_cond_init(&e->saves_ready, &ca);
    pthread_cond_init(&e->follow_ready, &ca);
    pthread_condattr_destroy(&ca);
    e->saves_tail = &e->saves;
    atomic_init(&e->stopping, false);
    atomic_init(&e->cut_creates, false);
    atomic_init(&e->last_progress_wake, 0.0);
    atomic_init(&e->bytes_sent, 0);
    e->wakeup.fd[0] = e->wakeup.fd[1] = -1;
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
    if (!e || !global_acquire()) {
        free(e);
        snprintf(err, cap, "cannot start: out of memory");
        return NULL;
    }
    copy_config(e, config);
    init_sync(e);
    bucket_init(&e->bucket, config->rate_limit);
    api_init(&e->api, e->api_base, e->token);
    if (!e->api_base || !wakeup_init(&e->wakeup)) {
        snprintf(err, cap, "cannot start: %s", strerror(errno));
        engine_free(e);
        return NULL;
    }
    if (config->read_only) {
        /* None yet, or no state at all (login): every file is new. */
        e->journal = e->state_dir ? journal_open_existing(e->state_dir, err, cap) : NULL;
        if (!e->journal && e->state_dir && err[0]) {
            engine_free(e);
            return NULL;
        }
        return e; /* no threads: it uploads nothing */
    }
    e->journal = journal_open(e->state_dir, err, cap);
    if (!e->journal || !pool_start_threads(e)) {
        if (e->journal)
            snprintf(err, cap, "cannot start: no threads");
        engine_free(e);
        return NULL;
    }
    pthread_mutex_lock(&e->lock);
    pool_start_workers(e);
    pthread_mutex_unlock(&e->lock);
    return e;
}

/* After the threads: what the journal does not have yet goes there now.
 * Uploads stopped midway are saved as paused, which is what they are; one
 * whose bytes were proven, waiting for Vimeo's upload.status, as
 * verifying (a resume proves them again, then asks). */
static void save_last(struct engine *e, struct job *job)
{
    char why[ERROR_MAX];
    bool unfinished = job->kind == JOB_UPLOAD && !engine_state_final(job->state) && job->state != ENGINE_QUEUED;
    if (unfinished)
        job_save_now(e, job, job->confirm ? ENGINE_VERIFYING : ENGINE_PAUSED, why, sizeof why);
    else if (job->save_queued)
        job_save_now(e, job, JOB_STATE_CURRENT, why, sizeof why);
    journal_release(e->journal, job->row);
}

static void free_strings(struct engine *e)
{
    if (e->token)
        memset(e->token, 0, strlen(e->token));
    if (e->password)
        memset(e->password, 0, strlen(e->password));
    free(e->token);
    free(e->password);
    free(e->ca_file);
    free(e->replace);
    for (size_t i = 0; i < e->ntags; i++)
        free(e->tags[i]);
    free(e->tags);
    free(e->api_base);
    free(e->tus_endpoint);
    free(e->state_dir);
    free(e->name);
    free(e->description);
    free(e->privacy);
    free(e->folder);
}


void engine_stop(struct engine *e)
{
    if (!e->stopped)
        pool_stop(e);
    e->stopped = true;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    engine_stop(e);
    for (size_t i = 0; i < e->njobs; i++) {
        if (e->journal && e->jobs[i]->records)
            save_last(e, e->jobs[i]);
        job_free(e->jobs[i]);
    }
    journal_close(e->journal);
    engine_index_free(e);
    free(e->jobs);
    free(e->blocks);
    free(e->runq);
    for (size_t i = e->events_head; i < e->nevents; i++)
        job_event_free(&e->events[i]);
    free(e->events);
    wakeup_close(&e->wakeup);
    bucket_destroy(&e->bucket);
    api_destroy(&e->api);
    pthread_cond_destroy(&e->work);
    pthread_cond_destroy(&e->commands);
    pthread_cond_destroy(&e->tasks_ready);
    pthread_cond_destroy(&e->tasks_done);
    pthread_cond_destroy(&e->saves_ready);
    pthread_cond_destroy(&e->follow_ready);
    free(e->follow);
    free(e->confirm);
    pthread_mutex_destroy(&e->save_lock);
    pthread_mutex_destroy(&e->lock);
    free_strings(e);
    free(e);
    global_release();
}

/* ---- commands: each takes e->lock briefly and returns ----------------------- */

/* A job a command may act on: known, in the table. Caller holds e->lock. */
static struct job *visible_job(struct engine *e, unsigned id)
{
    struct job *job = job_find(e, id);
    return job && !job->hidden && job->state != ENGINE_CANCELLED ? job : NULL;
}

static const char *pause_job(struct engine *e, struct job *job)
{
    if (job->confirm && job->state == ENGINE_VERIFYING) {
        return confirm_pause(e, job); /* handed over: no worker holds it */
    } else if (job->state == ENGINE_QUEUED && !job->running) {
        job_enter(e, job, ENGINE_PAUSED, NULL);
    } else if ((engine_state_active(job->state) || job->state == ENGINE_QUEUED) && job->running &&
               job->kind == JOB_UPLOAD) {
        job->want_pause = true;
        atomic_store(&job->interrupt, true);
        pthread_cond_broadcast(&e->commands);
    } else {
        return job->state == ENGINE_DONE ? "already done" : job->state == ENGINE_FAILED ? "failed; r tries it again"
               : job->state == ENGINE_PAUSED ? "already paused" : "a verification cannot be paused";
    }
    return NULL;
}

/* A failed upload is tried again only when its file is what was queued. */
static bool file_still_same(const struct job *job)
{
    struct stat st;
    return job->kind == JOB_VERIFY || (stat(job->path, &st) == 0 && job_stat_matches(job, &st));
}

static const char *resume_job(struct engine *e, struct job *job)
{
    if (job->state == ENGINE_FAILED && !job->records)
        return "refused before it was queued; add it again";
    if (job->state == ENGINE_FAILED && !file_still_same(job))
        return "the file changed since; add it again";
    if (job->state == ENGINE_PAUSED || job->state == ENGINE_FAILED) {
        job->want_pause = job->journal_failed = false;
        job->retries = 0;
        job_set_text(&job->error, NULL);
        atomic_store(&job->interrupt, false);
        job_enter(e, job, ENGINE_QUEUED, NULL);
        if (!job_schedule(e, job))
            job_fail(e, job, "%s: out of memory", job->path);
        return NULL;
    }
    if (job->want_pause) {
        job->want_pause = false; /* paused and resumed before the worker noticed */
        atomic_store(&job->interrupt, false);
        return NULL;
    }
    return job->state == ENGINE_DONE ? "already done" : "not paused";
}

/* Run a command on one job, or (id 0) on every job in the table; the
 * answer for one job: NULL, or why not. */
static const char *command(struct engine *e, unsigned id, const char *(*act)(struct engine *e, struct job *job))
{
    const char *why = id ? "no such upload" : NULL;
    pthread_mutex_lock(&e->lock);
    for (size_t i = id ? id - 1 : 0; i < e->njobs && (!id || i == id - 1); i++)
        if (visible_job(e, e->jobs[i]->id))
            why = act(e, e->jobs[i]);
    pthread_mutex_unlock(&e->lock);
    return id ? why : NULL;
}

static const char *pause_active(struct engine *e, struct job *job)
{
    return job->state == ENGINE_QUEUED || engine_state_active(job->state) ? pause_job(e, job) : NULL;
}

static const char *resume_paused(struct engine *e, struct job *job)
{
    return job->state == ENGINE_PAUSED ? resume_job(e, job) : NULL;
}

const char *engine_pause(struct engine *e, unsigned id)
{
    return command(e, id, pause_job);
}

const char *engine_resume(struct engine *e, unsigned id)
{
    return command(e, id, resume_job);
}

void engine_pause_all(struct engine *e)
{
    command(e, 0, pause_active);
}

void engine_resume_all(struct engine *e)
{
    command(e, 0, resume_paused);
}

static void add_task(struct engine *e, int kind, const struct job *job)
{
    struct task *task = calloc(1, sizeof *task);
    if (!task)
        return;
    task->kind = kind;
    task->job = job->id;
    snprintf(task->video, sizeof task->video, "%s", job->video);
    snprintf(task->link, sizeof task->link, "%s", job_text(job->link));
    pool_add_task(e, task);
}

void engine_verify(struct engine *e, unsigned id)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = visible_job(e, id);
    if (job)
        add_task(e, TASK_VERIFY, job);
    pthread_mutex_unlock(&e->lock);
}

void engine_cancel(struct engine *e, unsigned id, bool delete_video)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = visible_job(e, id);
    if (job && job->replaces)
        delete_video = false; /* the video is the user's, from before: only a version of it was ours */
    bool keep_row = job && (job->kind == JOB_VERIFY || (job->state == ENGINE_DONE && !delete_video));
    if (keep_row) {
        /* Out of the table only: the journal keeps that the file was uploaded. */
        job->hidden = true;
        job_recount(e, job);
        engine_emit(e, ENGINE_EV_REMOVED, job, "%s", "removed from the table");
        engine_wake(e);
    } else if (job) {
        job->want_cancel = true;
        job->delete_video = delete_video;
        atomic_store(&job->interrupt, true);
        job_enter(e, job, ENGINE_CANCELLED, delete_video ? "video deleted" : NULL);
        /* The helper sends the DELETE, not the caller; a job waiting for its
         * confirmation has no worker to send it. */
        if ((!job->running || job->confirm) && delete_video)
            add_task(e, TASK_DELETE, job);
        pthread_cond_broadcast(&e->commands);
    }
    pthread_mutex_unlock(&e->lock);
}

void engine_set_workers(struct engine *e, unsigned workers)
{
    pthread_mutex_lock(&e->lock);
    e->target_workers = workers < 1 ? 1 : workers > ENGINE_MAX_WORKERS ? ENGINE_MAX_WORKERS : workers;
    pool_start_workers(e);
    pthread_cond_broadcast(&e->work);
    engine_wake(e);
    pthread_mutex_unlock(&e->lock);
}

void engine_set_rate_limit(struct engine *e, uint64_t bytes_per_second)
{
    bucket_set_rate(&e->bucket, bytes_per_second);
    engine_wake(e);
}

uint64_t engine_bytes_sent(struct engine *e)
{
    return atomic_load(&e->bytes_sent);
}
