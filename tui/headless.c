#include "headless.h"

#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/json_write.h"
#include "hook.h"
#include "runlog.h"
#include "text.h"
#include "util/units.h"

enum { PLAIN_PROGRESS_MS = 3000, JSON_PROGRESS_MS = 500, EVENT_BATCH = 64 };
/* Events are read at most this often: every job's every step wakes us, and
 * on 10,000 small files waking for each (17,000 wake-ups) took CPU and
 * e->lock from the workers. A line comes at most this much later, and so
 * may the end of a run that settles while we wait. */
enum { DRAIN_SPACING_MS = 10 };

void headless_iso_time(double unix_time, char *out, size_t cap)
{
    time_t secs = (time_t)unix_time;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char whole[32];
    strftime(whole, sizeof whole, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", whole, (int)((unix_time - (double)secs) * 1000) % 1000);
}

static void json_line(const char *event, const struct engine_details *d, const char *path, const char *error,
                      const char *message, double when)
{
    struct buf b;
    char stamp[40];
    buf_init(&b, 64 * 1024);
    buf_printf(&b, "{\"event\":\"%s\"", event);
    if (d)
        buf_printf(&b, ",\"job\":%u", d->row.id);
    buf_puts(&b, ",\"file\":");
    json_append_string_lossy(&b, path);
    buf_puts(&b, ",\"video\":");
    json_append_string_or_null(&b, d ? d->row.video : "");
    buf_puts(&b, ",\"link\":");
    json_append_string_or_null(&b, d ? d->page : "");
    if (d)
        buf_printf(&b, ",\"size\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"rate\":%.0f", d->row.size,
                   d->row.sent, d->row.acked, d->row.rate);
    if (error) {
        buf_puts(&b, ",\"error\":");
        json_append_string_lossy(&b, error);
    }
    if (message && message[0]) {
        buf_puts(&b, ",\"message\":");
        json_append_string_lossy(&b, message);
    }
    headless_iso_time(when, stamp, sizeof stamp);
    buf_printf(&b, ",\"time\":\"%s\"}\n", stamp);
    fputs(b.data ? b.data : "", stdout);
    buf_free(&b);
}

void headless_print_refused(bool json, const char *path, const char *error)
{
    if (json) {
        json_line("failed", NULL, path, error, NULL, clock_wall());
        fflush(stdout);
    }
}

static void progress_text(const struct engine_row *row, char *out, size_t cap)
{
    char sent[16], acked[16], size[16], rate[16], eta[16];
    units_format_size(row->sent, sent, sizeof sent);
    units_format_size(row->acked, acked, sizeof acked);
    units_format_size(row->size, size, sizeof size);
    units_format_size((uint64_t)row->rate, rate, sizeof rate);
    units_format_duration(row->rate > 0 ? (double)(row->size - row->acked) / row->rate : -1, eta, sizeof eta);
    snprintf(out, cap, "%3.0f%%  sent %s, acked %s of %s  %s/s  ETA %s",
             row->size ? floor(100.0 * (double)row->acked / (double)row->size) : 100.0, sent, acked, size, rate, eta);
}

static void print_event(const struct source *e, bool json, const struct engine_event *ev)
{
    struct engine_details *d = malloc(sizeof *d);
    if (!d || !source_details(e, ev->job, d)) {
        free(d);
        return;
    }
    d->row = ev->row; /* the figures of the moment it happened, not of now */
    const char *name = engine_event_name(ev->kind);
    bool is_error = ev->kind == ENGINE_EV_FAILED || ev->kind == ENGINE_EV_RETRY || ev->kind == ENGINE_EV_TRANSCODE_ERROR;
    if (json) {
        json_line(name, d, d->path, is_error ? ev->message : NULL, is_error ? NULL : ev->message, ev->time);
    } else {
        char shown[256], message[800];
        text_escape(d->row.name, shown, sizeof shown);
        text_escape(ev->message, message, sizeof message);
        if (ev->kind == ENGINE_EV_QUEUED) {
            char size[16];
            units_format_size(d->row.size, size, sizeof size);
            printf("%-9s %s  (%s)\n", name, shown, size);
        } else {
            /* done: the video, and its page on vimeo.com when Vimeo said it */
            bool page = ev->kind == ENGINE_EV_DONE && d->page[0];
            char link[300];
            text_escape(d->page, link, sizeof link);
            printf("%-9s %s%s%s%s%s\n", name, shown, message[0] ? "  " : "", message, page ? "  " : "",
                   page ? link : "");
        }
    }
    free(d);
}

/* The uploading rows, a window of them at a time: with 100,000 rows queued
 * a few are uploading, and a copy of every row's numbers (7 MB) would set
 * the peak RSS. */
static void print_progress(const struct source *e, bool json, double now, double *last_line)
{
    enum { BATCH = 32 };
    struct engine_row rows[BATCH];
    struct engine_totals totals;
    size_t n;
    for (size_t first = 0;; first += n) {
        struct engine_window w = { .first = first, .max = BATCH, .states = ENGINE_STATE_BIT(ENGINE_UPLOADING) };
        n = source_snapshot_window(e, &w, rows, &totals);
        for (size_t i = 0; i < n; i++) {
            const struct engine_row *row = &rows[i];
            if (json) {
                struct engine_details *d = malloc(sizeof *d);
                if (d && source_details(e, row->id, d))
                    json_line("progress", d, d->path, NULL, NULL, now);
                free(d);
            } else {
                char shown[256], text[160];
                text_escape(row->name, shown, sizeof shown);
                progress_text(row, text, sizeof text);
                printf("%-9s %s  %s\n", "progress", shown, text);
            }
        }
        if (n < BATCH)
            break;
    }
    *last_line = now;
}

static bool quiet;

void headless_set_quiet(bool on)
{
    quiet = on;
}

/* With verdicts, plain output keeps only each job's verification; -q only
 * what makes the run fail or stop: failures, transcode errors, a pause
 * with a reason (the journal could not record the upload). */
static bool shown(bool json, bool verdicts, const struct engine_event *ev)
{
    if (quiet)
        return ev->kind == ENGINE_EV_FAILED || ev->kind == ENGINE_EV_TRANSCODE_ERROR ||
               (ev->kind == ENGINE_EV_PAUSED && ev->message[0]);
    return json || !verdicts || ev->kind == ENGINE_EV_VERIFIED;
}

static double summary_rate(const struct headless_summary *s)
{
    return s->seconds > 0 ? (double)s->bytes_sent / s->seconds : 0;
}

/* The summary as plain output and the log file say it. */
static void summary_line(const struct headless_summary *s, char *line, size_t cap)
{
    char sent[16], took[16], per_second[16];
    units_format_size(s->bytes_sent, sent, sizeof sent);
    if (s->seconds < 10) /* a quick run is not "0s" */
        snprintf(took, sizeof took, "%.1fs", s->seconds);
    else
        units_format_duration(s->seconds, took, sizeof took);
    units_format_size((uint64_t)summary_rate(s), per_second, sizeof per_second);
    snprintf(line, cap, "%u verified, %u failed, %u skipped, %u unfinished; %s sent in %s, %s/s", s->verified,
             s->failed, s->skipped, s->unfinished, sent, took, per_second);
}

void headless_log_summary(const struct headless_summary *s)
{
    char line[200];
    summary_line(s, line, sizeof line);
    runlog_line(line);
}

void headless_print_summary(bool json, const struct headless_summary *s)
{
    headless_log_summary(s);
    if (!json) {
        char line[200];
        summary_line(s, line, sizeof line);
        printf("%s\n", line);
        return;
    }
    char stamp[40];
    headless_iso_time(clock_wall(), stamp, sizeof stamp);
    printf("{\"event\":\"summary\",\"verified_files\":%u,\"failed_files\":%u,\"skipped_files\":%u,"
           "\"unfinished_files\":%u,\"bytes_sent\":%" PRIu64 ",\"seconds\":%.3f,\"rate\":%.0f,\"time\":\"%s\"}\n",
           s->verified, s->failed, s->skipped, s->unfinished, s->bytes_sent, s->seconds, summary_rate(s), stamp);
}

/* Print what happened since the last call. */
static void drain_events(const struct source *e, bool json, bool verdicts)
{
    struct engine_event events[EVENT_BATCH];
    size_t n;
    while ((n = source_events(e, events, EVENT_BATCH)) > 0)
        for (size_t i = 0; i < n; i++) {
            runlog_event(&events[i], events[i].row.name);
            if (e->engine)
                hook_event(e->engine, &events[i]);
            if (shown(json, verdicts, &events[i]))
                print_event(e, json, &events[i]);
        }
}

void headless_drain(const struct source *e, bool json, bool verdicts)
{
    drain_events(e, json, verdicts);
    fflush(stdout);
}

bool headless_run(const struct source *e, bool json, bool verdicts, int signal_fd)
{
    double last_progress = clock_wall(), last_drain = -1e9; /* monotonic */
    int interval_ms = json ? JSON_PROGRESS_MS : PLAIN_PROGRESS_MS;
    bool interrupted = false;
    /* Nothing to wait for (every file refused, nothing to resume): no
     * wait for a first wake-up that nothing will send. Not for an agent's
     * rows: a file just queued there shows in a moment, not yet. */
    for (bool first = true;; first = false) {
        if (first && !e->remote && source_settled(e)) {
            drain_events(e, json, verdicts); /* "skip" lines of files uploaded already */
            break;
        }
        struct pollfd fds[2] = { { source_wakeup_fd(e), POLLIN, 0 }, { signal_fd, POLLIN, 0 } };
        double now = clock_wall();
        int wait_ms = interval_ms - (int)((now - last_progress) * 1000);
        if (wait_ms < 0)
            wait_ms = 0;
        int rc = poll(fds, signal_fd >= 0 ? 2 : 1, wait_ms);
        if (rc > 0 && (fds[1].revents & POLLIN)) {
            interrupted = true;
            break;
        }
        /* What else happens meanwhile wakes nobody: the wake-up waits (a
         * signal does not; without one, fds[1] is -1 and this only sleeps).
         * Not the last one: a run that has ended ends now. */
        double since_ms = (clock_mono() - last_drain) * 1000; /* huge before the first drain */
        int early_ms = since_ms >= 0 && since_ms < DRAIN_SPACING_MS ? DRAIN_SPACING_MS - (int)since_ms : 0;
        if (rc > 0 && early_ms > 0 && !source_settled(e) && poll(&fds[1], 1, early_ms) > 0) {
            interrupted = true;
            break;
        }
        source_wakeup_drain(e);
        drain_events(e, json, verdicts);
        last_drain = clock_mono();
        now = clock_wall();
        if ((now - last_progress) * 1000 >= interval_ms) {
            if (!verdicts && !quiet)
                print_progress(e, json, now, &last_progress);
            else
                last_progress = now; /* nothing to print, but the next wait is a whole interval, not 0 ms */
        }
        fflush(stdout);
        if (source_settled(e) || source_ended(e)) {
            headless_drain(e, json, verdicts);
            break;
        }
    }
    return interrupted;
}
