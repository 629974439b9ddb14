/* Jobs: their states, the run queue, the published view and the journal. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/clock.h"
#include "internal.h"

#define STATE_NAME(id, name, event) [ENGINE_##id] = name,
static const char *const state_names[] = { ENGINE_STATES(STATE_NAME) };
#undef STATE_NAME
#define STATE_EVENT(id, name, event) [ENGINE_##id] = ENGINE_EV_##event,
static const enum engine_event_kind state_events[] = { ENGINE_STATES(STATE_EVENT) };
#undef STATE_EVENT
#define EVENT_NAME(id, name) [ENGINE_EV_##id] = name,
static const char *const event_names[] = { ENGINE_EVENTS(EVENT_NAME) };
#undef EVENT_NAME

const char *engine_state_name(enum engine_state state)
{
    return (unsigned)state < ENGINE_STATE_COUNT ? state_names[state] : "unknown";
}

bool engine_state_parse(const char *name, enum engine_state *out)
{
    for (unsigned i = 0; i < ENGINE_STATE_COUNT; i++) {
        if (!strcmp(name, state_names[i])) {
            *out = (enum engine_state)i;
            return true;
        }
    }
    return false;
}

bool engine_state_final(enum engine_state state)
{
    return state == ENGINE_DONE || state == ENGINE_FAILED || state == ENGINE_CANCELLED;
}

bool engine_state_active(enum engine_state state)
{
    return state == ENGINE_CREATING || state == ENGINE_UPLOADING || state == ENGINE_RETRYING ||
           state == ENGINE_VERIFYING;
}

#define TRANSCODE_STATUS(id, status, shown) [ENGINE_TRANSCODE_##id] = status,
static const char *const transcode_statuses[] = { ENGINE_TRANSCODES(TRANSCODE_STATUS) };
#undef TRANSCODE_STATUS
#define TRANSCODE_SHOWN(id, status, shown) [ENGINE_TRANSCODE_##id] = shown,
static const char *const transcode_names[] = { ENGINE_TRANSCODES(TRANSCODE_SHOWN) };
#undef TRANSCODE_SHOWN

const char *engine_transcode_name(enum engine_transcode transcode)
{
    return (unsigned)transcode < ENGINE_TRANSCODE_COUNT ? transcode_names[transcode] : "";
}

const char *engine_transcode_status(enum engine_transcode transcode)
{
    return (unsigned)transcode < ENGINE_TRANSCODE_COUNT ? transcode_statuses[transcode] : "";
}

enum engine_transcode engine_transcode_parse(const char *status)
{
    for (unsigned i = 1; i < ENGINE_TRANSCODE_COUNT; i++)
        if (!strcmp(status, transcode_statuses[i]))
            return (enum engine_transcode)i;
    return ENGINE_TRANSCODE_UNKNOWN;
}

const char *engine_event_name(enum engine_event_kind kind)
{
    return (unsigned)kind < ENGINE_EV_COUNT ? event_names[kind] : "unknown";
}

void engine_wake(struct engine *e)
{
    wakeup_signal(&e->wakeup);
}

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

/* A heap copy of text, NULL for an empty one (or out of memory). */
static char *text_copy(const char *text)
{
    return text && text[0] ? strdup(text) : NULL;
}

/* The text a row shows beside its numbers: the error, else a note, else
 * the last verification. */
static const char *row_message(const struct job *job)
{
    if (job->error && job->state != ENGINE_DONE)
        return job->error;
    if (job->note)
        return job->note;
    return job_text(job->verified);
}

/* Numbers a job just queued has: none but its id, state and size. */
static bool numbers_bare(const struct engine_numbers *n)
{
    return n->transcode == ENGINE_TRANSCODE_UNKNOWN && !n->retries && !n->sent && !n->acked && n->rate == 0 &&
           n->retry_in == 0 && n->started == 0 && n->finished == 0;
}

static void emit_text(struct engine *e, enum engine_event_kind kind, const struct job *job, const char *message)
{
    if (e->nevents == e->events_cap && e->events_head) {
        /* Room at the front, from events taken: move the rest there, once. */
        memmove(e->events, e->events + e->events_head, (e->nevents - e->events_head) * sizeof *e->events);
        e->nevents -= e->events_head;
        e->events_head = 0;
    }
    if (e->nevents == e->events_cap) {
        size_t cap = e->events_cap ? e->events_cap * 2 : 64;
        struct pending_event *more = realloc(e->events, cap * sizeof *more);
        if (!more)
            return; /* an event lost to memory pressure beats a crash */
        e->events = more;
        e->events_cap = cap;
    }
    struct pending_event *p = &e->events[e->nevents++];
    *p = (struct pending_event){ .kind = kind, .state = job->state, .job = job, .time = clock_wall() };
    struct engine_numbers numbers;
    job_fill_numbers(job, &numbers, clock_mono());
    const char *shown = row_message(job);
    if (!numbers_bare(&numbers) || (message && message[0]) || job->video[0] || shown[0]) {
        /* The numbers as they are, the texts that change: the name is the
         * job's for good and is copied only when the event is taken. When
         * out of memory the event still says what happened. */
        p->detail = malloc(sizeof *p->detail);
        if (p->detail)
            *p->detail = (struct pending_detail){ .numbers = numbers, .message = text_copy(message),
                                                  .video = text_copy(job->video), .row_message = text_copy(shown) };
    }
    engine_wake(e);
}

void job_event_take(struct pending_event *p, struct engine_event *out)
{
    const struct job *job = p->job;
    const struct pending_detail *d = p->detail;
    *out = (struct engine_event){ .kind = p->kind, .job = job->id, .time = p->time };
    snprintf(out->message, sizeof out->message, "%s", d ? job_text(d->message) : "");
    struct engine_row *row = &out->row;
    row->numbers = d ? d->numbers : (struct engine_numbers){ .id = job->id, .state = p->state, .size = job->size };
    row->texts = true;
    copy_cut(row->name, sizeof row->name, job->name);
    copy_cut(row->video, sizeof row->video, d ? job_text(d->video) : "");
    copy_cut(row->message, sizeof row->message, d ? job_text(d->row_message) : "");
    job_event_free(p);
}

void job_event_free(struct pending_event *p)
{
    if (p->detail) {
        free(p->detail->message);
        free(p->detail->video);
        free(p->detail->row_message);
        free(p->detail);
        p->detail = NULL;
    }
}

void engine_emit(struct engine *e, enum engine_event_kind kind, const struct job *job, const char *fmt, ...)
{
    char message[sizeof ((struct engine_event *)0)->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    emit_text(e, kind, job, message);
}

/* Does entering state need a journal save of its own? The states a worker
 * passes through (creating, uploading, retrying, verifying) change nothing
 * a resume needs: the worker saves the video, the link and the offset
 * itself, as they change, and an upload's done before it is announced.
 * Where a job stops is a fact worth the write, and so is its going on
 * (resumed, it is queued again: `list` must not say paused). */
static bool saved_on_entry(const struct job *job, enum engine_state was, enum engine_state state)
{
    return state == ENGINE_PAUSED || state == ENGINE_FAILED || state == ENGINE_CANCELLED ||
           (state == ENGINE_DONE && job->kind == JOB_VERIFY) ||
           (state == ENGINE_QUEUED && (was == ENGINE_PAUSED || was == ENGINE_FAILED));
}

void job_enter(struct engine *e, struct job *job, enum engine_state state, const char *message)
{
    if (job->state == ENGINE_CANCELLED)
        return; /* a cancelled job never comes back */
    enum engine_state was = job->state;
    job->state = state;
    job->ahead = JOB_STATE_CURRENT;
    if (state == ENGINE_DONE || state == ENGINE_FAILED)
        job->finished = clock_wall();
    if (saved_on_entry(job, was, state))
        job_save_later(e, job);
    enum engine_event_kind kind = state_events[state];
    if (state == ENGINE_QUEUED && (was == ENGINE_PAUSED || was == ENGINE_FAILED))
        kind = ENGINE_EV_RESUMED;
    if (kind != ENGINE_EV_NONE)
        emit_text(e, kind, job, message);
    job_recount(e, job);
    engine_wake(e);
}

void job_recount(struct engine *e, struct job *job)
{
    e->blocks[(job->id - 1) / VIEW_BLOCK].dirty = true;
    bool unsettled = job->running || !(job->hidden || job->state == ENGINE_PAUSED || engine_state_final(job->state));
    if (unsettled != job->unsettled) {
        job->unsettled = unsettled;
        if (unsettled)
            e->unsettled++;
        else
            e->unsettled--;
    }
}

void job_fail(struct engine *e, struct job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    job_set_textv(&job->error, fmt, ap);
    va_end(ap);
    job_enter(e, job, ENGINE_FAILED, job_text(job->error));
}

struct job *job_new(struct engine *e, const char *path, enum job_kind kind)
{
    struct job *job = calloc(1, sizeof *job);
    if (!job || !(job->path = strdup(path))) {
        free(job);
        return NULL;
    }
    if (!view_reserve(e, e->njobs + 1)) {
        job_free(job);
        return NULL;
    }
    if (e->njobs == e->jobs_cap) {
        size_t cap = e->jobs_cap ? e->jobs_cap * 2 : 64;
        struct job **more = realloc(e->jobs, cap * sizeof *more);
        if (!more) {
            job_free(job);
            return NULL;
        }
        e->jobs = more;
        e->jobs_cap = cap;
    }
    const char *slash = strrchr(job->path, '/');
    job->name = slash ? slash + 1 : job->path;
    job->kind = kind;
    job->id = ++e->next_id;
    job->video = "";
    job->state = ENGINE_QUEUED;
    job->ahead = JOB_STATE_CURRENT;
    atomic_init(&job->sent, 0);
    atomic_init(&job->interrupt, false);
    e->jobs[e->njobs++] = job;
    job_recount(e, job);
    return job;
}

void job_from_entry(struct job *job, const struct journal_entry *entry)
{
    job->row = entry->id;
    job->records = true;
    job->size = entry->size;
    job->mtime_ns = entry->mtime_ns;
    job->ctime_ns = entry->ctime_ns;
    job->inode = entry->inode;
    snprintf(job->journal_state, sizeof job->journal_state, "%s", entry->state);
    job_set_video(job, entry->video);
    job_set_text(&job->link, entry->upload_link);
    job_set_text(&job->verified, entry->verified);
    job_set_text(&job->page, entry->page);
    job_set_text(&job->replaces, entry->replaces);
    job->transcode = engine_transcode_parse(entry->transcode);
    job->acked = entry->acked;
    atomic_store(&job->sent, entry->acked);
}

void job_free(struct job *job)
{
    job_meta_free(job->meta);
    free(job->path);
    job_set_video(job, NULL);
    free(job->link);
    free(job->error);
    free(job->verified);
    free(job->note);
    free(job->page);
    free(job->replaces);
    free(job->confirm);
    free(job);
}

void job_set_text(char **text, const char *value)
{
    free(*text);
    *text = text_copy(value);
}

void job_set_video(struct job *job, const char *video)
{
    /* "" is the one text not on the heap: a video is read as a string everywhere. */
    if (job->video[0])
        free((char *)job->video);
    char *copy = video && video[0] ? strndup(video, VIDEO_MAX - 1) : NULL;
    job->video = copy ? copy : "";
}

void job_set_textv(char **text, const char *fmt, va_list ap)
{
    free(*text);
    *text = NULL;
    char *formatted;
    if (vasprintf(&formatted, fmt, ap) < 0)
        return;
    if (formatted[0])
        *text = formatted;
    else
        free(formatted);
}

void job_set_textf(char **text, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    job_set_textv(text, fmt, ap);
    va_end(ap);
}

struct job *job_find(struct engine *e, unsigned id)
{
    return id && id <= e->njobs ? e->jobs[id - 1] : NULL;
}

bool job_schedule(struct engine *e, struct job *job)
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
    pthread_cond_signal(&e->work);
    return true;
}

struct job *runq_pop(struct engine *e)
{
    while (e->rq_len) {
        struct job *job = e->runq[e->rq_head];
        e->rq_head = (e->rq_head + 1) % e->rq_cap;
        e->rq_len--;
        job->queued = false;
        /* A job still held by the worker that ran it last is picked up by
         * that worker when it lets go (pool.c), never by a second one. */
        if (job->state == ENGINE_QUEUED && !job->running)
            return job;
    }
    return NULL;
}

/* ---- the journal ------------------------------------------------------------ */

void job_save_later(struct engine *e, struct job *job)
{
    if (!job->records || job->save_queued)
        return;
    job->save_queued = true;
    job->save_next = NULL;
    *e->saves_tail = job;
    e->saves_tail = &job->save_next;
    pthread_cond_signal(&e->saves_ready);
}

/* A copy of a job's row on its way to the journal. Pushed onto
 * e->save_pending by the thread that took it; written, with every other
 * copy waiting there, by the next thread to hold save_lock that finds it
 * not written yet; freed by the thread that took it. */
struct save {
    struct job *job;
    uint64_t seq;              /* the job's save_seq when it was taken */
    enum engine_state state;   /* what it says (for save_fault) */
    bool ended, ok, written;   /* under save_lock: decided; reached the journal; went into this transaction */
    char why[ERROR_MAX];       /* under save_lock: why it did not */
    struct save *next;         /* on e->save_pending */
    struct journal_entry entry;
};

struct save *job_save_start(struct engine *e, struct job *job, enum engine_state state)
{
    struct save *s = job->records ? calloc(1, sizeof *s) : NULL;
    if (!s)
        return NULL;
    struct journal_entry *entry = &s->entry;
    pthread_mutex_lock(&e->lock);
    /* Every copy taken while a state is being written ahead says that state,
     * so that whichever copy reaches the disk last, the row is right. */
    if (state != JOB_STATE_CURRENT && job->state != ENGINE_CANCELLED)
        job->ahead = state;
    state = job->state == ENGINE_CANCELLED ? ENGINE_CANCELLED
            : job->ahead != JOB_STATE_CURRENT ? job->ahead : job->state;
    entry->id = job->row;
    snprintf(entry->video, sizeof entry->video, "%s", job->video);
    snprintf(entry->upload_link, sizeof entry->upload_link, "%s", job_text(job->link));
    entry->acked = job->acked;
    snprintf(entry->state, sizeof entry->state, "%s",
             job->kind == JOB_VERIFY ? job->journal_state : engine_state_name(state));
    snprintf(entry->error, sizeof entry->error, "%s", job_text(job->error));
    snprintf(entry->verified, sizeof entry->verified, "%s", job_text(job->verified));
    snprintf(entry->page, sizeof entry->page, "%s", job_text(job->page));
    snprintf(entry->transcode, sizeof entry->transcode, "%s", engine_transcode_status(job->transcode));
    s->seq = ++job->save_seq;
    pthread_mutex_unlock(&e->lock);
    s->job = job;
    s->state = state;
    s->next = atomic_load(&e->save_pending);
    while (!atomic_compare_exchange_weak(&e->save_pending, &s->next, s))
        ;
    return s;
}

/* Newest last within each job. */
static int by_job_and_seq(const void *a, const void *b)
{
    const struct save *x = *(struct save *const *)a, *y = *(struct save *const *)b;
    if (x->job != y->job)
        return (uintptr_t)x->job < (uintptr_t)y->job ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Write the n copies in one transaction and decide each. Copies are taken
 * in order under e->lock but written by several threads: one older than
 * what reached the journal, or than another copy of the same job here, is
 * not written, and ends as the newer one did. Caller holds save_lock. */
static void write_saves(struct engine *e, struct save **all, size_t n, const struct journal_entry **rows)
{
    qsort(all, n, sizeof *all, by_job_and_seq);
    size_t nrows = 0;
    for (size_t i = 0; i < n; i++) {
        struct save *s = all[i];
        if (i + 1 < n && all[i + 1]->job == s->job)
            continue; /* a newer copy follows */
        if (s->seq <= s->job->written_seq)
            s->ok = s->ended = true;
        else if (e->save_fault && e->save_fault(s->job, s->state, s->why, sizeof s->why))
            s->ended = true;
        else
            rows[nrows++] = &s->entry, s->written = true;
    }
    char why[ERROR_MAX];
    bool ok = journal_save_many(e->journal, rows, nrows, why, sizeof why);
    if (nrows)
        e->save_transactions++;
    if (ok && nrows)
        e->journal_wrote_at = clock_mono();
    for (size_t i = n; i-- > 0;) {
        struct save *s = all[i], *newer = i + 1 < n && all[i + 1]->job == s->job ? all[i + 1] : NULL;
        if (newer) {
            s->ok = newer->ok;
            snprintf(s->why, sizeof s->why, "%s", newer->why);
        } else if (s->written) {
            s->ok = ok;
            if (ok)
                s->job->written_seq = s->seq;
            else
                snprintf(s->why, sizeof s->why, "%s", why);
        }
        s->ended = true;
    }
}

/* Write every copy waiting, in one transaction: while one is being
 * written, the copies other threads take meanwhile gather for the next
 * (four workers, the writer and the follower saving at once wrote four
 * transactions a file). Caller holds save_lock. */
static void write_pending(struct engine *e)
{
    struct save *batch = atomic_exchange(&e->save_pending, NULL);
    size_t n = 0;
    for (struct save *s = batch; s; s = s->next)
        n++;
    struct save **all = malloc(n * sizeof *all);
    const struct journal_entry **rows = malloc(n * sizeof *rows);
    if (all && rows) {
        n = 0;
        for (struct save *s = batch; s; s = s->next)
            all[n++] = s;
        write_saves(e, all, n, rows);
    } else {
        /* No memory for the batch: each copy alone (in any order: an
         * older one after a newer is not written). */
        const struct journal_entry *row[1];
        for (struct save *s = batch, *next; s; s = next) {
            next = s->next;
            write_saves(e, &s, 1, row);
        }
    }
    free(all);
    free(rows);
}

bool job_save_end(struct engine *e, struct job *job, struct save *s, char *why, size_t cap)
{
    if (!s)
        return job->records ? (snprintf(why, cap, "journal: out of memory"), false) : true;
    pthread_mutex_lock(&e->save_lock);
    if (!s->ended)
        write_pending(e); /* ours is there: a thread that took it would have decided it */
    bool ok = s->ok;
    if (!ok)
        snprintf(why, cap, "%s", s->why);
    pthread_mutex_unlock(&e->save_lock);
    free(s);
    return ok;
}

bool job_save_now(struct engine *e, struct job *job, enum engine_state state, char *why, size_t cap)
{
    return job_save_end(e, job, job_save_start(e, job, state), why, cap);
}

bool job_journal_wrote_lately(struct engine *e)
{
    pthread_mutex_lock(&e->save_lock);
    bool lately = e->journal_wrote_at > 0 && clock_mono() - e->journal_wrote_at < 1;
    pthread_mutex_unlock(&e->save_lock);
    return lately;
}

bool job_stat_matches(const struct job *job, const struct stat *st)
{
    /* A file put in its place with the same size and mtime is another
     * inode; one rewritten in place with its mtime put back has another
     * ctime. */
    return (uint64_t)st->st_size == job->size && (uint64_t)st->st_ino == job->inode &&
           (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec == job->mtime_ns &&
           (!job->ctime_ns || (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec == job->ctime_ns);
}

bool job_file_unchanged(const struct job *job, int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && job_stat_matches(job, &st);
}

/* ---- the published view ---------------------------------------------------- */


void job_fill_numbers(const struct job *job, struct engine_numbers *row, double now)
{
    job_fill_counted(job, row);
    row->retries = job->retries;
    double left = job->retry_at - now;
    row->retry_in = job->state == ENGINE_RETRYING && left > 0 ? left : 0;
    row->started = job->started;
    row->finished = job->finished;
}

void job_clear_texts(struct engine_row *row)
{
    row->name[0] = row->video[0] = row->message[0] = '\0';
    row->texts = false;
}

void job_fill_texts(const struct job *job, struct engine_row *row)
{
    copy_cut(row->name, sizeof row->name, job->name);
    copy_cut(row->video, sizeof row->video, job->video);
    copy_cut(row->message, sizeof row->message, row_message(job));
    row->texts = true;
}

void job_fill_row(const struct job *job, struct engine_row *row, double now)
{
    job_fill_numbers(job, &row->numbers, now);
    job_fill_texts(job, row);
}
