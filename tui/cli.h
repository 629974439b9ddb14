/*
 * cli: what the command line decided, and running it: start the engine,
 * queue the work, hand over to the dashboard or the headless output, and
 * turn the outcome into the exit status.
 */
#ifndef CLI_H
#define CLI_H

#include <limits.h>
#include <stdbool.h>

#include "batch.h"
#include "engine.h"
#include "manifest.h"

enum {
    EXIT_OK = 0,           /* every file verified */
    EXIT_FAILED = 1,       /* at least one upload failed */
    EXIT_USAGE = 2,
    EXIT_CANNOT_START = 3, /* token, API, journal */
    EXIT_UNFINISHED = 4,   /* the user quit with uploads left, state saved (the agent: a detach) */
    EXIT_INTERRUPTED = 130,
    EXIT_HELP = -1,        /* --help or --version printed: exit 0 */
};

enum cli_command { CLI_UPLOAD, CLI_RESUME, CLI_VERIFY, CLI_LIST, CLI_HELP, CLI_LOGIN, CLI_LOGOUT,
                   CLI_COMPLETION, CLI_AGENT, CLI_ADD, CLI_STATUS, CLI_WAIT, CLI_STOP, CLI_ATTACH };

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
    size_t config_tags;         /* tags from the config file, replaced by any --tag */
    struct batch_options batch; /* --files-from, -0, -R, --include, --exclude */
    unsigned skipped;           /* hidden or not regular files left out while walking directories */
    unsigned unreadable;        /* directories (or names) that could not be read while collecting */
    bool quiet, verbose;        /* -q: errors and the summary only; -v: each request too */
    const char *log_file;       /* --log-file: the event log appended as plain lines */
    const char *on_done;        /* --on-done: a program run for each file verified */
    bool bell;                  /* --bell: ring when a dashboard run is done */
    bool dry_run;               /* --dry-run: say what would be uploaded, upload nothing */
    const char *manifest_file;  /* --manifest: files with their own metadata */
    struct manifest manifest;
    bool foreground;            /* --foreground: the engine in this process, even on a terminal */
    long idle_exit;             /* the agent: seconds idle before it exits; 0: the default */
    bool agent_ran_before;      /* the agent this command talks to was running before it */
    /* The first option on the command line (not from the config) that an
     * agent already running keeps as it started with: --folder,
     * --password-file, --on-done, --log-file, -v; NULL: none. */
    const char *kept_by_agent;
    bool files_owned;           /* files are on the heap (-R, --files-from): cli_run frees each once queued */
};

int cli_run(struct cli *cli);

/* Install SIGINT/SIGTERM/SIGHUP handlers that write to a pipe; returns its
 * read end (the front end polls it), or -1. SIGPIPE is ignored. */
int cli_signal_pipe(void);
/* The signal that arrived (0 if none), after the pipe was readable. */
int cli_signal_take(void);

#endif
