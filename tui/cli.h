/*
 * cli: what the command line decided, and running it: start the engine,
 * queue the work, hand over to the dashboard or the headless output, and
 * turn the outcome into the exit status.
 */
#ifndef CLI_H
#define CLI_H

#include <limits.h>
#include <stdbool.h>

#include "engine.h"

enum {
    EXIT_OK = 0,           /* every file verified */
    EXIT_FAILED = 1,       /* at least one upload failed */
    EXIT_USAGE = 2,
    EXIT_CANNOT_START = 3, /* token, API, journal */
    EXIT_UNFINISHED = 4,   /* the user quit with uploads left, state saved (the agent: a detach) */
    EXIT_INTERRUPTED = 130,
    EXIT_HELP = -1,        /* --help or --version printed: exit 0 */
};

enum cli_command { CLI_UPLOAD, CLI_RESUME, CLI_VERIFY, CLI_LIST, CLI_HELP,
                   CLI_AGENT, CLI_ADD, CLI_STATUS, CLI_WAIT, CLI_STOP };

#define CLI_MAX_TAGS 20 /* a macro, so that messages can spell it */

struct cli {
    enum cli_command command;
    struct engine_config config;
    const char *token_file;
    const char *password_file;  /* --password-file: the password for privacy "password" */
    const char *tags[CLI_MAX_TAGS]; /* --tag, in order */
    bool no_tui, json;
    char **files;
    int nfiles;
    char state_dir[PATH_MAX];
    long idle_exit;             /* the agent: seconds idle before it exits; 0: the default */
};

int cli_run(struct cli *cli);

/* How the jobs ended, as the exit status counts them: with wait_transcode a
 * video is done once available, failed when Vimeo could not transcode it. */
void cli_outcome(struct engine *e, bool wait_transcode, unsigned *done, unsigned *failed, unsigned *unfinished);

/* Install SIGINT/SIGTERM/SIGHUP handlers that write to a pipe; returns its
 * read end (the front end polls it), or -1. SIGPIPE is ignored. */
int cli_signal_pipe(void);
/* The signal that arrived (0 if none), after the pipe was readable. */
int cli_signal_take(void);

#endif
