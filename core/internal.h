/*
 * internal: what the engine's own files share. Front ends never include it;
 * they see engine.h only.
 *
 * Threads:
 * - callers: any front-end thread, through engine_*: never blocked by the
 *   network; commands never wait for SQLite either (saves are queued), but
 *   adding work claims journal rows on the caller's thread (engine.h);
 * - workers (pool.c): each takes a job from the run queue and runs its
 *   upload (upload.c) or its verification (verify.c) to the end;
 * - the helper (pool.c): network work a command starts (verify-now, the
 *   DELETE after a cancel), so that the caller returns at once;
 * - the journal writer (pool.c): writes the saves that callers and state
 *   changes queue, outside e->lock;
 * - the transcode follower (transcode.c): confirms the upload.status of
 *   jobs that workers handed over once HEAD proved their bytes, and asks
 *   for the transcode.status of done videos still transcoding, many with
 *   one listing, through api_call.
 *
 * Locks, in the only order they may nest:
 *   e->lock  ->  e->api.lock | e->bucket.lock
 *   e->save_lock  ->  the journal's own mutex
 * e->save_lock is never taken with e->lock held, and neither the network
 * nor SQLite is ever used with e->lock held.
 */
#ifndef INTERNAL_H
#define INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "api.h"
#include "bucket.h"
#include "engine.h"
#include "http.h"
#include "journal.h"
#include "wakeup.h"

enum {
    MAX_RETRIES = 12,          /* consecutive failures without progress before giving up */
    ERROR_MAX = 400,           /* an error or verification text, one line */
    NOTE_MAX = 160,
    VIDEO_MAX = 96,            /* /videos/N or /videos/N:hash */
    PAGE_MAX = 256,            /* https://vimeo.com/N or https://vimeo.com/N/hash */
    CONFIRM_WINDOW = 120,      /* seconds of upload.status in_progress before done with a note */
    CONFIRM_WAIT_CAP = 30,     /* seconds between two such questions at most */
};

/* A job a worker handed over to the follower once HEAD proved every byte:
 * it stays verifying until Vimeo's upload.status decides (transcode.c).
 * Under e->lock; on the heap only while it waits. */
struct confirm {
    char verified[ERROR_MAX];  /* the HEAD's verdict, which the answer completes */
    char transcode[32];        /* transcode.status from the answer that decided */
    double since;              /* monotonic: when HEAD proved every byte */
    double at;                 /* monotonic: when it is asked next */
    double wait;               /* seconds until the question after that, growing */
    unsigned misses;           /* listings in a row that did not show the video */
    bool asked;                /* a listing or a GET went out since it came */
    bool finishing;            /* decided done, off e->confirm: its journal save is under way */
};

enum job_kind { JOB_UPLOAD, JOB_VERIFY };
#define JOB_STATE_CURRENT ENGINE_STATE_COUNT

struct job {
    /* Who writes a field and under which lock is its group's rule:
     * - fixed: set before the job is published in e->jobs; any thread reads
     *   it without a lock;
     * - published: the view, written under e->lock by the worker that runs
     *   the job or by a command, read under e->lock;
     * - transfer: written by the worker's transfer callbacks without a lock;
     * - transcode: published, changed only in transcode.c
     *   (transcode_update, confirm_finish);
     * - confirm: under e->lock, written by the worker that hands the job
     *   over, by the follower, and by pause (transcode.c);
     * - save: under e->save_lock.
     * What the table's totals count of every row comes first, in one cache
     * line: counting a block of the table (struct view_block) reads only
     * that line of each job. The small fields of every group
     * come next, together, so that 100,000 queued jobs carry no padding
     * (tests/unit/test_view.c). */
    unsigned id;               /* fixed */
    enum engine_state state;   /* published; changed only by job_enter() */
    uint64_t size;             /* fixed */
    uint64_t acked;            /* published */
    atomic_uint_fast64_t sent; /* transfer: bytes handed to the network */
    double rate;               /* published: bytes/s, smoothed */
    enum engine_transcode transcode; /* transcode */
    enum job_kind kind;        /* fixed */
    bool hidden;               /* published: removed from the table, its journal row kept as it is */

    bool records;              /* fixed: this run writes to that row (not for "already done" rows) */
    char journal_state[16];    /* fixed: verify jobs write back the row's own state */
    atomic_bool interrupt;     /* transfer: pause, cancel or stop: abort the transfer now */
    bool queued;               /* published: in the run queue */
    bool running;              /* published: a worker holds it */
    bool unsettled;            /* published: counted in e->unsettled (job_recount) */
    bool want_pause, want_cancel, delete_video; /* published */
    bool journal_failed;       /* published: a save failed: the pause that follows says why */
    bool save_queued;          /* published: on e->saves, waiting for the writer */
    bool following;            /* transcode: on e->follow: the follower asks for its transcode.status */
    unsigned char transcode_misses; /* confirm: listings in a row that did not show it */
    enum engine_state ahead;   /* published: a state being written before it is entered
                                  (done waits for the disk), else JOB_STATE_CURRENT */
    unsigned retries;          /* published */

    /* Fixed. */
    int64_t row;               /* the journal row it came from */
    char *path;                /* absolute */
    const char *name;          /* points into path */
    int64_t mtime_ns;
    uint64_t inode;
    int64_t ctime_ns;          /* 0: not known (a journal row from before version 2) */
    uint64_t device;           /* with inode: the file, however its path is spelled */
    char *replaces;            /* a new version of this video (--replace), never a video of its own; NULL */
    struct job_meta *meta;     /* the file's own metadata (engine_add_with), NULL for the run's */

    /* Published. */
    double retry_at;           /* monotonic */
    double started, finished;  /* Unix times */
    uint64_t save_seq;         /* bumped for every save copy taken */
    struct job *save_next;

    /* Transcode. */
    double transcode_at;       /* monotonic: when the follower asks next */
    double transcode_wait;     /* seconds between two questions, growing */

    /* Confirm. */
    struct confirm *confirm;   /* handed over, waiting for upload.status; NULL */

    /* Save. */
    uint64_t written_seq;      /* the newest save copy that reached the journal */

    /* The published view's texts, last. */
    const char *video;         /* /videos/N or /videos/N:hash; never NULL: "" until there is one (job_set_video) */
    /* On the heap at their length, NULL when empty (job_set_text), so that
     * 10,000 queued jobs do not each hold 3 KiB of empty buffers. */
    char *link;                /* the tus upload URL */
    char *error;               /* one line */
    char *verified;            /* the last verification's result */
    char *note;                /* "already uploaded as ..." */
    char *page;                /* the video's page on vimeo.com, once Vimeo said it */
};

/* An event waiting for the front end. Adding 100,000 files queues 100,000
 * of them before a front end takes one, so it is kept small (32 bytes): a
 * file just queued has no number but its state, id and size (the job's,
 * which never change) and no text, and its event holds no more (detail
 * NULL); any other holds the row's numbers as they were and its texts on
 * the heap (NULL: empty). The name is the job's too. engine_events() turns
 * it into a struct engine_event. */
struct pending_detail {
    struct engine_numbers numbers;
    char *message, *video, *row_message;
};
struct pending_event {
    enum engine_event_kind kind;
    enum engine_state state;
    const struct job *job;
    double time;
    struct pending_detail *detail;
};

/* The table in blocks of VIEW_BLOCK jobs, by their place in e->jobs: the
 * counts of each block's rows, so that a window over 100,000 rows reads
 * some 400 blocks and the jobs it shows, not every job (view.c). A block
 * is counted again only when job_recount marked one of its jobs changed,
 * or while a worker holds one: a running job's bytes move without a mark.
 * Under e->lock. */
enum { VIEW_BLOCK = 256 };
struct view_block {
    struct engine_totals sums;          /* of its rows (and its removed done uploads), as when last counted */
    unsigned count[ENGINE_STATE_COUNT]; /* its rows by state: not hidden, not cancelled */
    unsigned running;                   /* jobs a worker held when last counted */
    bool dirty;                         /* a job of it changed since */
};

struct transport;

struct task {
    enum { TASK_VERIFY, TASK_DELETE } kind;
    unsigned job;
    char video[VIDEO_MAX];
    char link[HTTP_URL_MAX];
    struct task *next;
};

struct engine {
    /* Fixed after engine_new: read without a lock. */
    struct engine_config cfg;  /* its strings point into the copies below */
    char *token, *api_base, *tus_endpoint, *state_dir, *name, *description, *privacy, *folder, *password;
    char *ca_file;
    char *replace;             /* --replace: the video every file of this run is a new version of */
    char **tags;
    size_t ntags;
    const char *endpoint_key;  /* what the journal keys uploads by */
    struct journal *journal;
    struct http_options http_options;
    double backoff_scale;      /* 1; tests make retries and the journal's progress saves instant */

    struct bucket bucket;      /* its own lock */
    struct api api;            /* its own lock */
    struct wakeup wakeup;
    _Atomic double last_progress_wake;
    atomic_bool stopping;      /* written under e->lock, read anywhere */
    atomic_bool cut_creates;   /* stopping, and the creates' grace is over (pool_stop) */
    atomic_uint_fast64_t bytes_sent; /* PATCH body bytes handed to the network by this engine */

    pthread_mutex_t lock;      /* everything below */
    pthread_cond_t work;       /* run queue, worker count, stopping: workers wait */
    pthread_cond_t commands;   /* pause, cancel, stopping: retry waits wait */
    pthread_cond_t tasks_ready;  /* the helper waits */
    pthread_cond_t tasks_done;   /* a task or a create ended: pool_stop waits for DELETEs and creates */
    pthread_cond_t saves_ready;  /* the journal writer waits */
    pthread_cond_t follow_ready; /* a video to follow, or stopping: the transcode follower waits */
    pthread_t follower;
    bool follower_started;
    struct job **follow;       /* done videos still transcoding, for the follower */
    size_t nfollow, follow_cap;
    struct job **confirm;      /* jobs handed over for their upload.status (their job->confirm) */
    size_t nconfirm, confirm_cap;
    bool confirmer_down;       /* the follower left its loop: no more hand-overs */
    /* The follower's sleep: -1 while it works (it looks at e->confirm before
     * it sleeps again), 0 until signalled, else the monotonic time it wakes
     * at. A hand-over signals only when the follower would act sooner for
     * it: one signal a file cost 7,600 wake-ups on 10,000 small files. */
    double follower_until;
    unsigned uploads_running;  /* upload_run()s under way: while none, no batch grows */
    /* Tests only: the follower's transport instead of its own network one. */
    const struct transport *follower_transport;
    struct job **jobs;         /* by id: job N is jobs[N - 1] */
    size_t njobs, jobs_cap;
    struct view_block *blocks; /* jobs[i] counts in blocks[i / VIEW_BLOCK] */
    size_t blocks_cap;
    /* Jobs that are running, or neither paused, final nor hidden: while
     * any, the engine has not settled. Kept by job_recount, so that
     * engine_settled, asked after every wake, does not walk 10,000 jobs
     * with this lock held while the workers wait for it. */
    size_t unsettled;
    uintptr_t *index;          /* upload jobs by journal row and by file (add.c) */
    size_t index_cap, index_used;
    struct job **runq;
    size_t rq_head, rq_len, rq_cap;
    unsigned next_id;
    unsigned target_workers;
    bool worker_alive[ENGINE_MAX_WORKERS];    /* running its loop */
    bool worker_joinable[ENGINE_MAX_WORKERS]; /* started and not yet joined */
    pthread_t workers[ENGINE_MAX_WORKERS];
    pthread_t helper, writer;
    bool helper_started, writer_started, helper_busy, writer_busy;
    unsigned creates_in_flight; /* POSTs that may make a video, awaiting their answer (net_create) */
    bool stopped;              /* engine_stop ran: the caller's thread only */
    struct task *tasks;
    struct job *saves, **saves_tail;
    struct pending_event *events;
    size_t events_head;        /* the first event not taken yet */
    size_t nevents, events_cap; /* events[events_head .. nevents) wait for the front end */
    bool quota_known;
    int64_t quota_free;        /* -1: Vimeo sets no limit we know of */
    char folder_uri[160];      /* --folder as Vimeo takes it, once the user's URI is known */

    pthread_mutex_t save_lock; /* journal writes, job->written_seq, journal_wrote_at and save_fault */
    double journal_wrote_at;   /* monotonic: the last save that reached the journal; under save_lock */
    /* Tests only: a save this says no to fails with its why, as a full disk would. */
    bool (*save_fault)(const struct job *job, enum engine_state state, char *why, size_t cap);

    /* Copies of rows taken and not written yet (job_save_start), newest
     * first: pushed by any thread without a lock, taken all at once by the
     * holder of save_lock that writes them (job.c). */
    _Atomic(struct save *) save_pending;
    /* Under save_lock: the journal transactions saves were written in; a
     * save_fault reads it to tell which saves shared one (tests). */
    uint64_t save_transactions;
};

/* ---- job.c: jobs, their states and the journal (lock as said) ----------- */

/* The only way to change a job's state. Caller holds e->lock. Records the
 * finish time, queues a journal save where the state is one a job stops in
 * (the worker saves what it changes itself), announces the state's event
 * (with message, or none: NULL) and wakes the front end. A cancelled job
 * stays cancelled. The job's error is the caller's to set. */
void job_enter(struct engine *e, struct job *job, enum engine_state state, const char *message);
/* After a change of job's state, running, hidden or transcode (of any of
 * its numbers while no worker holds it): keep e->unsettled and the table's
 * counts right. Caller holds e->lock. */
void job_recount(struct engine *e, struct job *job);
/* Keep the reason as the job's error and enter FAILED. Caller holds e->lock. */
void job_fail(struct engine *e, struct job *job, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Announce an event that is not a state change. Caller holds e->lock. */
void engine_emit(struct engine *e, enum engine_event_kind kind, const struct job *job, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void engine_wake(struct engine *e);

/* A new job for path, published in e->jobs. Caller holds e->lock. */
struct job *job_new(struct engine *e, const char *path, enum job_kind kind);
/* Set the identity and remote fields from a journal row (before queueing). */
void job_from_entry(struct job *job, const struct journal_entry *entry);
struct job *job_find(struct engine *e, unsigned id);
/* Put a queued job on the run queue. Caller holds e->lock. */
bool job_schedule(struct engine *e, struct job *job);
struct job *runq_pop(struct engine *e);

/* Queue a journal save for the writer. Caller holds e->lock. */
void job_save_later(struct engine *e, struct job *job);
/* Write the job's row now, as state (JOB_STATE_CURRENT: as it is): caller
 * holds no lock. False, with the
 * reason in why ("journal: No space left on device"), when it did not
 * reach the disk. Saves that threads make at the same time share one
 * journal transaction. */
bool job_save_now(struct engine *e, struct job *job, enum engine_state state, char *why, size_t cap);
/* job_save_now in two halves, so that the saves of many jobs share one
 * transaction: take the copy of the row (NULL: nothing to write, or no
 * memory), then, once every copy is taken, end each: the first end writes
 * them all. job_save_end says what job_save_now would have, and frees the
 * copy. Caller holds no lock. */
struct save;
struct save *job_save_start(struct engine *e, struct job *job, enum engine_state state);
bool job_save_end(struct engine *e, struct job *job, struct save *save, char *why, size_t cap);
/* A save reached the journal within the last second. Caller holds no lock. */
bool job_journal_wrote_lately(struct engine *e);

/* The file as it is now matches what was queued (size, mtime, inode, ctime). */
bool job_file_unchanged(const struct job *job, int fd);
bool job_stat_matches(const struct job *job, const struct stat *st);

void job_fill_row(const struct job *job, struct engine_row *row, double now);
/* A pending event as the front end takes it; frees its texts. */
void job_event_take(struct pending_event *pending, struct engine_event *out);
void job_event_free(struct pending_event *pending);
/* Set one of the job's texts (link, error, verified, note) to value; NULL
 * or "" empties it, and so does running out of memory. Caller holds e->lock
 * once the job is published. */
void job_set_text(char **text, const char *value);
void job_set_textf(char **text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the job's video (its URI, at most VIDEO_MAX - 1 bytes kept); NULL or
 * "" empties it, and so does running out of memory. Under e->lock once the
 * job is published. */
void job_set_video(struct job *job, const char *video);
void job_set_textv(char **text, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* A text as a string: "" for an empty one. */
static inline const char *job_text(const char *text)
{
    return text ? text : "";
}
/* The two halves of job_fill_row: what changes as bytes move, and the texts. */
void job_fill_numbers(const struct job *job, struct engine_numbers *row, double now);
/* Of the numbers, only those the totals count (id, state, transcode, size,
 * sent, acked, rate): what a window reads of the rows it does not copy,
 * inline, as it is read for 100,000 rows a frame. */
static inline void job_fill_counted(const struct job *job, struct engine_numbers *row)
{
    row->id = job->id;
    row->state = job->state;
    row->size = job->size;
    row->acked = job->acked;
    uint64_t sent = atomic_load(&job->sent);
    row->sent = sent < job->acked ? job->acked : sent > job->size ? job->size : sent;
    row->rate = job->state == ENGINE_UPLOADING ? job->rate : 0;
    row->transcode = job->transcode;
}
void job_fill_texts(const struct job *job, struct engine_row *row);
/* A row's texts empty (texts false), for a snapshot without them. */
void job_clear_texts(struct engine_row *row);
void job_free(struct job *job);

/* Per-file metadata (--manifest): a field that is NULL (tags: has_tags
 * false) is the run's. */
struct job_meta {
    char *name, *description, *privacy, *folder, *password;
    char **tags;
    size_t ntags;
    bool has_tags;
};
void job_meta_free(struct job_meta *meta);

/* ---- view.c --------------------------------------------------------------- */

/* Room in e->blocks for jobs jobs; false when out of memory. Caller holds
 * e->lock. */
bool view_reserve(struct engine *e, size_t jobs);

/* ---- add.c ---------------------------------------------------------------- */

/* Free the index of upload jobs (their jobs are e->jobs'). */
void engine_index_free(struct engine *e);

/* ---- pool.c ---------------------------------------------------------------- */

void pool_start_workers(struct engine *e);  /* caller holds e->lock */
bool pool_start_threads(struct engine *e);  /* the helper and the writer */
void pool_stop(struct engine *e);           /* join everything; saves drained */
/* Queue network work for the helper. Caller holds e->lock. */
void pool_add_task(struct engine *e, struct task *task);

/* ---- transcode.c ---------------------------------------------------------- */

/* A done video's transcode.status, in Vimeo's word ("" when it is not
 * known yet: just uploaded, it transcodes next): announced when it
 * changes, saved, and followed while in progress. Caller holds e->lock. */
void transcode_update(struct engine *e, struct job *job, const char *status);
/* The follower thread's body; arg is the engine. */
void *transcode_main(void *arg);
/* A video in the table still transcoding. Caller holds e->lock. */
bool transcode_pending(const struct engine *e);

/* Hand a job whose bytes HEAD proved (verified: that verdict) to the
 * follower, which confirms its upload.status with other jobs' in one
 * listing; it stays verifying meanwhile. False when it cannot take it (no
 * Vimeo, no follower, out of memory, a pause or cancel under way): the
 * worker confirms it itself. Caller holds no lock. */
bool confirm_hand_over(struct engine *e, struct job *job, const char *verified);
/* What upload.status (Vimeo's word, "" when not known) says after waited
 * seconds of asking, window at most: done (with a note appended to
 * verified where it is not "complete"), failed, or ask again. */
enum confirm_verdict { CONFIRM_DONE, CONFIRM_FAILED, CONFIRM_AGAIN };
enum confirm_verdict confirm_judge(const char *status, double waited, double window, char *verified, size_t cap);
/* Fail the job as Vimeo's upload.status error says. Caller holds e->lock. */
void confirm_refused(struct engine *e, struct job *job);
/* Done once the journal says so, as verified, then transcode followed: DONE;
 * a journal that cannot record it pauses the job with the reason: PAUSED;
 * nothing for a cancelled job: CANCELLED. Caller holds no lock. */
enum confirm_end { CONFIRM_END_DONE, CONFIRM_END_PAUSED, CONFIRM_END_CANCELLED };
enum confirm_end confirm_finish(struct engine *e, struct job *job, const char *verified, const char *transcode);
/* Pause a job waiting for its confirmation: NULL when paused, else why not.
 * Caller holds e->lock. */
const char *confirm_pause(struct engine *e, struct job *job);

/* ---- verify.c -------------------------------------------------------------- */

/* The one wording of a HEAD's verdict: "complete: offset = length = N" or
 * "incomplete: offset A of length B (file C)". True when complete. */
bool verify_describe_offsets(uint64_t offset, uint64_t length, uint64_t size, char *out, size_t cap);
struct transport;
/* A `verify` job, on a worker: HEAD, and on Vimeo upload.status when the
 * link is gone; the row ends done or failed. */
void verify_run(struct engine *e, struct job *job, const struct transport *t);
/* verify-now, on the helper: HEAD a job's upload, whatever its state. */
void verify_now(struct engine *e, unsigned job, const struct transport *t);

#endif
