#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dashboard.h"
#include "headless.h"
#include "hook.h"
#include "protocol.h"
#include "runlog.h"
#include "text.h"
#include "util/buf.h"
#include "util/json_write.h"
#include "util/units.h"
#include "util/clock.h"

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

/* Count how the jobs ended (with --wait-transcode a video is done once
 * available, failed when Vimeo could not transcode it); *already: the done
 * ones this run did not upload (the journal had them done). */
static void outcome(struct engine *e, bool wait_transcode, unsigned *done, unsigned *failed, unsigned *unfinished,
                    unsigned *already)
{
    /* A window of rows at a time: a copy of 100,000 rows' numbers at once
     * would set the peak RSS. Static: counted once, at the end. */
    enum { BATCH = 2048 };
    static struct engine_row rows[BATCH];
    struct engine_totals totals;
    *done = *failed = *unfinished = *already = 0;
    size_t n;
    for (size_t first = 0;; first += n) {
        struct engine_window w = { .first = first, .max = BATCH };
        n = engine_snapshot_window(e, &w, rows, &totals);
        for (size_t i = 0; i < n; i++) {
            enum engine_transcode t = rows[i].transcode;
            if (rows[i].state == ENGINE_DONE && wait_transcode && t == ENGINE_TRANSCODE_ERROR)
                (*failed)++;
            else if (rows[i].state == ENGINE_DONE && wait_transcode && t == ENGINE_TRANSCODE_IN_PROGRESS)
                (*unfinished)++;
            else if (rows[i].state == ENGINE_DONE)
                (*done)++, *already += rows[i].started == 0;
            else if (rows[i].state == ENGINE_FAILED)
                (*failed)++;
            else
                (*unfinished)++;
        }
        if (n < BATCH)
            break;
    }
    *done += totals.removed_done; /* verified in this run, then taken out of the table */
}

/* One file's verdict for --dry-run. */
static void dry_run_line(bool json, const char *verdict, const char *path, uint64_t size, const char *detail)
{
    if (json) {
        struct buf b;
        buf_init(&b, 64 * 1024);
        buf_printf(&b, "{\"event\":\"%s\",\"file\":", verdict);
        json_append_string_lossy(&b, path);
        buf_printf(&b, ",\"size\":%" PRIu64, size);
        if (detail) {
            buf_puts(&b, strcmp(verdict, "would_refuse") ? ",\"video\":" : ",\"error\":");
            json_append_string_lossy(&b, detail);
        }
        buf_puts(&b, "}\n");
        fputs(b.data ? b.data : "", stdout);
        buf_free(&b);
        return;
    }
    char shown[4200], size_text[16], message[800];
    text_escape(path, shown, sizeof shown);
    units_format_size(size, size_text, sizeof size_text);
    if (!strcmp(verdict, "would_upload"))
        printf("%-9s %s  (%s)\n", "upload", shown, size_text);
    else if (!strcmp(verdict, "would_skip"))
        printf("%-9s %s  already uploaded as %s\n", "skip", shown, detail);
    else
        text_escape(detail, message, sizeof message), printf("%-9s %s\n", "refuse", message);
}

/* --dry-run: each file's verdict, the total and the quota, with nothing
 * created: the only requests were engine_check_api's GET /me and GET
 * /oauth/verify. Exit 1 when a file would be refused or the quota is short. */
static int dry_run(struct cli *cli, struct engine *e)
{
    unsigned uploads = 0, skips = 0, refusals = 0;
    uint64_t total = 0;
    char video[2100], err[4608];
    for (size_t i = 0; i < (size_t)cli->nfiles + cli->manifest.count; i++) {
        const struct manifest_entry *m = i < (size_t)cli->nfiles ? NULL : &cli->manifest.entries[i - cli->nfiles];
        const char *path = m ? m->path : cli->files[i];
        uint64_t size;
        enum engine_probe verdict = engine_probe(e, path, m ? m->meta.replace : NULL, &size, video, sizeof video, err,
                                                 sizeof err);
        if (verdict == ENGINE_PROBE_UPLOAD)
            uploads++, total += size, dry_run_line(cli->json, "would_upload", path, size, NULL);
        else if (verdict == ENGINE_PROBE_DONE)
            skips++, dry_run_line(cli->json, "would_skip", path, size, video);
        else
            refusals++, dry_run_line(cli->json, "would_refuse", path, 0, err);
    }
    int64_t quota = engine_quota_free(e);
    bool fits = quota < 0 || total <= (uint64_t)quota;
    char total_text[16], quota_text[40] = "no limit known";
    units_format_size(total, total_text, sizeof total_text);
    if (quota >= 0)
        units_format_size((uint64_t)quota, quota_text, sizeof quota_text);
    if (cli->json)
        printf("{\"event\":\"dry_run\",\"upload_files\":%u,\"upload_bytes\":%" PRIu64 ",\"skipped_files\":%u,"
               "\"refused_files\":%u,\"quota_free\":%" PRId64 ",\"fits\":%s}\n", uploads, total,
               skips + cli->skipped, refusals + cli->unreadable, quota, fits ? "true" : "false");
    else
        printf("dry run: %u to upload (%s), %u skipped, %u refused; free upload quota: %s%s\n", uploads, total_text,
               skips + cli->skipped, refusals + cli->unreadable, quota_text,
               fits ? "" : " (too small: the run would fail files)");
    return refusals + cli->unreadable || !fits ? EXIT_FAILED : EXIT_OK;
}

struct unfinished {
    const char *endpoint;      /* this run's: resume takes only its rows */
    unsigned count;
};

static void count_unfinished(void *ctx, const struct engine_record *r)
{
    struct unfinished *u = ctx;
    if (!strcmp(r->endpoint, u->endpoint) && engine_record_unfinished(r))
        u->count++;
}

/* resume found nothing it could take: EXIT_UNFINISHED, said, when the
 * journal's unfinished uploads belong to another vimeo-up (the agent, most
 * likely), which is not "nothing to resume": a script must not take it
 * for every file done. */
static int resumed_elsewhere(const struct cli *cli)
{
    struct unfinished u = { cli->config.tus_endpoint ? cli->config.tus_endpoint : cli->config.api_base, 0 };
    char err[4608];
    engine_list(cli->config.state_dir, count_unfinished, &u, err, sizeof err);
    unsigned others = u.count;
    if (!others)
        return EXIT_OK;
    fprintf(stderr, "vimeo-up: %u unfinished upload%s in %s belong%s to another vimeo-up ('vimeo-up status' shows the "
            "agent's)\n", others, others == 1 ? "" : "s", cli->config.state_dir, others == 1 ? "s" : "");
    return EXIT_UNFINISHED;
}

/* A file the engine refused, said where the run says things. */
struct refusals {
    const struct cli *cli;
    struct engine *e;
    bool dashboard;
    const char *const *paths;
    unsigned refused;          /* said here, not rows in the table */
};

static void refuse(void *ctx, size_t i, const char *err)
{
    struct refusals *r = ctx;
    char shown[700], path[PATH_MAX];
    text_escape(err, shown, sizeof shown);
    fprintf(stderr, "vimeo-up: %s\n", shown);
    protocol_absolute_path(r->paths[i], path, sizeof path); /* as queued files are named in events */
    if (r->dashboard && r->cli->command == CLI_UPLOAD) {
        engine_add_refused(r->e, path, err); /* a failed row, counted with the rest; its event is logged */
    } else {
        runlog_line(err);
        headless_print_refused(r->cli->json, path, err);
        r->refused++;
    }
}

/* What the stop said (a create cut off), now that the screen is gone;
 * the log and the hook get every event, as from the dashboard. */
static void tell_stop_notes(struct engine *e)
{
    struct engine_event events[16];
    size_t n;
    while ((n = engine_events(e, events, 16)) > 0)
        for (size_t i = 0; i < n; i++) {
            runlog_event(&events[i], events[i].row.name);
            hook_event(e, &events[i]);
            if (events[i].kind != ENGINE_EV_PAUSED || !events[i].message[0])
                continue;
            char name[256], message[800];
            text_escape(events[i].row.name, name, sizeof name);
            text_escape(events[i].message, message, sizeof message);
            fprintf(stderr, "vimeo-up: %s: %s\n", name, message);
        }
}

int cli_run(struct cli *cli)
{
    double started = clock_wall();
    int signal_fd = cli_signal_pipe();
    bool dashboard = !cli->no_tui && cli->command != CLI_VERIFY && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    runlog_setup(dashboard, cli->verbose);
    hook_setup(cli->on_done, dashboard);
    dashboard_set_bell(cli->bell);
    headless_set_quiet(cli->quiet);
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
    if (cli->dry_run) {
        int rc = dry_run(cli, e);
        engine_free(e);
        return rc;
    }

    unsigned refused = cli->unreadable, queued = 0;
    if (cli->command == CLI_UPLOAD || (cli->command == CLI_VERIFY && cli->nfiles > 0)) {
        size_t nmanifest = cli->command == CLI_UPLOAD ? cli->manifest.count : 0;
        size_t total = (size_t)cli->nfiles + nmanifest;
        for (size_t start = 0; start < total; start += ENGINE_ADD_BATCH) {
            size_t n = total - start < ENGINE_ADD_BATCH ? total - start : ENGINE_ADD_BATCH;
            const char *paths[ENGINE_ADD_BATCH];
            const struct engine_file_meta *metas[ENGINE_ADD_BATCH];
            unsigned ids[ENGINE_ADD_BATCH];
            for (size_t k = 0; k < n; k++) {
                size_t i = start + k;
                const struct manifest_entry *m = i < (size_t)cli->nfiles ? NULL
                                                 : &cli->manifest.entries[i - cli->nfiles];
                paths[k] = m ? m->path : cli->files[i];
                metas[k] = m ? &m->meta : NULL;
            }
            struct refusals r = { cli, e, dashboard, paths, 0 };
            if (cli->command == CLI_UPLOAD) {
                engine_add_many(e, paths, metas, n, ids, NULL, refuse, &r);
            } else {
                for (size_t k = 0; k < n; k++)
                    if (!(ids[k] = engine_add_verify(e, paths[k], err, sizeof err)))
                        refuse(&r, k, err);
            }
            refused += r.refused;
            for (size_t k = 0; k < n; k++) {
                queued += ids[k] != 0;
                /* The engine keeps its own copy: 100,000 names held twice
                 * would cost 6 MB. */
                if (start + k < (size_t)cli->nfiles && cli->files_owned) {
                    free(cli->files[start + k]);
                    cli->files[start + k] = NULL;
                }
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
        int rc = !queued && resume ? resumed_elsewhere(cli) : EXIT_OK;
        if (rc != EXIT_OK) {
            engine_free(e);
            return rc;
        }
        if (!queued && !cli->json)
            printf("nothing to %s in %s\n", resume ? "resume" : "verify", cli->config.state_dir);
    }

    bool interrupted, quit = false;
    struct source src = source_engine(e);
    if (dashboard) {
        const char *endpoint = cli->config.tus_endpoint ? cli->config.tus_endpoint : cli->config.api_base;
        enum dashboard_end end = dashboard_run(&src, endpoint, signal_fd);
        interrupted = end != DASHBOARD_QUIT;
        quit = !interrupted;
    } else {
        interrupted = headless_run(&src, cli->json, cli->command == CLI_VERIFY, signal_fd);
    }
    unsigned done, failed, unfinished, already;
    outcome(e, cli->config.wait_transcode, &done, &failed, &unfinished, &already);
    uint64_t sent = engine_bytes_sent(e);
    if (interrupted && cli_signal_take())
        fprintf(stderr, "vimeo-up: stopping on %s; progress is saved, 'vimeo-up resume' continues\n",
                signal_name(cli_signal_take()));
    else if (interrupted)
        fprintf(stderr, "vimeo-up: the terminal went away; progress is saved, 'vimeo-up resume' continues\n");
    else if (quit && unfinished)
        fprintf(stderr, "vimeo-up: uploads unfinished, state saved (%u of %u); 'vimeo-up resume' continues\n",
                unfinished, done + failed + unfinished);
    engine_stop(e); /* a video being created gets a moment for its answer */
    if (dashboard)
        tell_stop_notes(e);
    else
        headless_drain(&src, cli->json, cli->command == CLI_VERIFY);
    engine_free(e);
    struct headless_summary summary = { done - already, failed + refused, already + cli->skipped, unfinished, sent,
                                        clock_wall() - started };
    if (!dashboard && cli->command != CLI_VERIFY) {
        headless_print_summary(cli->json, &summary);
    } else {
        if (cli->command != CLI_VERIFY)
            headless_log_summary(&summary); /* --log-file: an unattended dashboard's outcome too */
        /* A file verify could not take (not in the journal, gone) was
         * never verified: not a failed verification, which says an
         * upload is broken. */
        if (!cli->json && !interrupted && cli->command == CLI_VERIFY) {
            printf("%u verified, %u failed verification", done, failed);
            if (refused)
                printf(", %u refused", refused);
            putchar('\n');
        } else if (!cli->json && !interrupted) {
            printf("%u verified, %u failed\n", done, failed + refused);
        }
    }
    fflush(stdout);
    if (interrupted)
        return EXIT_INTERRUPTED;
    if (failed || refused || (unfinished && !quit))
        return EXIT_FAILED;
    /* Quitting with uploads left is the user's choice, not a failure, but
     * not success either: `vimeo-up *.mov && rm *.mov` must keep the files. */
    return unfinished ? EXIT_UNFINISHED : EXIT_OK;
}
