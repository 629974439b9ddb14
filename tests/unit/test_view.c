/* What a queued job costs and what front ends read of the table (core/view.c),
 * on an engine whose jobs are set by hand: no worker runs them, no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

static char dir[64];
static struct engine *e;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/vimeo-up-view.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char err[256];
    struct engine_config config = { .api_base = "http://127.0.0.1:9", .token = "t", .state_dir = dir, .workers = 1 };
    /* Its workers find nothing to run: job_add never schedules a job. */
    e = engine_new(&config, err, sizeof err);
    return e ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    engine_free(e);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    return system(command) == 0 ? 0 : -1;
}

/* A job in the table, never scheduled. Caller holds e->lock. */
static struct job *job_add(const char *path, uint64_t size)
{
    struct job *job = job_new(e, path, JOB_UPLOAD);
    assert_non_null(job);
    job->size = size;
    return job;
}

/* 100,000 queued files in 64 MiB leave a job about 300 bytes with its
 * path and the engine's indexes: no empty text buffer, no padding. With
 * malloc's 8 bytes, a job is one 288-byte chunk. */
static void a_queued_job_is_one_small_chunk(void **state)
{
    (void)state;
    assert_true(sizeof(struct job) <= 280);
    pthread_mutex_lock(&e->lock);
    struct job *job = job_add("/tmp/queued.mp4", 1);
    assert_string_equal(job->video, "");
    assert_null(job->link);
    assert_null(job->error);
    assert_null(job->verified);
    assert_null(job->note);
    assert_null(job->page);
    pthread_mutex_unlock(&e->lock);
}

/* The video is a text at its length like the others, "" when there is none,
 * cut as the journal's column and the old buffer were. */
static void a_video_is_kept_at_its_length(void **state)
{
    (void)state;
    pthread_mutex_lock(&e->lock);
    struct job *job = job_add("/tmp/video.mp4", 1);
    job_set_video(job, "/videos/76979871:a1b2c3");
    assert_string_equal(job->video, "/videos/76979871:a1b2c3");
    struct engine_row row;
    job_fill_row(job, &row, 0);
    assert_string_equal(row.video, "/videos/76979871:a1b2c3");
    char long_uri[300];
    memset(long_uri, '7', sizeof long_uri - 1);
    long_uri[sizeof long_uri - 1] = '\0';
    job_set_video(job, long_uri);
    assert_int_equal(strlen(job->video), VIDEO_MAX - 1);
    job_set_video(job, "");
    assert_string_equal(job->video, "");
    job_set_video(job, "/videos/1");
    job_set_video(job, NULL);
    assert_string_equal(job->video, "");
    job_set_video(job, "/videos/2"); /* freed with the job */
    pthread_mutex_unlock(&e->lock);
}

/* A table of jobs in every state, some removed, with numbers and texts
 * drawn from seed. Caller holds e->lock. */
static void random_table(unsigned seed, size_t count)
{
    srand(seed);
    for (size_t i = 0; i < count; i++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/table/clip-%zu.mp4", i);
        struct job *job = job_add(path, 1 + (uint64_t)(rand() % 5000));
        job->state = (enum engine_state)(rand() % ENGINE_STATE_COUNT);
        job->hidden = rand() % 10 == 0;
        job->acked = (uint64_t)rand() % (job->size + 1);
        atomic_store(&job->sent, job->acked + (uint64_t)(rand() % 3000)); /* past the size, too */
        job->rate = job->state == ENGINE_UPLOADING ? rand() % 1000 : 0;
        job->transcode = (enum engine_transcode)(rand() % ENGINE_TRANSCODE_COUNT);
        if (rand() % 2)
            job_set_video(job, "/videos/7");
        if (job->state == ENGINE_FAILED)
            job_set_textf(&job->error, "failed %zu", i);
    }
}

/* The totals of a full snapshot's rows, counted here as the issue words
 * them, with the engine's own settings copied from got. */
static struct engine_totals expected_totals(const struct engine_row *rows, size_t n, const struct engine_totals *got)
{
    struct engine_totals t = { .workers = got->workers, .rate_limit = got->rate_limit, .sent_bytes = got->sent_bytes };
    for (size_t i = 0; i < n; i++) {
        const struct engine_row *r = &rows[i];
        t.files++;
        t.bytes += r->size;
        t.acked += r->acked;
        t.rate += r->rate;
        t.done += r->state == ENGINE_DONE;
        t.failed += r->state == ENGINE_FAILED;
        t.active += engine_state_active(r->state);
        t.queued += r->state == ENGINE_QUEUED;
        t.transcoding += r->transcode == ENGINE_TRANSCODE_IN_PROGRESS;
        uint64_t on_way = r->sent > r->acked ? r->sent : r->acked;
        t.moved += r->state == ENGINE_DONE ? r->size : on_way < r->size ? on_way : r->size;
    }
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->njobs; i++) {
        const struct job *job = e->jobs[i];
        t.removed_done += job->hidden && job->kind == JOB_UPLOAD && job->state == ENGINE_DONE;
    }
    pthread_mutex_unlock(&e->lock);
    return t;
}

/* Field by field: a struct's padding is nobody's number. */
static void assert_totals_equal(const struct engine_totals *a, const struct engine_totals *b)
{
    assert_int_equal(a->files, b->files);
    assert_int_equal(a->done, b->done);
    assert_int_equal(a->failed, b->failed);
    assert_int_equal(a->active, b->active);
    assert_int_equal(a->removed_done, b->removed_done);
    assert_int_equal(a->bytes, b->bytes);
    assert_int_equal(a->acked, b->acked);
    assert_true(a->rate == b->rate);
    assert_int_equal(a->workers, b->workers);
    assert_int_equal(a->rate_limit, b->rate_limit);
    assert_int_equal(a->queued, b->queued);
    assert_int_equal(a->transcoding, b->transcoding);
    assert_int_equal(a->moved, b->moved);
    assert_int_equal(a->sent_bytes, b->sent_bytes);
}

/* The whole table, checked against its totals counted here. */
static size_t whole_table(struct engine_row **whole, size_t *cap, struct engine_totals *totals)
{
    size_t n = engine_snapshot(e, whole, cap, totals);
    struct engine_totals expected = expected_totals(*whole, n, totals);
    assert_totals_equal(totals, &expected);
    return n;
}

/* A window of the table is the same rows as the whole table's n rows, in
 * the same order, with the same totals, and finds what a dashboard looks
 * for in the whole table: a job's position and the first active row's. */
static void assert_window_matches(const struct engine_row *whole, size_t n, const struct engine_totals *whole_totals,
                                  struct engine_window w)
{
    struct engine_row rows[40];
    assert_true(w.max <= sizeof rows / sizeof rows[0]);
    struct engine_totals totals;
    size_t got = engine_snapshot_window(e, &w, rows, &totals);
    assert_totals_equal(&totals, whole_totals);
    /* The same walk over the whole snapshot, as the test sees it. */
    size_t listed = 0, copied = 0, found_at = SIZE_MAX, first_active = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (w.states && !(w.states & ENGINE_STATE_BIT(whole[i].state)))
            continue;
        if (whole[i].id == w.find)
            found_at = listed;
        if (first_active == SIZE_MAX && engine_state_active(whole[i].state))
            first_active = listed;
        if (listed >= w.first && listed < w.first + w.max) {
            assert_true(copied < got);
            assert_memory_equal(&rows[copied].numbers, &whole[i].numbers, sizeof whole[i].numbers);
            assert_true(rows[copied].texts);
            assert_string_equal(rows[copied].name, whole[i].name);
            assert_string_equal(rows[copied].video, whole[i].video);
            assert_string_equal(rows[copied].message, whole[i].message);
            copied++;
        }
        listed++;
    }
    assert_int_equal(got, copied);
    assert_int_equal(w.listed, listed);
    assert_int_equal(w.found_at, found_at);
    assert_int_equal(w.first_active, first_active);
}

/* A window as a front end might ask for one, over a table of about n rows
 * of ids up to max_id. */
static struct engine_window random_window(size_t n, unsigned max_id, int round)
{
    unsigned states = round % 3 == 0 ? 0 : (unsigned)rand() & ((1u << ENGINE_STATE_COUNT) - 1);
    return (struct engine_window){ .first = (size_t)rand() % (n + 10), .max = (size_t)rand() % 41,
                                   .states = states, .find = 1 + (unsigned)rand() % (max_id + 20) };
}

static void a_window_is_the_same_rows_as_the_whole_table(void **state)
{
    (void)state;
    pthread_mutex_lock(&e->lock);
    random_table(16, 500);
    pthread_mutex_unlock(&e->lock);
    struct engine_row *whole = NULL;
    size_t cap = 0;
    struct engine_totals whole_totals;
    size_t n = whole_table(&whole, &cap, &whole_totals);
    assert_true(n > 300 && n < 500); /* some removed, some hidden */
    srand(17);
    for (int round = 0; round < 200; round++)
        assert_window_matches(whole, n, &whole_totals, random_window(n, 500, round));
    free(whole);
}

/* The table's counts are kept by blocks of jobs, counted again only where
 * a job changed: after every kind of change a job goes through, and with a
 * worker's bytes moving without a word, windows and totals are still those
 * of the whole table. */
static void the_counts_follow_every_change(void **state)
{
    (void)state;
    enum { JOBS = 3000 };
    pthread_mutex_lock(&e->lock);
    random_table(23, JOBS);
    pthread_mutex_unlock(&e->lock);
    struct engine_row *whole = NULL;
    size_t cap = 0;
    srand(29);
    for (int round = 0; round < 600; round++) {
        pthread_mutex_lock(&e->lock);
        for (int change = rand() % 4; change >= 0; change--) {
            struct job *job = e->jobs[(size_t)rand() % e->njobs];
            switch (rand() % 5) {
            case 0: job_enter(e, job, (enum engine_state)(rand() % ENGINE_STATE_COUNT), NULL); break;
            case 1: job->hidden = !job->hidden; job_recount(e, job); break;
            case 2: job->running = !job->running; job_recount(e, job); break;
            case 3:
                job->transcode = (enum engine_transcode)(rand() % ENGINE_TRANSCODE_COUNT);
                job_recount(e, job);
                break;
            case 4: job_new(e, "/tmp/table/late.mp4", JOB_UPLOAD)->size = 77; break;
            }
        }
        /* A worker's transfer moves its job's numbers and says nothing. */
        for (size_t i = 0; i < e->njobs; i++) {
            struct job *job = e->jobs[i];
            if (job->running && job->acked < job->size) {
                job->acked++;
                atomic_store(&job->sent, job->acked + 2);
                job->rate = (double)(rand() % 1000);
            }
        }
        size_t jobs = e->njobs;
        pthread_mutex_unlock(&e->lock);
        struct engine_totals whole_totals;
        size_t n = whole_table(&whole, &cap, &whole_totals);
        assert_window_matches(whole, n, &whole_totals, random_window(n, (unsigned)jobs, round));
    }
    free(whole);
}

/* The engine finds the job of a file added again, under its name or a hard
 * link's, among thousands (its index grows as they come); a removed job's
 * file gets a new job, found from then on. */
static void a_file_added_again_is_found_among_thousands(void **state)
{
    (void)state;
    enum { FILES = 3000 };
    static unsigned ids[FILES];
    char path[128], link_path[128], err[256];
    for (int i = 0; i < FILES; i++) {
        snprintf(path, sizeof path, "%s/f%d.bin", dir, i);
        snprintf(link_path, sizeof link_path, "%s/link%d.bin", dir, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "file %d\n", i);
        fclose(f);
        assert_int_equal(link(path, link_path), 0);
        ids[i] = engine_add(e, path, err, sizeof err);
        assert_int_not_equal(ids[i], 0);
    }
    for (int i = 0; i < FILES; i++) {
        snprintf(path, sizeof path, "%s/f%d.bin", dir, i);
        snprintf(link_path, sizeof link_path, "%s/link%d.bin", dir, i);
        assert_int_equal(engine_add(e, path, err, sizeof err), ids[i]);
        assert_int_equal(engine_add(e, link_path, err, sizeof err), ids[i]);
    }
    engine_cancel(e, ids[7], false);
    snprintf(path, sizeof path, "%s/f7.bin", dir);
    snprintf(link_path, sizeof link_path, "%s/link7.bin", dir);
    unsigned again = engine_add(e, path, err, sizeof err);
    assert_int_not_equal(again, 0);
    assert_int_not_equal(again, ids[7]);
    assert_int_equal(engine_add(e, link_path, err, sizeof err), again);
    pthread_mutex_lock(&e->lock);
    assert_int_equal(e->njobs, FILES + 1);
    pthread_mutex_unlock(&e->lock);
}

/* engine_settled counts rather than walks: every change of a job's state,
 * running or hidden keeps that count right, behind 10,000 settled jobs too.
 * Each change takes the lock itself, so that a failed assert never leaves it
 * held for the teardown. */
enum change { ENTER, RUNNING, HIDDEN };

static bool settled_after(struct job *job, enum change change, int value)
{
    pthread_mutex_lock(&e->lock);
    if (change == ENTER)
        job_enter(e, job, (enum engine_state)value, NULL);
    else {
        *(change == RUNNING ? &job->running : &job->hidden) = value;
        job_recount(e, job);
    }
    pthread_mutex_unlock(&e->lock);
    return engine_settled(e);
}

static struct job *job_added(const char *path)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = job_add(path, 1);
    pthread_mutex_unlock(&e->lock);
    return job;
}

static void settled_follows_every_job_change(void **state)
{
    (void)state;
    assert_true(engine_settled(e));
    for (int i = 0; i < 10000; i++)
        assert_true(settled_after(job_added("/tmp/done.mp4"), ENTER, ENGINE_DONE));
    struct job *job = job_added("/tmp/last.mp4");
    assert_false(engine_settled(e)); /* queued */
    assert_true(settled_after(job, ENTER, ENGINE_PAUSED));
    assert_false(settled_after(job, RUNNING, true)); /* a worker still holds it */
    assert_true(settled_after(job, RUNNING, false));
    assert_false(settled_after(job, ENTER, ENGINE_QUEUED)); /* resumed */
    assert_false(settled_after(job, ENTER, ENGINE_UPLOADING));
    assert_true(settled_after(job, HIDDEN, true));
    assert_false(settled_after(job, HIDDEN, false));
    assert_true(settled_after(job, ENTER, ENGINE_CANCELLED));
    assert_true(settled_after(job, ENTER, ENGINE_QUEUED)); /* a cancelled job never comes back */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_queued_job_is_one_small_chunk),
        T(a_video_is_kept_at_its_length),
        T(a_window_is_the_same_rows_as_the_whole_table),
        T(the_counts_follow_every_change),
        T(a_file_added_again_is_found_among_thousands),
        T(settled_follows_every_job_change),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
