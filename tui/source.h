/*
 * source: where a front end's rows come from and where its keys go. One
 * table of functions, two implementations: the engine in this process
 * (thin wrappers over engine.h), and a client of the background agent (a
 * mirror of its rows kept from the socket's stream). The dashboard and the
 * headless output use only this, so they do not know which one they have.
 *
 * The contract is engine.h's: wakeup_fd() becomes readable when anything
 * changed; the front end calls wakeup_drain(), then a snapshot and events.
 * Commands return at once; pause and resume say why not in a few words.
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct source_ops {
    size_t (*snapshot)(void *ctx, struct engine_row **rows, size_t *cap, struct engine_totals *totals);
    size_t (*snapshot_numbers)(void *ctx, struct engine_row **rows, size_t *cap, struct engine_totals *totals);
    void (*fill_texts)(void *ctx, struct engine_row *rows, size_t n);
    size_t (*events)(void *ctx, struct engine_event *out, size_t max);
    bool (*details)(void *ctx, unsigned job, struct engine_details *out);
    const char *(*pause)(void *ctx, unsigned job);
    const char *(*resume)(void *ctx, unsigned job);
    void (*pause_all)(void *ctx);
    void (*resume_all)(void *ctx);
    void (*verify)(void *ctx, unsigned job);
    void (*cancel)(void *ctx, unsigned job, bool delete_video);
    void (*set_workers)(void *ctx, unsigned workers);
    void (*set_rate_limit)(void *ctx, uint64_t bytes_per_second);
    unsigned (*add)(void *ctx, const char *path, bool *is_new, char *err, size_t cap);
    int (*wakeup_fd)(void *ctx);
    void (*wakeup_drain)(void *ctx);
    bool (*settled)(void *ctx);
    bool (*ended)(void *ctx);   /* the source went away (the agent stopped) */
    /* The numbers of every row (engine_snapshot_compact): texts with
     * fill_texts, for the rows shown only. */
    size_t (*snapshot_compact)(void *ctx, struct engine_numbers **rows, size_t *cap, struct engine_totals *totals);
    /* Some rows whole and the totals of all (engine_snapshot_window). */
    size_t (*snapshot_window)(void *ctx, struct engine_window *w, struct engine_row *rows,
                              struct engine_totals *totals);
};

struct source {
    const struct source_ops *ops;
    void *ctx;
    bool remote;                /* the agent's: leaving may detach */
    struct engine *engine;      /* the engine in this process, for what only it does (--on-done); or NULL */
};

/* The engine in this process. */
struct source source_engine(struct engine *e);

/* A client of the agent on fd (connected, greeted): subscribes and waits
 * for the whole table. False when the agent does not answer. The source
 * owns fd from then on; source_agent_close() frees it. */
bool source_agent_open(struct source *out, int fd);
void source_agent_close(struct source *s);
/* One request line to the agent and its answer (the stream read meanwhile
 * goes to the mirror); false when the agent is gone. */
bool source_agent_request(const struct source *s, const char *line, char *answer, size_t cap);

static inline size_t source_snapshot(const struct source *s, struct engine_row **rows, size_t *cap,
                                     struct engine_totals *totals)
{
    return s->ops->snapshot(s->ctx, rows, cap, totals);
}
static inline size_t source_snapshot_numbers(const struct source *s, struct engine_row **rows, size_t *cap,
                                             struct engine_totals *totals)
{
    return s->ops->snapshot_numbers(s->ctx, rows, cap, totals);
}
static inline size_t source_snapshot_compact(const struct source *s, struct engine_numbers **rows, size_t *cap,
                                             struct engine_totals *totals)
{
    return s->ops->snapshot_compact(s->ctx, rows, cap, totals);
}
static inline size_t source_snapshot_window(const struct source *s, struct engine_window *w,
                                            struct engine_row *rows, struct engine_totals *totals)
{
    return s->ops->snapshot_window(s->ctx, w, rows, totals);
}
static inline void source_fill_texts(const struct source *s, struct engine_row *rows, size_t n)
{
    s->ops->fill_texts(s->ctx, rows, n);
}
static inline size_t source_events(const struct source *s, struct engine_event *out, size_t max)
{
    return s->ops->events(s->ctx, out, max);
}
static inline bool source_details(const struct source *s, unsigned job, struct engine_details *out)
{
    return s->ops->details(s->ctx, job, out);
}
static inline const char *source_pause(const struct source *s, unsigned job)
{
    return s->ops->pause(s->ctx, job);
}
static inline const char *source_resume(const struct source *s, unsigned job)
{
    return s->ops->resume(s->ctx, job);
}
static inline void source_pause_all(const struct source *s)
{
    s->ops->pause_all(s->ctx);
}
static inline void source_resume_all(const struct source *s)
{
    s->ops->resume_all(s->ctx);
}
static inline void source_verify(const struct source *s, unsigned job)
{
    s->ops->verify(s->ctx, job);
}
static inline void source_cancel(const struct source *s, unsigned job, bool delete_video)
{
    s->ops->cancel(s->ctx, job, delete_video);
}
static inline void source_set_workers(const struct source *s, unsigned workers)
{
    s->ops->set_workers(s->ctx, workers);
}
static inline void source_set_rate_limit(const struct source *s, uint64_t bytes_per_second)
{
    s->ops->set_rate_limit(s->ctx, bytes_per_second);
}
static inline unsigned source_add(const struct source *s, const char *path, bool *is_new, char *err, size_t cap)
{
    return s->ops->add(s->ctx, path, is_new, err, cap);
}
static inline int source_wakeup_fd(const struct source *s)
{
    return s->ops->wakeup_fd(s->ctx);
}
static inline void source_wakeup_drain(const struct source *s)
{
    s->ops->wakeup_drain(s->ctx);
}
static inline bool source_settled(const struct source *s)
{
    return s->ops->settled(s->ctx);
}
static inline bool source_ended(const struct source *s)
{
    return s->ops->ended(s->ctx);
}

#endif
