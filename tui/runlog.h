/*
 * runlog: what an unattended run leaves behind. --log-file appends every
 * event as a plain line with its time (mode 0600: names and video URIs are
 * nobody else's business); -v adds a line per HTTP request (method, URL
 * without secrets, status, time), which workers report as it ends. Every
 * function is thread-safe; the engine's request callback only formats a
 * line and writes it (or queues it for the dashboard, which alone may
 * draw), never the token.
 */
#ifndef RUNLOG_H
#define RUNLOG_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

/* Append to path from now on; an exit status after one line on stderr. */
int runlog_open(const char *path);
void runlog_close(void);

/* Before the engine starts. Notes and (verbose) request lines go to the
 * log file and to stderr, or with the dashboard to a queue it drains
 * (runlog_take): it alone may draw. */
void runlog_setup(bool dashboard, bool verbose);

/* Notes and request lines to line() instead of stderr or the dashboard
 * (the agent's log: it has no terminal). Before the engine starts. */
void runlog_divert(void (*line)(const char *text));

/* Something the user should hear of that is no event (a hook that
 * failed), from any thread: "vimeo-up: TEXT" on stderr, or the dashboard's log. */
void runlog_note(const char *text);

/* engine_config.on_rate_wait: a note that the start waits for Vimeo's rate limit. */
void runlog_rate_wait(void *ctx, double seconds);

/* engine_config.on_request, for -v (nothing unless runlog_setup said verbose). */
void runlog_request(void *ctx, const char *method, const char *url, long status, double seconds);

/* An event, as the plain output shows it, into the log file. */
void runlog_event(const struct engine_event *ev, const char *file_name);
/* Any other line (the summary, a file refused) into the log file. */
void runlog_line(const char *text);

/* The oldest queued line into out (false: none), for the dashboard. */
bool runlog_take(char *out, size_t cap);

#endif
