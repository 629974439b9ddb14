/* What front ends read: one job's details, the table (numbers of every row,
 * texts of the rows shown), the events since the last look. Each takes
 * e->lock briefly and copies out. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util/clock.h"

enum { EVENTS_KEPT = 4096 }; /* room for events kept once they are all taken */

bool engine_details(struct engine *e, unsigned id, struct engine_details *out)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = job_find(e, id);
    if (job) {
        job_fill_row(job, &out->row, clock_mono());
        snprintf(out->path, sizeof out->path, "%s", job->path);
        snprintf(out->upload_link, sizeof out->upload_link, "%s", job_text(job->link));
        snprintf(out->error, sizeof out->error, "%s", job_text(job->error));
        snprintf(out->verified, sizeof out->verified, "%s", job_text(job->verified));
        snprintf(out->note, sizeof out->note, "%s", job_text(job->note));
        snprintf(out->page, sizeof out->page, "%s", job_text(job->page));
    }
    pthread_mutex_unlock(&e->lock);
    return job != NULL;
}

/* Bytes a row has on their way or there (struct engine_totals' moved). */
static uint64_t row_moved(const struct engine_numbers *row)
{
    if (row->state == ENGINE_DONE)
        return row->size;
    uint64_t moved = row->sent > row->acked ? row->sent : row->acked;
    return moved < row->size ? moved : row->size;
}

static inline void count_row(struct engine_totals *totals, const struct engine_numbers *row)
{
    totals->files++;
    totals->bytes += row->size;
    totals->acked += row->acked;
    totals->rate += row->rate;
    totals->done += row->state == ENGINE_DONE;
    totals->failed += row->state == ENGINE_FAILED;
    totals->active += engine_state_active(row->state);
    totals->queued += row->state == ENGINE_QUEUED;
    totals->transcoding += row->transcode == ENGINE_TRANSCODE_IN_PROGRESS;
    totals->moved += row_moved(row);
}

void engine_window_begin(struct engine_window *w, struct engine_totals *totals)
{
    w->listed = 0;
    w->found_at = w->first_active = SIZE_MAX;
    *totals = (struct engine_totals){ 0 };
}

/* engine_window_take, inline in the walk over every job. */
static inline bool window_take(struct engine_window *w, struct engine_totals *totals, const struct engine_numbers *row)
{
    count_row(totals, row);
    if (w->states && !(w->states & ENGINE_STATE_BIT(row->state)))
        return false;
    size_t at = w->listed++;
    if (w->find && row->id == w->find)
        w->found_at = at;
    if (w->first_active == SIZE_MAX && engine_state_active(row->state))
        w->first_active = at;
    return at >= w->first && at - w->first < w->max;
}

bool engine_window_take(struct engine_window *w, struct engine_totals *totals, const struct engine_numbers *row)
{
    return window_take(w, totals, row);
}

/* Room for n rows of size bytes each in the caller's buffer; false when out
 * of memory. */
static bool reserve_rows(void **rows, size_t *cap, size_t n, size_t size)
{
    if (*cap >= n)
        return true;
    /* Room to grow, so that adding files does not reallocate each frame. */
    size_t want = n + n / 4 + 16;
    void *grown = realloc(*rows, want * size);
    if (!grown)
        return false;
    *rows = grown;
    *cap = want;
    return true;
}

/* What a snapshot copies of each row: its numbers only (struct
 * engine_numbers), or a struct engine_row with its texts empty, or whole. */
enum snapshot_kind { SNAPSHOT_COMPACT, SNAPSHOT_NUMBERS, SNAPSHOT_WHOLE };

/* Every row of the table in order through w: the numbers of those it wants
 * into rows (each size bytes, as kind says), the totals of all. Caller
 * holds e->lock. */
static size_t walk(struct engine *e, struct engine_window *w, void *rows, size_t size, enum snapshot_kind kind,
                   struct engine_totals *totals)
{
    engine_window_begin(w, totals);
    totals->workers = e->target_workers;
    totals->rate_limit = bucket_rate(&e->bucket);
    totals->sent_bytes = engine_bytes_sent(e);
    double now = clock_mono();
    size_t n = 0;
    for (size_t i = 0; i < e->njobs; i++) {
        const struct job *job = e->jobs[i];
        totals->removed_done += job->hidden && job->kind == JOB_UPLOAD && job->state == ENGINE_DONE;
        if (job->hidden || job->state == ENGINE_CANCELLED)
            continue;
        struct engine_numbers numbers;
        job_fill_counted(job, &numbers);
        if (!window_take(w, totals, &numbers))
            continue;
        job_fill_numbers(job, &numbers, now);
        /* A row's numbers come first in it: the same code fills both. */
        struct engine_row *row = (struct engine_row *)((char *)rows + n++ * size);
        row->numbers = numbers;
        if (kind == SNAPSHOT_WHOLE)
            job_fill_texts(job, row);
        else if (kind == SNAPSHOT_NUMBERS)
            job_clear_texts(row);
    }
    return n;
}

static size_t snapshot(struct engine *e, void **rows, size_t *cap, struct engine_totals *totals,
                       enum snapshot_kind kind)
{
    size_t size = kind == SNAPSHOT_COMPACT ? sizeof(struct engine_numbers) : sizeof(struct engine_row);
    struct engine_window every = { .max = SIZE_MAX };
    pthread_mutex_lock(&e->lock);
    size_t n = 0;
    if (reserve_rows(rows, cap, e->njobs, size))
        n = walk(e, &every, *rows, size, kind, totals);
    else
        *totals = (struct engine_totals){ .workers = e->target_workers, .rate_limit = bucket_rate(&e->bucket),
                                          .sent_bytes = engine_bytes_sent(e) };
    pthread_mutex_unlock(&e->lock);
    return n;
}

size_t engine_snapshot_window(struct engine *e, struct engine_window *w, struct engine_row *rows,
                              struct engine_totals *totals)
{
    pthread_mutex_lock(&e->lock);
    size_t n = walk(e, w, rows, sizeof *rows, SNAPSHOT_WHOLE, totals);
    pthread_mutex_unlock(&e->lock);
    return n;
}

size_t engine_snapshot(struct engine *e, struct engine_row **rows, size_t *cap, struct engine_totals *totals)
{
    return snapshot(e, (void **)rows, cap, totals, SNAPSHOT_WHOLE);
}

size_t engine_snapshot_numbers(struct engine *e, struct engine_row **rows, size_t *cap, struct engine_totals *totals)
{
    return snapshot(e, (void **)rows, cap, totals, SNAPSHOT_NUMBERS);
}

size_t engine_snapshot_compact(struct engine *e, struct engine_numbers **rows, size_t *cap,
                               struct engine_totals *totals)
{
    return snapshot(e, (void **)rows, cap, totals, SNAPSHOT_COMPACT);
}

void engine_fill_texts(struct engine *e, struct engine_row *rows, size_t n)
{
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < n; i++) {
        const struct job *job = job_find(e, rows[i].id);
        if (job)
            job_fill_texts(job, &rows[i]);
    }
    pthread_mutex_unlock(&e->lock);
}

size_t engine_events(struct engine *e, struct engine_event *out, size_t max)
{
    pthread_mutex_lock(&e->lock);
    /* Taken from the front without moving the rest: 10,000 queued events
     * read 64 at a time must not be moved 150 times. */
    size_t waiting = e->nevents - e->events_head;
    size_t n = waiting < max ? waiting : max;
    for (size_t i = 0; i < n; i++)
        job_event_take(&e->events[e->events_head + i], &out[i]);
    e->events_head += n;
    if (e->events_head == e->nevents) {
        e->events_head = e->nevents = 0;
        /* 100,000 files added at once left room for as many events: give
         * it back once they are taken. */
        if (e->events_cap > EVENTS_KEPT) {
            free(e->events);
            e->events = NULL;
            e->events_cap = 0;
        }
    }
    pthread_mutex_unlock(&e->lock);
    return n;
}

bool engine_settled(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool settled = !e->tasks && !e->helper_busy && !e->unsettled &&
                   !(e->cfg.wait_transcode && transcode_pending(e));
    pthread_mutex_unlock(&e->lock);
    return settled;
}
