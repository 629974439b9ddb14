/*
 * hook: --on-done PROGRAM, run for each file verified in this run, as
 * aria2c's --on-download-complete: the executable itself (posix_spawn, no
 * shell, no arguments), the details in its environment (VIMEO_UP_FILE,
 * VIMEO_UP_VIDEO, VIMEO_UP_LINK, VIMEO_UP_SIZE) and never VIMEO_TOKEN. No
 * thread waits for it: a detached thread reaps it and logs a failure,
 * which never fails the upload.
 */
#ifndef HOOK_H
#define HOOK_H

#include <stdbool.h>

#include "engine.h"

/* The program (NULL: none); dashboard: its output goes to /dev/null rather
 * than onto the screen (else to stderr: stdout may be JSON). */
void hook_setup(const char *program, bool dashboard);

/* Called with every event on the UI thread; runs the program for a file
 * uploaded and verified now (not one the journal had done already). */
void hook_event(struct engine *e, const struct engine_event *ev);

#endif
