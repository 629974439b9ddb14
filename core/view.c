/* What front ends read: one job's details, the table (numbers of every row,
 * texts of the rows shown, the totals counted by blocks of jobs), the
 * events since the last look. Each takes e->lock briefly and copies out. */
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

/* What a table's totals add up of its rows (not the engine's settings). */
static void totals_add(struct engine_totals *to, const struct engine_totals *from)
{
    to->files += from->files;
    to->done += from->done;
    to->failed += from->failed;
    to->active += from->active;
    to->removed_done += from->removed_done;
    to->bytes += from->bytes;
    to->acked += from->acked;
    to->rate += from->rate;
    to->queued += from->queued;
    to->transcoding += from->transcoding;
    to->moved += from->moved;
}

void engine_window_begin(struct engine_window *w, struct engine_totals *totals)
{
    w->listed = 0;
    w->found_at = w->first_active = SIZE_MAX;
    *totals = (struct engine_totals){ 0 };
}

bool engine_window_take(struct engine_window *w, struct engine_totals *totals, const struct engine_numbers *row)
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

/* ---- the table in blocks (struct view_block) ------------------------------ */

/* Blocks that jobs jobs fill. */
static size_t blocks_for(size_t jobs)
{
    return (jobs + VIEW_BLOCK - 1) / VIEW_BLOCK;
}

/* One past block b's last job. */
static size_t block_end(const struct engine *e, size_t b)
{
    return (b + 1) * VIEW_BLOCK < e->njobs ? (b + 1) * VIEW_BLOCK : e->njobs;
}

bool view_reserve(struct engine *e, size_t jobs)
{
    size_t want = blocks_for(jobs);
    if (want <= e->blocks_cap)
        return true;
    size_t cap = e->blocks_cap ? e->blocks_cap * 2 : 4;
    cap = cap < want ? want : cap;
    struct view_block *more = realloc(e->blocks, cap * sizeof *more);
    if (!more)
        return false;
    memset(more + e->blocks_cap, 0, (cap - e->blocks_cap) * sizeof *more);
    e->blocks = more;
    e->blocks_cap = cap;
    return true;
}

static size_t blocks_used(const struct engine *e)
{
    return blocks_for(e->njobs);
}

/* A row of the table: not removed, not cancelled. */
static bool job_listed(const struct job *job)
{
    return !job->hidden && job->state != ENGINE_CANCELLED;
}

static void block_count(struct engine *e, size_t b)
{
    struct view_block *block = &e->blocks[b];
    *block = (struct view_block){ 0 };
    for (size_t i = b * VIEW_BLOCK, end = block_end(e, b); i < end; i++) {
        const struct job *job = e->jobs[i];
        block->running += job->running;
        block->sums.removed_done += job->hidden && job->kind == JOB_UPLOAD && job->state == ENGINE_DONE;
        if (!job_listed(job))
            continue;
        struct engine_numbers numbers;
        job_fill_counted(job, &numbers);
        count_row(&block->sums, &numbers);
        block->count[job->state]++;
    }
}

/* Every block's counts as its jobs are now, and the totals of them all. */
static void view_totals(struct engine *e, struct engine_totals *totals)
{
    *totals = (struct engine_totals){ .workers = e->target_workers, .rate_limit = bucket_rate(&e->bucket),
                                      .sent_bytes = engine_bytes_sent(e) };
    for (size_t b = 0, n = blocks_used(e); b < n; b++) {
        if (e->blocks[b].dirty || e->blocks[b].running)
            block_count(e, b);
        totals_add(totals, &e->blocks[b].sums);
    }
}

/* How many of a block's rows have a state in states. */
static size_t block_listed(const struct view_block *block, unsigned states)
{
    size_t n = 0;
    for (unsigned s = 0; s < ENGINE_STATE_COUNT; s++)
        n += states & ENGINE_STATE_BIT(s) ? block->count[s] : 0;
    return n;
}

static unsigned active_states(void)
{
    unsigned bits = 0;
    for (unsigned s = 0; s < ENGINE_STATE_COUNT; s++)
        bits |= engine_state_active((enum engine_state)s) ? ENGINE_STATE_BIT(s) : 0;
    return bits;
}

/* Block b's rows listed through w, the first of them at position at: where
 * find and the first active row are, and the wanted ones into rows (from
 * rows[n]); returns the new n. */
static size_t block_window(const struct engine *e, size_t b, size_t at, struct engine_window *w, unsigned states,
                           struct engine_row *rows, size_t n, double now)
{
    for (size_t i = b * VIEW_BLOCK, end = block_end(e, b); i < end; i++) {
        const struct job *job = e->jobs[i];
        if (!job_listed(job) || !(states & ENGINE_STATE_BIT(job->state)))
            continue;
        if (job->id == w->find)
            w->found_at = at;
        if (w->first_active == SIZE_MAX && engine_state_active(job->state))
            w->first_active = at;
        if (at >= w->first && at - w->first < w->max)
            job_fill_row(job, &rows[n++], now);
        at++;
    }
    return n;
}

size_t engine_snapshot_window(struct engine *e, struct engine_window *w, struct engine_row *rows,
                              struct engine_totals *totals)
{
    unsigned states = w->states ? w->states : ~0u;
    unsigned active = states & active_states();
    w->listed = 0;
    w->found_at = w->first_active = SIZE_MAX;
    size_t n = 0;
    pthread_mutex_lock(&e->lock);
    view_totals(e, totals);
    double now = clock_mono();
    for (size_t b = 0, nblocks = blocks_used(e); b < nblocks; b++) {
        const struct view_block *block = &e->blocks[b];
        size_t at = w->listed, listed = block_listed(block, states);
        w->listed += listed;
        bool finds = w->find && (w->find - 1) / VIEW_BLOCK == b;
        bool first_active = w->first_active == SIZE_MAX && block_listed(block, active);
        bool wanted = listed && w->listed > w->first && (at < w->first || at - w->first < w->max);
        if (finds || first_active || wanted)
            n = block_window(e, b, at, w, states, rows, n, now);
    }
    pthread_mutex_unlock(&e->lock);
    return n;
}

/* ---- the whole table ------------------------------------------------------- */

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
    view_totals(e, totals);
    size_t n = 0;
    if (reserve_rows(rows, cap, e->njobs, size)) {
        double now = clock_mono();
        for (size_t i = 0; i < e->njobs; i++) {
            const struct job *job = e->jobs[i];
            if (!job_listed(job))
                continue;
            /* A row's numbers come first in it: the same code fills both. */
            struct engine_row *row = (struct engine_row *)((char *)*rows + n++ * size);
            job_fill_numbers(job, &row->numbers, now);
            if (kind == SNAPSHOT_WHOLE)
                job_fill_texts(job, row);
            else if (kind == SNAPSHOT_NUMBERS)
                job_clear_texts(row);
        }
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
    bool settled = !e->tasks && !e->helper_busy && !e->unsettled &&
                   !(e->cfg.wait_transcode && transcode_pending(e));
    pthread_mutex_unlock(&e->lock);
    return settled;
}
