/* The engine through its public header, against a real sandbox: pause stops
 * the bytes within a second, resume continues from the server's offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "engine.h"
#include "fixture.h"

static enum engine_state state_of(struct engine *e, unsigned id)
{
    struct engine_details d;
    assert_true(engine_details(e, id, &d));
    return d.row.state;
}

/* How many events of each kind are waiting (taken). */
static void count_events(struct engine *e, int counts[ENGINE_EV_COUNT])
{
    struct engine_event events[64];
    size_t n = engine_events(e, events, 64);
    memset(counts, 0, ENGINE_EV_COUNT * sizeof *counts);
    for (size_t i = 0; i < n; i++)
        counts[events[i].kind]++;
}

static void pause_stops_bytes_and_resume_finishes(void **state)
{
    (void)state;
    char file[128], err[256];
    snprintf(file, sizeof file, "%s/paused.bin", dir);
    FILE *f = fopen(file, "w");
    for (int i = 0; i < (8 << 20) / 64; i++)
        fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", f);
    fclose(f);
    struct engine_config config = { .api_base = sandbox_url, .token = "t", .state_dir = dir, .workers = 2,
                                    .chunk_size = 0, .rate_limit = 2 << 20, .stall_seconds = 30 };
    struct engine *e = engine_new(&config, err, sizeof err);
    assert_non_null(e);
    assert_true(engine_check_api(e, err, sizeof err));
    unsigned id = engine_add(e, file, err, sizeof err);
    assert_int_not_equal(id, 0);
    for (int i = 0; i < 100 && server_offset() < (1 << 20); i++)
        sleep_ms(50);
    assert_true(server_offset() >= (1 << 20));

    engine_pause(e, id);
    for (int i = 0; i < 20 && state_of(e, id) != ENGINE_PAUSED; i++)
        sleep_ms(50);
    assert_int_equal(state_of(e, id), ENGINE_PAUSED); /* within a second */
    long long paused_at = server_offset();
    sleep_ms(1500);
    assert_int_equal(server_offset(), paused_at); /* no bytes while paused */
    assert_true(engine_settled(e));

    engine_resume(e, id);
    for (int i = 0; i < 200 && state_of(e, id) != ENGINE_DONE; i++)
        sleep_ms(50);
    assert_int_equal(state_of(e, id), ENGINE_DONE);
    assert_int_equal(server_offset(), 8 << 20);
    int counts[ENGINE_EV_COUNT];
    count_events(e, counts);
    assert_int_equal(counts[ENGINE_EV_PAUSED], 1);
    assert_int_equal(counts[ENGINE_EV_RESUMED], 1);
    engine_free(e);
}

static void rate_cap_and_workers_change_while_running(void **state)
{
    (void)state;
    char err[256];
    struct engine_config config = { .api_base = sandbox_url, .token = "t", .state_dir = dir, .workers = 1,
                                    .rate_limit = 0, .stall_seconds = 30 };
    struct engine *e = engine_new(&config, err, sizeof err);
    assert_non_null(e);
    engine_set_workers(e, 3);
    engine_set_rate_limit(e, 1 << 20);
    struct engine_row *rows = NULL;
    size_t cap = 0;
    struct engine_totals totals;
    size_t n = engine_snapshot(e, &rows, &cap, &totals);
    assert_int_equal(n, 0);
    assert_int_equal(totals.workers, 3);
    assert_int_equal(totals.rate_limit, 1 << 20);
    free(rows);
    engine_free(e);
}

/* A dashboard copies the numbers of every row and the texts of the rows it
 * shows: the two halves must add up to the whole snapshot. */
/* An engine with count small files named PREFIX-N.bin queued. */
static struct engine *engine_with_files(const char *prefix, int count)
{
    char err[256], file[128];
    struct engine_config config = { .api_base = sandbox_url, .token = "t", .state_dir = dir, .workers = 2,
                                    .stall_seconds = 30 };
    struct engine *e = engine_new(&config, err, sizeof err);
    assert_non_null(e);
    assert_true(engine_check_api(e, err, sizeof err));
    for (int i = 0; i < count; i++) {
        snprintf(file, sizeof file, "%s/%s-%d.bin", dir, prefix, i);
        FILE *f = fopen(file, "w");
        fprintf(f, "file %d\n", i * 100);
        fclose(f);
        assert_int_not_equal(engine_add(e, file, err, sizeof err), 0);
    }
    return e;
}

static void numbers_and_texts_make_the_whole_snapshot(void **state)
{
    (void)state;
    char file[128];
    struct engine *e = engine_with_files("texts", 3);
    snprintf(file, sizeof file, "%s/texts-missing.bin", dir);
    assert_int_not_equal(engine_add_refused(e, file, "missing: no such file"), 0);
    for (int i = 0; i < 200 && !engine_settled(e); i++)
        sleep_ms(50);
    assert_true(engine_settled(e));

    struct engine_row *whole = NULL, *numbers = NULL;
    size_t whole_cap = 0, numbers_cap = 0;
    struct engine_totals whole_totals, numbers_totals;
    size_t n = engine_snapshot(e, &whole, &whole_cap, &whole_totals);
    assert_int_equal(engine_snapshot_numbers(e, &numbers, &numbers_cap, &numbers_totals), n);
    assert_int_equal(n, 4);
    assert_memory_equal(&whole_totals, &numbers_totals, sizeof whole_totals);
    for (size_t i = 0; i < n; i++) {
        assert_true(whole[i].texts);
        assert_false(numbers[i].texts);
        assert_string_equal(numbers[i].name, "");
        assert_int_equal(numbers[i].id, whole[i].id);
        assert_int_equal(numbers[i].state, whole[i].state);
        assert_int_equal(numbers[i].acked, whole[i].acked);
    }
    engine_fill_texts(e, numbers + 1, n - 1);
    assert_false(numbers[0].texts);
    for (size_t i = 1; i < n; i++) {
        assert_true(numbers[i].texts);
        assert_string_equal(numbers[i].name, whole[i].name);
        assert_string_equal(numbers[i].video, whole[i].video);
        assert_string_equal(numbers[i].message, whole[i].message);
    }
    assert_string_equal(numbers[3].name, "texts-missing.bin");
    assert_string_equal(numbers[3].message, "missing: no such file");
    assert_string_not_equal(numbers[1].video, "");
    free(whole);
    free(numbers);
    engine_free(e);
}

/* POST a fault spec to the sandbox's control endpoint. */
static void sandbox_fault(const char *spec)
{
    CURL *c = curl_easy_init();
    char url[160];
    snprintf(url, sizeof url, "%s/_sandbox/faults", sandbox_url);
    struct buf b;
    buf_init(&b, 1 << 16);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, spec);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long status = 0;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    buf_free(&b);
    curl_easy_cleanup(c);
}

/* A job whose bytes are proven waits for Vimeo's upload.status without a
 * worker: its row says so, and pause and resume act on it at once (resume
 * proves the bytes again, then asks). */
static void a_job_waiting_for_its_confirmation_pauses_and_resumes(void **state)
{
    (void)state;
    char file[128], err[256];
    snprintf(file, sizeof file, "%s/confirm.bin", dir);
    FILE *f = fopen(file, "w");
    fputs("a few bytes\n", f);
    fclose(f);
    sandbox_fault("upload_status=in_progress,for=3,times=1");
    struct engine_config config = { .api_base = sandbox_url, .token = "t", .state_dir = dir, .workers = 2,
                                    .stall_seconds = 30 };
    struct engine *e = engine_new(&config, err, sizeof err);
    assert_non_null(e);
    assert_true(engine_check_api(e, err, sizeof err));
    unsigned id = engine_add(e, file, err, sizeof err);
    assert_int_not_equal(id, 0);
    struct engine_details d;
    for (int i = 0; i < 200; i++) {
        assert_true(engine_details(e, id, &d));
        if (d.row.state == ENGINE_VERIFYING && strstr(d.row.message, "confirming"))
            break;
        sleep_ms(10);
    }
    assert_int_equal(d.row.state, ENGINE_VERIFYING);
    assert_non_null(strstr(d.row.message, "confirming: waiting for Vimeo's upload.status"));

    assert_null(engine_pause(e, id));
    assert_int_equal(state_of(e, id), ENGINE_PAUSED); /* at once: no worker to wait for */
    assert_null(engine_resume(e, id));
    for (int i = 0; i < 200 && state_of(e, id) != ENGINE_DONE; i++)
        sleep_ms(50);
    assert_true(engine_details(e, id, &d));
    assert_int_equal(d.row.state, ENGINE_DONE);
    assert_string_equal(d.verified, "complete: offset = length = 12; Vimeo upload.status complete");
    assert_string_equal(d.note, "");
    int counts[ENGINE_EV_COUNT];
    count_events(e, counts);
    assert_int_equal(counts[ENGINE_EV_DONE], 1);
    assert_int_equal(counts[ENGINE_EV_PAUSED], 1);
    engine_free(e);
}

/* What a front end with 100,000 rows keeps: the numbers of every row, which
 * must be the whole snapshot's; and the events, each with the row as it was,
 * whether the engine kept its numbers (a done upload) or only its state (a
 * file just queued). */
static void compact_snapshot_and_events_keep_every_number(void **state)
{
    (void)state;
    struct engine *e = engine_with_files("compact", 3);
    for (int i = 0; i < 200 && !engine_settled(e); i++)
        sleep_ms(50);
    assert_true(engine_settled(e));

    struct engine_row *whole = NULL;
    struct engine_numbers *compact = NULL;
    size_t whole_cap = 0, compact_cap = 0;
    struct engine_totals whole_totals, compact_totals;
    size_t n = engine_snapshot(e, &whole, &whole_cap, &whole_totals);
    assert_int_equal(n, 3);
    assert_int_equal(engine_snapshot_compact(e, &compact, &compact_cap, &compact_totals), n);
    assert_memory_equal(&whole_totals, &compact_totals, sizeof whole_totals);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(whole[i].state, ENGINE_DONE);
        assert_memory_equal(&compact[i], &whole[i].numbers, sizeof compact[i]);
    }

    struct engine_event events[64];
    size_t nevents = engine_events(e, events, 64), queued = 0, done = 0;
    for (size_t i = 0; i < nevents; i++) {
        const struct engine_row *row = &events[i].row;
        const struct engine_row *now = NULL;
        for (size_t k = 0; k < n; k++)
            if (whole[k].id == events[i].job)
                now = &whole[k];
        assert_non_null(now);
        assert_int_equal(row->id, now->id);
        assert_int_equal(row->size, now->size);
        assert_true(row->texts);
        assert_string_equal(row->name, now->name);
        if (events[i].kind == ENGINE_EV_QUEUED) {
            queued++;
            assert_int_equal(row->state, ENGINE_QUEUED);
            assert_int_equal(row->acked, 0);
            assert_int_equal(row->transcode, ENGINE_TRANSCODE_UNKNOWN);
            assert_string_equal(row->video, "");
        } else if (events[i].kind == ENGINE_EV_DONE) {
            done++;
            assert_int_equal(row->state, ENGINE_DONE);
            assert_int_equal(row->acked, now->size);
            assert_true(row->started > 0);
            assert_true(row->finished >= row->started);
            assert_string_equal(row->video, now->video);
            assert_string_not_equal(events[i].message, "");
        }
    }
    assert_int_equal(queued, 3);
    assert_int_equal(done, 3);
    free(whole);
    free(compact);
    engine_free(e);
}

static void resume_takes_every_entry_but_done_and_cancelled(void **state)
{
    (void)state;
    const char *states[] = { "queued", "uploading", "verifying", "paused", "failed", "a-later-state" };
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        assert_true(engine_record_unfinished(&(struct engine_record){ .state = states[i] }));
    assert_false(engine_record_unfinished(&(struct engine_record){ .state = "done" }));
    assert_false(engine_record_unfinished(&(struct engine_record){ .state = "cancelled" }));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resume_takes_every_entry_but_done_and_cancelled),
        cmocka_unit_test(pause_stops_bytes_and_resume_finishes),
        cmocka_unit_test(rate_cap_and_workers_change_while_running),
        cmocka_unit_test(numbers_and_texts_make_the_whole_snapshot),
        cmocka_unit_test(a_job_waiting_for_its_confirmation_pauses_and_resumes),
        cmocka_unit_test(compact_snapshot_and_events_keep_every_number),
    };
    return cmocka_run_group_tests(tests, start_sandbox, stop_sandbox);
}
