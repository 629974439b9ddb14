/*
 * headless: vimeo-up without a screen. Plain lines (one per state change,
 * and a progress line per active upload every few seconds) or JSON lines
 * (one object per event; progress at most twice a second per upload). No
 * escape codes; names are shown escaped.
 */
#ifndef HEADLESS_H
#define HEADLESS_H

#include <stdbool.h>

#include "source.h"

/* Print an event (also used for files refused before they were queued:
 * job 0, with path and error given). */
void headless_print_refused(bool json, const char *path, const char *error);

/* A Unix time as the JSON lines write it: ISO 8601 in UTC with
 * milliseconds, "2026-11-25T21:54:14.123Z". list --json uses it too. */
void headless_iso_time(double unix_time, char *out, size_t cap);

/* Run until the engine settles or a signal arrives on signal_fd. Returns
 * true if interrupted by a signal. verdicts: plain output shows one line
 * per job, its verification (for `verify`), instead of every event. */
bool headless_run(const struct source *src, bool json, bool verdicts, int signal_fd);

/* The events still waiting, printed as headless_run prints them: what
 * the engine said while it stopped (engine_stop). */
void headless_drain(const struct source *src, bool json, bool verdicts);

/* The end of a run: how the files ended, bytes sent, wall time and rate. */
struct headless_summary {
    unsigned verified;          /* uploaded and verified in this run */
    unsigned failed;            /* failed, or refused before they were queued */
    unsigned skipped;           /* already uploaded, hidden, not regular files */
    unsigned unfinished;
    uint64_t bytes_sent;
    double seconds;
};
/* -q: only failed events and the summary, no progress lines. */
void headless_set_quiet(bool quiet);

/* One plain line, or a JSON "summary" event (and the line in the log file). */
void headless_print_summary(bool json, const struct headless_summary *s);
/* Only the line in the log file (--log-file): after a dashboard. */
void headless_log_summary(const struct headless_summary *s);

#endif
