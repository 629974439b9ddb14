#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dashboard.h"
#include "headless.h"
#include "text.h"

static int signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t last_signal;

static void on_signal(int sig)
{
    int saved = errno;
    last_signal = sig;
    ssize_t rc = write(signal_pipe[1], "s", 1);
    (void)rc;
    errno = saved;
}

int cli_signal_pipe(void)
{
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signal_pipe[0];
}

int cli_signal_take(void)
{
    return last_signal;
}

/* The signals cli_signal_pipe() catches, by the names users know. */
static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}

void cli_outcome(struct engine *e, bool wait_transcode, unsigned *done, unsigned *failed, unsigned *unfinished)
{
    struct engine_row *rows = NULL;
    size_t cap = 0;
    struct engine_totals totals;
    size_t n = engine_snapshot(e, &rows, &cap, &totals);
    *done = totals.removed_done; /* verified in this run, then taken out of the table */
    *failed = *unfinished = 0;
    for (size_t i = 0; i < n; i++) {
        enum engine_transcode t = rows[i].transcode;
        if (rows[i].state == ENGINE_DONE && wait_transcode && t == ENGINE_TRANSCODE_ERROR)
            (*failed)++;
        else if (rows[i].state == ENGINE_DONE && wait_transcode && t == ENGINE_TRANSCODE_IN_PROGRESS)
            (*unfinished)++;
        else if (rows[i].state == ENGINE_DONE)
            (*done)++;
        else if (rows[i].state == ENGINE_FAILED)
            (*failed)++;
        else
            (*unfinished)++;
    }
    free(rows);
}

int cli_run(struct cli *cli)
{
    int signal_fd = cli_signal_pipe();
    char err[4608]; /* a journal error names its path */
    struct engine *e = engine_new(&cli->config, err, sizeof err);
    if (!e) {
        fprintf(stderr, "vimeo-up: %s\n", err);
        return EXIT_CANNOT_START;
    }
    if (cli->command != CLI_VERIFY && !engine_check_api(e, err, sizeof err)) {
        fprintf(stderr, "vimeo-up: cannot start: %s\n", err);
        engine_free(e);
        return EXIT_CANNOT_START;
    }
    if (cli->command != CLI_VERIFY && err[0])
        fprintf(stderr, "vimeo-up: warning: %s\n", err);

    bool dashboard = !cli->no_tui && cli->command != CLI_VERIFY && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    unsigned refused = 0, queued = 0;
    if (cli->command == CLI_UPLOAD || (cli->command == CLI_VERIFY && cli->nfiles > 0)) {
        for (int i = 0; i < cli->nfiles; i++) {
            unsigned id = cli->command == CLI_UPLOAD ? engine_add(e, cli->files[i], err, sizeof err)
                                                     : engine_add_verify(e, cli->files[i], err, sizeof err);
            if (id) {
                queued++;
                continue;
            }
            char shown[700];
            text_escape(err, shown, sizeof shown);
            fprintf(stderr, "vimeo-up: %s\n", shown);
            if (dashboard && cli->command == CLI_UPLOAD) {
                engine_add_refused(e, cli->files[i], err); /* a failed row, counted with the rest */
            } else {
                headless_print_refused(cli->json, cli->files[i], err);
                refused++;
            }
        }
    } else {
        bool resume = cli->command == CLI_RESUME;
        int added = resume ? engine_add_unfinished(e, err, sizeof err) : engine_add_verify_all(e, err, sizeof err);
        if (added < 0) {
            /* A journal that cannot be read is not "nothing to do". */
            fprintf(stderr, "vimeo-up: %s\n", err);
            engine_free(e);
            return EXIT_CANNOT_START;
        }
        queued = (unsigned)added;
        if (!queued && !cli->json)
            printf("nothing to %s in %s\n", resume ? "resume" : "verify", cli->config.state_dir);
    }

    bool interrupted, quit = false;
    if (dashboard) {
        const char *endpoint = cli->config.tus_endpoint ? cli->config.tus_endpoint : cli->config.api_base;
        enum dashboard_end end = dashboard_run(e, endpoint, signal_fd);
        interrupted = end != DASHBOARD_QUIT;
        quit = !interrupted;
    } else {
        interrupted = headless_run(e, cli->json, cli->command == CLI_VERIFY, signal_fd);
    }
    unsigned done, failed, unfinished;
    cli_outcome(e, cli->config.wait_transcode, &done, &failed, &unfinished);
    if (interrupted && cli_signal_take())
        fprintf(stderr, "vimeo-up: stopping on %s; progress is saved, 'vimeo-up resume' continues\n",
                signal_name(cli_signal_take()));
    else if (interrupted)
        fprintf(stderr, "vimeo-up: the terminal went away; progress is saved, 'vimeo-up resume' continues\n");
    else if (quit && unfinished)
        fprintf(stderr, "vimeo-up: uploads unfinished, state saved (%u of %u); 'vimeo-up resume' continues\n",
                unfinished, done + failed + unfinished);
    engine_free(e);
    if (!cli->json && !interrupted)
        printf("%u verified, %u failed%s\n", done, failed + refused,
               cli->command == CLI_VERIFY ? " verification" : "");
    fflush(stdout);
    if (interrupted)
        return EXIT_INTERRUPTED;
    if (failed || refused || (unfinished && !quit))
        return EXIT_FAILED;
    /* Quitting with uploads left is the user's choice, not a failure, but
     * not success either: `vimeo-up *.mov && rm *.mov` must keep the files. */
    return unfinished ? EXIT_UNFINISHED : EXIT_OK;
}
