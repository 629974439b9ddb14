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

static void count_row(struct engine_totals *totals, const struct engine_numbers *row)
{
    totals->files++;
    totals->bytes += row->size;
    totals->acked += row->acked;
    totals->rate += row->rate;
    totals->done += row->state == ENGINE_DONE;
    totals->failed += row->state == ENGINE_FAILED;
    totals->active += engine_state_active(row->state);
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

static size_t snapshot(struct engine *e, void **rows, size_t *cap, struct engine_totals *totals,
                       enum snapshot_kind kind)
{
    size_t size = kind == SNAPSHOT_COMPACT ? sizeof(struct engine_numbers) : sizeof(struct engine_row);
    pthread_mutex_lock(&e->lock);
    *totals = (struct engine_totals){ .workers = e->target_workers, .rate_limit = bucket_rate(&e->bucket) };
    if (!reserve_rows(rows, cap, e->njobs, size)) {
        pthread_mutex_unlock(&e->lock);
        return 0;
    }
    double now = clock_mono();
    size_t n = 0;
    for (size_t i = 0; i < e->njobs; i++) {
        const struct job *job = e->jobs[i];
        totals->removed_done += job->hidden && job->kind == JOB_UPLOAD && job->state == ENGINE_DONE;
        if (job->hidden || job->state == ENGINE_CANCELLED)
            continue;
        /* A row's numbers come first in it: the same code fills both. */
        struct engine_numbers *numbers = (struct engine_numbers *)((char *)*rows + n++ * size);
        job_fill_numbers(job, numbers, now);
        if (kind == SNAPSHOT_WHOLE)
            job_fill_texts(job, (struct engine_row *)numbers);
        else if (kind == SNAPSHOT_NUMBERS)
            job_clear_texts((struct engine_row *)numbers);
        count_row(totals, numbers);
    }
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
    bool settled = !e->tasks && !e->helper_busy && !(e->cfg.wait_transcode && transcode_pending(e));
    for (size_t i = 0; i < e->njobs && settled; i++) {
        const struct job *job = e->jobs[i];
        settled = !job->running && (job->hidden || job->state == ENGINE_PAUSED || engine_state_final(job->state));
    }
    pthread_mutex_unlock(&e->lock);
    return settled;
}
