/*
 * transcode: what Vimeo says of a video once its bytes are in, asked by one
 * thread, the follower, for every job:
 * - confirmation: the worker whose HEAD proved every byte hands the job
 *   over (confirm_hand_over) and takes the next file; the job stays
 *   verifying until Vimeo's upload.status decides: complete is done, error
 *   failed, in_progress asked again (CONFIRM_WINDOW at most, then done with
 *   a note);
 * - follow-up: a done video's transcode.status, asked while in progress,
 *   each video with its own growing interval.
 * There is no webhook (help centre, "transcode status"; VIMEO-API.md).
 * Rather than GET /videos/{id} for each video, one GET /me/videos (newest
 * first, 100 a page) answers for every video waiting: Vimeo's rate limit
 * counts calls, and a batch of small files cost two calls each. A fresh
 * confirmation waits a moment (BATCH_WAIT) for others to share its
 * listing, unless no other upload is under way. A video that MAX_MISSES
 * listings in a row did not show (older than the pages read, or not in
 * Vimeo's listing yet) is asked on its own. Every call goes through
 * api_call, within the call budget.
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
/* Seconds a fresh confirmation waits for others to share its listing. */
static const double BATCH_WAIT = 0.5;
/* Seconds before the next question about a video a listing did not show:
 * a listing that lags may show it soon; a GET follows anyway. */
static const double MISS_WAIT = 1;
enum {
    MAX_MISSES = 2,            /* listings that did not show a video before it is asked alone */
    MAX_PAGES = 10,            /* pages one listing reads at most */
};
/* What the row says while the follower confirms. */
static const char CONFIRMING[] = "confirming: waiting for Vimeo's upload.status";

/* Monotonic time seconds from now, on the engine's backoff scale. */
static double later(const struct engine *e, double seconds)
{
    double s = seconds * e->backoff_scale;
    return clock_mono() + (s > WAIT_FLOOR ? s : WAIT_FLOOR);
}

static double grown(double wait, double cap)
{
    return wait * 2 > cap ? cap : wait * 2;
}

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
    job->transcode_misses = 0;
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

/* Vimeo's word as a state: no word is taken for "still transcoding". */
static enum engine_transcode transcode_of(const char *status)
{
    enum engine_transcode t = engine_transcode_parse(status);
    return t == ENGINE_TRANSCODE_UNKNOWN ? ENGINE_TRANSCODE_IN_PROGRESS : t;
}

/* Follow job->transcode from here, and say it if it is news (it was was).
 * Caller holds e->lock. */
static void transcode_announce(struct engine *e, struct job *job, enum engine_transcode was)
{
    enum engine_transcode t = job->transcode;
    if (t == ENGINE_TRANSCODE_IN_PROGRESS)
        follow(e, job);
    else
        unfollow(e, job);
    if (t == was)
        return;
    if (t == ENGINE_TRANSCODE_COMPLETE)
        engine_emit(e, ENGINE_EV_AVAILABLE, job, "%s", job->page ? job->page : job->video);
    else if (t == ENGINE_TRANSCODE_ERROR)
        engine_emit(e, ENGINE_EV_TRANSCODE_ERROR, job, "%s: Vimeo could not transcode the video (transcode.status "
                    "error)", job->video);
    else
        engine_emit(e, ENGINE_EV_TRANSCODING, job, "%s", job->video);
}

void transcode_update(struct engine *e, struct job *job, const char *status)
{
    enum engine_transcode was = job->transcode;
    job->transcode = transcode_of(status);
    job_recount(e, job);
    if (job->transcode != was)
        job_save_later(e, job);
    transcode_announce(e, job, was);
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

/* ---- confirmation ------------------------------------------------------------ */

enum confirm_verdict confirm_judge(const char *status, double waited, double window, char *verified, size_t cap)
{
    if (!status[0])
        return CONFIRM_DONE; /* no word from Vimeo: the HEAD's proof stands */
    if (!strcmp(status, "error"))
        return CONFIRM_FAILED;
    if (!strcmp(status, "in_progress") && waited < window)
        return CONFIRM_AGAIN;
    size_t n = strlen(verified);
    snprintf(verified + n, cap - n, "; Vimeo upload.status %s%s", status,
             strcmp(status, "complete") ? " (still processing after every byte arrived)" : "");
    return CONFIRM_DONE;
}

void confirm_refused(struct engine *e, struct job *job)
{
    job_fail(e, job, "%s: every byte arrived, but Vimeo's upload.status is error (it refused the video: too "
             "short, or not a video?)", job->path);
}

/* A job being finished (confirm_finish), between its two halves. */
struct finishing {
    struct job *job;
    const char *verified, *transcode;
    enum engine_transcode was; /* the transcode state before the verdict's */
    bool follows;              /* Vimeo transcodes it: followed once done */
    struct save *save;         /* the done row on its way to the journal */
    struct confirm *confirm;   /* confirm_finish_all: the hand-over it ends */
    bool begun;                /* confirm_finish_all: not cancelled */
};

/* The verdict set and the done row's copy taken: false for a cancelled
 * job, which has nothing to finish. Caller holds no lock. */
static bool finish_begin(struct engine *e, struct finishing *f)
{
    struct job *job = f->job;
    pthread_mutex_lock(&e->lock);
    if (job->state == ENGINE_CANCELLED) {
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    job_set_text(&job->verified, f->verified);
    job_set_text(&job->error, NULL);
    /* Vimeo transcodes it next: the first word on that is written with the
     * verdict, one journal write where there were two. */
    f->follows = job->video[0] && !e->tus_endpoint;
    f->was = job->transcode;
    if (f->follows) {
        job->transcode = transcode_of(f->transcode);
        job_recount(e, job);
    }
    pthread_mutex_unlock(&e->lock);
    f->save = job_save_start(e, job, ENGINE_DONE);
    return true;
}

/* Done once the row is in the journal; paused when it could not be.
 * Caller holds no lock. */
static enum confirm_end finish_end(struct engine *e, struct finishing *f)
{
    struct job *job = f->job;
    char why[ERROR_MAX];
    if (!job_save_end(e, job, f->save, why, sizeof why)) {
        pthread_mutex_lock(&e->lock);
        job->transcode = f->was;
        job_set_text(&job->error, why);
        job->rate = 0;
        job_enter(e, job, ENGINE_PAUSED, why);
        pthread_mutex_unlock(&e->lock);
        return CONFIRM_END_PAUSED;
    }
    pthread_mutex_lock(&e->lock);
    engine_emit(e, ENGINE_EV_VERIFIED, job, "%s", f->verified);
    job_enter(e, job, ENGINE_DONE, job->video[0] ? job->video : job_text(job->link));
    if (f->follows && job->state == ENGINE_DONE)
        transcode_announce(e, job, f->was); /* followed from here */
    pthread_mutex_unlock(&e->lock);
    return CONFIRM_END_DONE;
}

enum confirm_end confirm_finish(struct engine *e, struct job *job, const char *verified, const char *transcode)
{
    struct finishing f = { .job = job, .verified = verified, .transcode = transcode };
    return finish_begin(e, &f) ? finish_end(e, &f) : CONFIRM_END_CANCELLED;
}

bool confirm_hand_over(struct engine *e, struct job *job, const char *verified)
{
    struct confirm *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    pthread_mutex_lock(&e->lock);
    /* A confirm still set is the last hand-over's, not yet let go of by
     * confirm_finish_all: this time the worker asks itself. */
    bool ok = e->follower_started && !e->confirmer_down && !e->tus_endpoint && job->video[0] &&
              !atomic_load(&e->stopping) && job->state == ENGINE_VERIFYING && !job->want_pause &&
              !atomic_load(&job->interrupt) && !job->confirm;
    if (ok && e->nconfirm == e->confirm_cap) {
        size_t cap = e->confirm_cap ? e->confirm_cap * 2 : 64;
        struct job **more = realloc(e->confirm, cap * sizeof *more);
        ok = more != NULL;
        if (ok) {
            e->confirm = more;
            e->confirm_cap = cap;
        }
    }
    if (ok) {
        snprintf(c->verified, sizeof c->verified, "%s", verified);
        c->since = clock_mono();
        c->wait = FIRST_WAIT;
        c->at = later(e, BATCH_WAIT);
        job->confirm = c;
        e->confirm[e->nconfirm++] = job;
        job_set_text(&job->verified, verified);
        job_set_text(&job->error, NULL); /* a retry's reason, now moot: every byte is there */
        job_set_text(&job->note, CONFIRMING);
        if (!e->follower_until || (e->follower_until > 0 && c->at < e->follower_until) ||
            e->nconfirm >= API_LIST_PER_PAGE)
            pthread_cond_signal(&e->follow_ready);
    }
    pthread_mutex_unlock(&e->lock);
    if (!ok)
        free(c);
    return ok;
}

/* Take the job off e->confirm (its job->confirm stays). Caller holds e->lock. */
static void confirm_unlist(struct engine *e, struct job *job)
{
    for (size_t i = 0; i < e->nconfirm; i++) {
        if (e->confirm[i] == job) {
            e->confirm[i] = e->confirm[--e->nconfirm];
            break;
        }
    }
}

/* The job waits no more. Caller holds e->lock. */
static void confirm_end(struct engine *e, struct job *job)
{
    confirm_unlist(e, job);
    free(job->confirm);
    job->confirm = NULL;
    job_set_text(&job->note, NULL);
}

const char *confirm_pause(struct engine *e, struct job *job)
{
    if (job->confirm->finishing)
        return "already done";
    confirm_end(e, job);
    job->rate = 0;
    job_enter(e, job, ENGINE_PAUSED, NULL); /* a resume proves the bytes again, then asks */
    return NULL;
}

/* One answer for a job waiting for confirmation: a verdict, or asked again
 * when due. A job decided done goes onto done (*ndone), off e->confirm,
 * for the caller to finish without the lock. Caller holds e->lock. */
static void confirm_take(struct engine *e, struct job *job, const char *status, const char *transcode,
                         const char *page, struct job **done, size_t *ndone)
{
    struct confirm *c = job->confirm;
    if (!c || c->finishing || job->state != ENGINE_VERIFYING)
        return; /* paused, cancelled or decided meanwhile */
    if (page[0])
        job_set_text(&job->page, page);
    switch (confirm_judge(status, clock_mono() - c->since, CONFIRM_WINDOW * e->backoff_scale, c->verified,
                          sizeof c->verified)) {
    case CONFIRM_AGAIN:
        break;
    case CONFIRM_FAILED:
        confirm_end(e, job);
        confirm_refused(e, job);
        break;
    case CONFIRM_DONE:
        snprintf(c->transcode, sizeof c->transcode, "%s", transcode);
        c->finishing = true;
        confirm_unlist(e, job);
        job_set_text(&job->note, NULL);
        done[(*ndone)++] = job;
        break;
    }
}

/* Finish the jobs decided done, their done rows in one journal
 * transaction (a listing decides up to a page of them at once). Caller
 * holds no lock. */
static void confirm_finish_all(struct engine *e, struct job **done, size_t n)
{
    struct finishing *f = n > 1 ? calloc(n, sizeof *f) : NULL, one;
    size_t batch = f ? n : 1; /* out of memory: one by one */
    if (!f)
        f = &one;
    for (size_t first = 0; first < n; first += batch) {
        size_t count = n - first < batch ? n - first : batch;
        for (size_t i = 0; i < count; i++) {
            struct job *job = done[first + i];
            pthread_mutex_lock(&e->lock);
            struct confirm *c = job->confirm;
            pthread_mutex_unlock(&e->lock);
            f[i] = (struct finishing){ .job = job, .verified = c->verified, .transcode = c->transcode, .confirm = c };
            f[i].begun = finish_begin(e, &f[i]);
        }
        for (size_t i = 0; i < count; i++) {
            struct job *job = f[i].job;
            if (f[i].begun)
                finish_end(e, &f[i]);
            pthread_mutex_lock(&e->lock);
            if (job->confirm == f[i].confirm)
                job->confirm = NULL;
            pthread_mutex_unlock(&e->lock);
            free(f[i].confirm);
        }
    }
    if (f != &one)
        free(f);
}

/* ---- the follower's questions ------------------------------------------------- */

/* GET /videos/{id} for the job's video into status and res, the next
 * question scheduled first (*at, *wait growing up to cap). Called with
 * e->lock held, which it lets go of around the request. */
static void ask_video(struct engine *e, const struct job *job, double *at, double *wait, double cap,
                      const struct transport *t, char status[32], struct transport_result *res)
{
    char video[VIDEO_MAX];
    snprintf(video, sizeof video, "%s", job->video);
    *at = later(e, *wait);
    *wait = grown(*wait, cap);
    pthread_mutex_unlock(&e->lock);
    t->ops->status(t->ctx, video, status, 32, res);
    pthread_mutex_lock(&e->lock);
}

/* Ask Vimeo about one followed video, then note the answer. Called with
 * e->lock held, which it lets go of around the request. */
static void ask(struct engine *e, struct job *job, const struct transport *t)
{
    char status[32];
    struct transport_result res;
    ask_video(e, job, &job->transcode_at, &job->transcode_wait, WAIT_CAP, t, status, &res);
    if (res.outcome == HTTP_OK && res.page[0])
        job_set_text(&job->page, res.page);
    if (res.outcome == HTTP_OK && followed(job)) {
        transcode_update(e, job, res.transcode);
    } else if (res.outcome == HTTP_GONE && followed(job)) {
        transcode_update(e, job, "error"); /* deleted meanwhile: it will never be available */
    } else if (res.outcome == HTTP_FATAL && followed(job)) {
        /* Refused (a token revoked or without a scope since): asking again
         * would never end a --wait-transcode run. It stays transcoding, as
         * last known, in the journal too: a rerun follows it again. */
        unfollow(e, job);
        engine_emit(e, ENGINE_EV_TRANSCODING, job, "%s: no longer followed: %s; 'vimeo-up --wait-transcode FILE' "
                    "asks again", job->video, res.error);
    }
    /* Anything else: asked again when due. */
}

/* Ask Vimeo about one video waiting for confirmation that the listings did
 * not show, as a worker did before the listing: no answer leaves the
 * HEAD's proof standing. Called with e->lock held, let go around the
 * request. */
static void ask_confirm(struct engine *e, struct job *job, const struct transport *t)
{
    struct confirm *c = job->confirm;
    char status[32];
    struct transport_result res;
    c->asked = true;
    ask_video(e, job, &c->at, &c->wait, CONFIRM_WAIT_CAP, t, status, &res);
    struct job *done[1];
    size_t ndone = 0;
    if (res.outcome != HTTP_OK)
        status[0] = res.transcode[0] = res.page[0] = '\0';
    if (job->confirm == c) /* else paused or cancelled meanwhile */
        confirm_take(e, job, status, res.transcode, res.page, done, &ndone);
    pthread_mutex_unlock(&e->lock);
    confirm_finish_all(e, done, ndone);
    pthread_mutex_lock(&e->lock);
}

/* A video the listing looks for. */
struct wanted {
    uint64_t id;
    struct job *job;
    bool confirm;              /* waiting for confirmation, else followed */
    bool due, seen;
};

static int by_id(const void *a, const void *b)
{
    const struct wanted *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Every video waiting (confirmation or follow-up) into want, sorted by
 * id; the due ones marked and their next question scheduled. Returns how
 * many; *due how many of them are due. Caller holds e->lock. */
static size_t gather(struct engine *e, double now, struct wanted *want, size_t *due)
{
    size_t n = 0;
    *due = 0;
    for (size_t i = 0; i < e->nconfirm; i++) {
        struct job *job = e->confirm[i];
        struct confirm *c = job->confirm;
        /* A fresh one rides along: the listing answers for it anyway. */
        bool is_due = c->at <= now || !c->asked;
        if (is_due) {
            c->asked = true;
            c->at = later(e, c->wait);
            c->wait = grown(c->wait, CONFIRM_WAIT_CAP);
        }
        want[n++] = (struct wanted){ .id = vimeo_video_id(job->video), .job = job, .confirm = true, .due = is_due };
        *due += is_due;
    }
    for (size_t i = 0; i < e->nfollow; i++) {
        struct job *job = e->follow[i];
        bool is_due = job->transcode_at <= now;
        if (is_due) {
            job->transcode_at = later(e, job->transcode_wait);
            job->transcode_wait = grown(job->transcode_wait, WAIT_CAP);
        }
        want[n++] = (struct wanted){ .id = vimeo_video_id(job->video), .job = job, .due = is_due };
        *due += is_due;
    }
    qsort(want, n, sizeof *want, by_id);
    return n;
}

/* Note what one listed video says for every job that waits for it.
 * Caller holds e->lock. */
static void note_listed(struct engine *e, const struct vimeo_video_status *v, struct wanted *want, size_t n,
                        struct job **done, size_t *ndone)
{
    struct wanted key = { .id = vimeo_video_id(v->uri) };
    struct wanted *hit = key.id ? bsearch(&key, want, n, sizeof *want, by_id) : NULL;
    if (!hit)
        return;
    while (hit > want && hit[-1].id == key.id)
        hit--;
    for (; hit < want + n && hit->id == key.id; hit++) {
        struct job *job = hit->job;
        hit->seen = true;
        if (hit->confirm && job->confirm) {
            job->confirm->misses = 0;
            confirm_take(e, job, v->upload_status, v->transcode_status, v->page, done, ndone);
        } else if (job->following && followed(job)) {
            job->transcode_misses = 0;
            if (v->page[0])
                job_set_text(&job->page, v->page);
            transcode_update(e, job, v->transcode_status);
        }
    }
}

static bool due_unseen(const struct wanted *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (want[i].due && !want[i].seen)
            return true;
    return false;
}

/* One listing for every video waiting: pages, newest first, while a due
 * one is still unseen (a page more than the due ones fill, MAX_PAGES at
 * most). A due video it did not show counts a miss. Called with e->lock
 * held, which it lets go of around the requests. */
static void list_round(struct engine *e, const struct transport *t, struct vimeo_video_status *videos, double now)
{
    size_t cap = e->nconfirm + e->nfollow, due;
    struct wanted *want = malloc((cap ? cap : 1) * sizeof *want);
    struct job **done = malloc((cap ? cap : 1) * sizeof *done);
    if (!want || !done) {
        free(want);
        free(done);
        return;
    }
    size_t n = gather(e, now, want, &due);
    size_t pages = due / API_LIST_PER_PAGE + 2;
    pages = pages > MAX_PAGES ? MAX_PAGES : pages;
    pthread_mutex_unlock(&e->lock);
    for (unsigned page = 1; page <= pages; page++) {
        size_t nvideos = 0, ndone = 0;
        bool more = false;
        struct transport_result res;
        t->ops->list(t->ctx, page, videos, API_LIST_PER_PAGE, &nvideos, &more, &res);
        if (res.outcome != HTTP_OK)
            break; /* every due one unseen: a miss, asked again when due */
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < nvideos; i++)
            note_listed(e, &videos[i], want, n, done, &ndone);
        pthread_mutex_unlock(&e->lock);
        confirm_finish_all(e, done, ndone);
        if (!more || !due_unseen(want, n))
            break;
    }
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < n; i++) {
        struct job *job = want[i].job;
        if (!want[i].due || want[i].seen)
            continue;
        if (want[i].confirm && job->confirm && !job->confirm->finishing) {
            job->confirm->misses++;
            job->confirm->at = later(e, MISS_WAIT);
        } else if (!want[i].confirm && job->following && job->transcode_misses < MAX_MISSES) {
            job->transcode_misses++;
        }
    }
    free(want);
    free(done);
}

/* The follower cannot ask: each job waiting ends as a worker's would
 * with no answer, done on the HEAD's proof. Caller holds e->lock. */
static void give_up(struct engine *e)
{
    while (e->nconfirm) {
        struct job *job = e->confirm[0];
        struct job *done[1] = { job };
        job->confirm->finishing = true;
        confirm_unlist(e, job);
        job_set_text(&job->note, NULL);
        pthread_mutex_unlock(&e->lock);
        confirm_finish_all(e, done, 1);
        pthread_mutex_lock(&e->lock);
    }
}

enum next { NEXT_WAIT, NEXT_LIST, NEXT_ASK_CONFIRM, NEXT_ASK_FOLLOWED };

/* What the follower does now: a listing, a question about one video
 * (*one), or wait until *wake (0: until signalled). Jobs no longer waiting
 * (paused, cancelled, out of the table) are dropped. Caller holds e->lock. */
static enum next next_step(struct engine *e, double now, struct job **one, double *wake)
{
    *wake = 0;
    *one = NULL;
    bool list = false;
    size_t fresh = 0;
    /* No upload under way or queued: no other job will join the batch. */
    bool alone = !e->uploads_running && !e->rq_len;
    for (size_t i = 0; i < e->nconfirm;) {
        struct job *job = e->confirm[i];
        struct confirm *c = job->confirm;
        if (job->state != ENGINE_VERIFYING) {
            confirm_end(e, job); /* cancelled: no done after that */
            continue;
        }
        fresh += !c->asked;
        if (c->at <= now || (!c->asked && alone)) {
            if (c->misses >= MAX_MISSES) {
                *one = job;
                return NEXT_ASK_CONFIRM;
            }
            list = true;
        } else if (!*wake || c->at < *wake) {
            *wake = c->at;
        }
        i++;
    }
    if (fresh >= API_LIST_PER_PAGE)
        list = true; /* a page's worth: waiting would only add pages */
    for (size_t i = 0; i < e->nfollow;) {
        struct job *job = e->follow[i];
        if (!followed(job)) {
            unfollow(e, job);
            continue;
        }
        if (job->transcode_at <= now) {
            if (job->transcode_misses >= MAX_MISSES) {
                *one = job;
                return NEXT_ASK_FOLLOWED;
            }
            list = true;
        } else if (!*wake || job->transcode_at < *wake) {
            *wake = job->transcode_at;
        }
        i++;
    }
    return list ? NEXT_LIST : NEXT_WAIT;
}

void *transcode_main(void *arg)
{
    struct engine *e = arg;
    struct net net;
    struct transport own = net_transport_engine(&net, e);
    struct vimeo_video_status *videos = calloc(API_LIST_PER_PAGE, sizeof *videos);
    pthread_mutex_lock(&e->lock);
    while (!atomic_load(&e->stopping) && net.http && videos) {
        const struct transport *t = e->follower_transport ? e->follower_transport : &own;
        double wake;
        struct job *one;
        switch (next_step(e, clock_mono(), &one, &wake)) {
        case NEXT_LIST:
            list_round(e, t, videos, clock_mono());
            engine_wake(e);
            break;
        case NEXT_ASK_CONFIRM:
            ask_confirm(e, one, t);
            engine_wake(e);
            break;
        case NEXT_ASK_FOLLOWED:
            ask(e, one, t);
            engine_wake(e);
            break;
        case NEXT_WAIT:
            e->follower_until = wake;
            if (wake) {
                struct timespec until = units_timespec(wake);
                pthread_cond_timedwait(&e->follow_ready, &e->lock, &until);
            } else {
                pthread_cond_wait(&e->follow_ready, &e->lock);
            }
            e->follower_until = -1;
            break;
        }
    }
    e->confirmer_down = true;
    if (!atomic_load(&e->stopping))
        give_up(e); /* out of memory: nobody will ask */
    /* Stopping: jobs still waiting stay verifying; engine_free saves them
     * as paused, and a resume proves their bytes again. */
    pthread_mutex_unlock(&e->lock);
    free(videos);
    http_free(net.http);
    return NULL;
}
