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

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_queued_job_is_one_small_chunk),
        T(a_video_is_kept_at_its_length),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
