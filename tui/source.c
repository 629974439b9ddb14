#include "source.h"

/* The in-process implementation: each function is the engine's own. */

static size_t snapshot(void *e, struct engine_row **rows, size_t *cap, struct engine_totals *totals)
{
    return engine_snapshot(e, rows, cap, totals);
}

static size_t snapshot_numbers(void *e, struct engine_row **rows, size_t *cap, struct engine_totals *totals)
{
    return engine_snapshot_numbers(e, rows, cap, totals);
}

static size_t snapshot_compact(void *e, struct engine_numbers **rows, size_t *cap, struct engine_totals *totals)
{
    return engine_snapshot_compact(e, rows, cap, totals);
}

static size_t snapshot_window(void *e, struct engine_window *w, struct engine_row *rows,
                              struct engine_totals *totals)
{
    return engine_snapshot_window(e, w, rows, totals);
}

static void fill_texts(void *e, struct engine_row *rows, size_t n)
{
    engine_fill_texts(e, rows, n);
}

static size_t events(void *e, struct engine_event *out, size_t max)
{
    return engine_events(e, out, max);
}

static bool details(void *e, unsigned job, struct engine_details *out)
{
    return engine_details(e, job, out);
}

static const char *pause_job(void *e, unsigned job)
{
    return engine_pause(e, job);
}

static const char *resume_job(void *e, unsigned job)
{
    return engine_resume(e, job);
}

static void pause_all(void *e)
{
    engine_pause_all(e);
}

static void resume_all(void *e)
{
    engine_resume_all(e);
}

static void verify(void *e, unsigned job)
{
    engine_verify(e, job);
}

static void cancel(void *e, unsigned job, bool delete_video)
{
    engine_cancel(e, job, delete_video);
}

static void set_workers(void *e, unsigned workers)
{
    engine_set_workers(e, workers);
}

static void set_rate_limit(void *e, uint64_t bytes_per_second)
{
    engine_set_rate_limit(e, bytes_per_second);
}

static unsigned add(void *e, const char *path, bool *is_new, char *err, size_t cap)
{
    return engine_add_new(e, path, NULL, is_new, err, cap);
}

static int wakeup_fd(void *e)
{
    return engine_wakeup_fd(e);
}

static void wakeup_drain(void *e)
{
    engine_wakeup_drain(e);
}

static bool settled(void *e)
{
    return engine_settled(e);
}

static bool ended(void *e)
{
    (void)e;
    return false; /* it ends with this process */
}

static const struct source_ops engine_ops = {
    snapshot, snapshot_numbers, fill_texts, events, details, pause_job, resume_job, pause_all, resume_all,
    verify, cancel, set_workers, set_rate_limit, add, wakeup_fd, wakeup_drain, settled, ended, snapshot_compact,
    snapshot_window,
};

struct source source_engine(struct engine *e)
{
    return (struct source){ .ops = &engine_ops, .ctx = e, .engine = e };
}
