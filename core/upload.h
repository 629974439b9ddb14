/*
 * upload: one job's upload as a state machine, run by the worker that owns
 * it. Each step makes at most one request and returns the next step:
 *
 *   CREATE ─► SEND ─► SEND … ─► VERIFY ─► CONFIRM ─► (done)
 *              │ cut, 5xx, 409     │ 5xx
 *              ▼                   ▼
 *   LOCATE ◄─ WAIT ◄───────────────┘   404/410/403 anywhere ─► EXPIRE ─► CREATE
 *
 * - CREATE: a new video (or tus upload); LOCATE: HEAD for the server's
 *   offset; SEND: PATCH one chunk; VERIFY: HEAD proves offset = length =
 *   size; CONFIRM: Vimeo's upload.status, then done once the journal has it
 *   (the worker hands the job to the follower, transcode.c, which asks for
 *   many jobs with one call, and takes the next file; it asks itself only
 *   where the follower cannot take it);
 *   EXPIRE: the link is gone: delete the stale video, start again (at most
 *   MAX_RECREATES times); WAIT: back off before trying again (every way back
 *   counts toward MAX_RETRIES but a 429, which has its own, larger bound;
 *   progress seen by HEAD resets the counts; an offset going back fails);
 *   STOP: a pause, cancel or stop arrived.
 * - The worker keeps the upload's working copy in struct upload, its own,
 *   and publishes to the job (state, offsets, link, errors) under e->lock;
 *   the job's state changes only through job_enter().
 * - A journal save that fails pauses the job with the reason; a job is
 *   never done unless its journal row says done.
 */
#ifndef UPLOAD_H
#define UPLOAD_H

#include "internal.h"
#include "transport.h"

enum {
    MAX_RECREATES = 3,
    MAX_UNSURE_CREATES = 2,    /* a create whose outcome is unknown is tried once more, no more */
    MAX_RATE_LIMITED_WAITS = 60, /* 429s in a row, a minute or so each: about an hour */
};

#define UPLOAD_STEPS(X) \
    X(CREATE) X(LOCATE) X(SEND) X(VERIFY) X(CONFIRM) X(EXPIRE) X(WAIT) X(STOP) X(END)
#define UPLOAD_STEP_ENUM(name) STEP_##name,
enum upload_step { UPLOAD_STEPS(UPLOAD_STEP_ENUM) };
#undef UPLOAD_STEP_ENUM

struct upload {
    struct engine *e;
    struct job *job;
    struct transport transport;
    int fd;                        /* the file, open for reading */
    enum upload_step step;
    enum upload_step next;         /* where WAIT, or a STOP that was no stop, goes on */
    char video[VIDEO_MAX];
    char link[HTTP_URL_MAX];
    uint64_t acked;                /* the offset the server last confirmed */
    uint64_t high_water;           /* the furthest offset ever confirmed: beyond it is progress */
    unsigned retries, recreates;
    unsigned unsure_creates;       /* creates that failed after going out */
    unsigned rate_limited_waits;   /* 429s since the last progress */
    char why[ERROR_MAX];           /* the failure WAIT reports */
    long retry_after;              /* the server's word for WAIT, -1 for none */
    bool rate_limited;             /* WAIT is for a 429: no count toward the limit */
    char verified[ERROR_MAX];
    char transcode[32];            /* Vimeo's transcode.status at the last status answer, "" */
    double confirm_since;          /* monotonic: when the bytes were proven */
    double confirm_wait;           /* seconds before asking upload.status again */
    double last_saved;             /* monotonic */
    uint64_t chunk_start, rate_mark_bytes;
    uint64_t request_sent;         /* curl's count for this PATCH at its last progress call */
    double rate_mark_time;
    unsigned rng;                  /* this worker's own random state, for jitter */
};

/* Run job's upload until it is done, failed, paused, cancelled or stopped.
 * fd is the file, open for reading; the caller closes it. */
void upload_run(struct engine *e, struct job *job, const struct transport *t, int fd, unsigned seed);

/* Seconds to wait before retry number attempt (1, 2, …): the server's
 * retry_after when it gave one (capped); for a 429 that says nothing, a
 * minute (Vimeo documents bans "for up to a minute"); else exponential
 * with jitter. */
double upload_backoff(unsigned attempt, long retry_after, bool rate_limited, unsigned *rng);

const char *upload_step_name(enum upload_step step);

#endif
