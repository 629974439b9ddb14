/* The engine's threads: workers, the helper, the journal writer. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "internal.h"
#include "transport.h"
#include "upload.h"

enum {
    DELETE_DRAIN_SECONDS = 5,
    CREATE_GRACE_SECONDS = 2, /* Vimeo answers a create in well under a second */
    /* Saves the writer puts in one transaction at most: each holds a copy
     * of its row (8 KiB) until written, and pausing 100,000 queued jobs
     * queues as many. */
    WRITER_BATCH_MAX = 64,
};

struct worker {
    struct engine *e;
    unsigned index;
    unsigned seed;
};

/* Threads of the engine must not take the program's signals: the front end
 * handles them. */
static bool spawn(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool ok = pthread_create(thread, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

static void run_upload_job(struct engine *e, struct job *job, const struct transport *t, unsigned seed)
{
    int fd = open(job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pthread_mutex_lock(&e->lock);
        job_fail(e, job, "%s: %s", job->path, strerror(errno));
        pthread_mutex_unlock(&e->lock);
        return;
    }
    upload_run(e, job, t, fd, seed);
    close(fd);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct engine *e = w->e;
    struct net net = { .e = e, .http = http_new(&e->http_options) };
    struct transport t = net_transport(&net);
    pthread_mutex_lock(&e->lock);
    for (;;) {
        struct job *job = NULL;
        while (!atomic_load(&e->stopping) && w->index < e->target_workers && net.http && !(job = runq_pop(e)))
            pthread_cond_wait(&e->work, &e->lock);
        if (!job)
            break;
        job->running = true;
        job_recount(e, job);
        net.job = job;
        http_watch(net.http, &job->interrupt); /* pause, cancel and stop reach every request */
        pthread_mutex_unlock(&e->lock);
        if (job->kind == JOB_VERIFY)
            verify_run(e, job, &t);
        else
            run_upload_job(e, job, &t, w->seed++);
        pthread_mutex_lock(&e->lock);
        job->running = false;
        job_recount(e, job);
        net.job = NULL;
        http_watch(net.http, NULL);
        if (job->state == ENGINE_QUEUED && !job_schedule(e, job)) /* resumed before we let go */
            job_fail(e, job, "%s: out of memory", job->path);
        engine_wake(e);
    }
    e->worker_alive[w->index] = false;
    pthread_mutex_unlock(&e->lock);
    /* Still ours after this: the handle. engine_free() joins us, so curl's
     * global cleanup can never run before this. */
    http_free(net.http);
    free(w);
    return NULL;
}

void pool_start_workers(struct engine *e)
{
    for (unsigned i = 0; i < e->target_workers && i < ENGINE_MAX_WORKERS; i++) {
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
        *w = (struct worker){ .e = e, .index = i, .seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (i << 16) };
        if (!spawn(&e->workers[i], worker_main, w)) {
            free(w);
            break;
        }
        e->worker_alive[i] = e->worker_joinable[i] = true;
    }
}

/* ---- the helper: network work that a command starts ------------------------- */

void pool_add_task(struct engine *e, struct task *task)
{
    struct task **tail = &e->tasks;
    while (*tail)
        tail = &(*tail)->next;
    task->next = NULL;
    *tail = task;
    pthread_cond_signal(&e->tasks_ready);
}

static void run_task(struct engine *e, const struct task *task, const struct transport *t)
{
    if (task->kind == TASK_VERIFY) {
        verify_now(e, task->job, t);
        return;
    }
    struct transport_result res;
    t->ops->remove(t->ctx, task->video, task->link, &res);
    if (res.outcome != HTTP_OK && res.outcome != HTTP_GONE) {
        pthread_mutex_lock(&e->lock);
        struct job *job = job_find(e, task->job);
        if (job)
            engine_emit(e, ENGINE_EV_FAILED, job, "could not delete %s: %s", task->video[0] ? task->video : task->link,
                        res.error);
        pthread_mutex_unlock(&e->lock);
    }
}

static void *helper_main(void *arg)
{
    struct engine *e = arg;
    struct net net;
    struct transport t = net_transport_engine(&net, e);
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!atomic_load(&e->stopping) && !e->tasks)
            pthread_cond_wait(&e->tasks_ready, &e->lock);
        if (atomic_load(&e->stopping) || !net.http)
            break;
        struct task *task = e->tasks;
        e->tasks = task->next;
        e->helper_busy = true;
        pthread_mutex_unlock(&e->lock);
        run_task(e, task, &t);
        free(task);
        pthread_mutex_lock(&e->lock);
        e->helper_busy = false;
        pthread_cond_broadcast(&e->tasks_done);
        engine_wake(e);
    }
    while (e->tasks) {
        struct task *task = e->tasks;
        e->tasks = task->next;
        free(task);
    }
    pthread_mutex_unlock(&e->lock);
    http_free(net.http);
    return NULL;
}

/* ---- the journal writer -------------------------------------------------------- */

/* A queued save did not reach the disk: the job must not go on as if it
 * had. Caller holds e->lock. */
static void journal_failed(struct engine *e, struct job *job, const char *why)
{
    job_set_text(&job->error, why);
    job->journal_failed = true;
    if (engine_state_final(job->state) || job->state == ENGINE_PAUSED)
        return;
    if (job->running) {
        job->want_pause = true;
        atomic_store(&job->interrupt, true);
        pthread_cond_broadcast(&e->commands);
    } else {
        job_enter(e, job, ENGINE_PAUSED, why);
    }
    engine_wake(e);
}

/* A save the writer took off e->saves, and the copy of its row. */
struct queued_save {
    struct job *job;
    struct save *save;
};

/* Room in *batch for the saves queued (WRITER_BATCH_MAX at most), if
 * memory allows: how many it holds. Caller holds e->lock. */
static size_t batch_room(struct engine *e, struct queued_save **batch, size_t *cap)
{
    size_t n = 0;
    for (const struct job *job = e->saves; job && n < WRITER_BATCH_MAX; job = job->save_next)
        n++;
    if (n > *cap) {
        struct queued_save *more = realloc(*batch, n * sizeof *more);
        if (more) {
            *batch = more;
            *cap = n;
        }
    }
    return *cap;
}

/* Take up to max saves off e->saves into out: how many. Caller holds e->lock. */
static size_t take_queued(struct engine *e, struct queued_save *out, size_t max)
{
    size_t n = 0;
    for (; n < max && e->saves; n++) {
        struct job *job = e->saves;
        e->saves = job->save_next;
        job->save_queued = false;
        out[n] = (struct queued_save){ .job = job };
    }
    if (!e->saves)
        e->saves_tail = &e->saves;
    return n;
}

static void *writer_main(void *arg)
{
    struct engine *e = arg;
    struct queued_save *batch = NULL, one;
    size_t cap = 0;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!atomic_load(&e->stopping) && !e->saves)
            pthread_cond_wait(&e->saves_ready, &e->lock);
        if (!e->saves)
            break; /* stopping, and every save written */
        /* Every save queued goes into one transaction (with any that
         * workers make meanwhile): the state each job stopped in, a
         * transcode.status, a verify's verdict. Out of memory: one. */
        struct queued_save *saves = batch_room(e, &batch, &cap) ? batch : &one;
        size_t n = take_queued(e, saves, cap ? cap : 1);
        e->writer_busy = true;
        pthread_mutex_unlock(&e->lock);
        for (size_t i = 0; i < n; i++)
            saves[i].save = job_save_start(e, saves[i].job, JOB_STATE_CURRENT);
        for (size_t i = 0; i < n; i++) {
            char why[ERROR_MAX];
            if (!job_save_end(e, saves[i].job, saves[i].save, why, sizeof why)) {
                pthread_mutex_lock(&e->lock);
                journal_failed(e, saves[i].job, why);
                pthread_mutex_unlock(&e->lock);
            }
        }
        pthread_mutex_lock(&e->lock);
        e->writer_busy = false;
        engine_wake(e);
    }
    pthread_mutex_unlock(&e->lock);
    free(batch);
    return NULL;
}

bool pool_start_threads(struct engine *e)
{
    e->helper_started = spawn(&e->helper, helper_main, e);
    e->writer_started = spawn(&e->writer, writer_main, e);
    /* Only Vimeo transcodes: a generic tus server has nothing to follow. */
    e->follower_started = !e->tus_endpoint && spawn(&e->follower, transcode_main, e);
    return e->helper_started && e->writer_started && (e->tus_endpoint || e->follower_started);
}

static bool deletes_pending(const struct engine *e)
{
    for (const struct task *t = e->tasks; t; t = t->next)
        if (t->kind == TASK_DELETE)
            return true;
    return false;
}

void pool_stop(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    /* A DELETE the user asked for goes out before we stop, for a while:
     * "video deleted" was shown, so it must not be dropped in silence. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += DELETE_DRAIN_SECONDS;
    while (e->helper_started && (deletes_pending(e) || e->helper_busy))
        if (pthread_cond_timedwait(&e->tasks_done, &e->lock, &until) != 0)
            break;
    atomic_store(&e->stopping, true);
    for (size_t i = 0; i < e->njobs; i++)
        atomic_store(&e->jobs[i]->interrupt, true);
    pthread_cond_broadcast(&e->work);
    pthread_cond_broadcast(&e->commands);
    pthread_cond_broadcast(&e->tasks_ready);
    pthread_cond_broadcast(&e->follow_ready);
    /* A create cut off may leave a video that no journal row names, and
     * the resume makes another: its answer is awaited for a moment, then
     * recorded, so the resume goes on with that video. */
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += CREATE_GRACE_SECONDS;
    while (e->creates_in_flight)
        if (pthread_cond_timedwait(&e->tasks_done, &e->lock, &until) != 0)
            break;
    atomic_store(&e->cut_creates, true);
    pthread_mutex_unlock(&e->lock);
    if (e->follower_started)
        pthread_join(e->follower, NULL);
    for (unsigned i = 0; i < ENGINE_MAX_WORKERS; i++)
        if (e->worker_joinable[i])
            pthread_join(e->workers[i], NULL);
    if (e->helper_started)
        pthread_join(e->helper, NULL);
    /* The writer may have left already: engine_free saves what it did not. */
    pthread_mutex_lock(&e->lock);
    pthread_cond_broadcast(&e->saves_ready);
    pthread_mutex_unlock(&e->lock);
    if (e->writer_started)
        pthread_join(e->writer, NULL);
}
