/*
 * engine: vimeo-up's upload engine, the public header of libvimeoup.
 *
 * A pool of worker threads takes files from a queue and uploads each over
 * tus: create the upload (Vimeo's POST /me/videos, or POST to a generic tus
 * endpoint), PATCH chunks streamed from the file, then HEAD until the server
 * proves Upload-Offset == Upload-Length == the file's size. Faults are
 * retried with capped exponential backoff; progress is kept in a journal so
 * a killed run resumes where the server is.
 *
 * Contract with a front end (the command line or the dashboard):
 * - Every engine_* function is safe from any thread and never blocks on the
 *   network; commands take effect asynchronously (pause within 1 s) and
 *   never wait for the journal. Adding work (engine_add*, engine_list)
 *   reads or claims journal rows on the caller's thread: SQLite, local.
 * - engine_wakeup_fd() becomes readable when anything changed. The front end
 *   polls it, calls engine_wakeup_drain(), then engine_snapshot() for the
 *   rows and engine_events() for what happened, and sleeps again. Nothing in
 *   the engine waits for the front end.
 * - The engine never prints, never exits the process, never touches the
 *   terminal, and never shows or stores the access token.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults and limits, in one place for the engine and its front ends
 * (macros, so that a usage text can spell them: ENGINE_STR). */
#define ENGINE_DEFAULT_WORKERS 4
#define ENGINE_MAX_WORKERS 64
#define ENGINE_DEFAULT_STALL_SECONDS 30
#define ENGINE_MAX_STALL_SECONDS 3600
#define ENGINE_DEFAULT_CHUNK_MIB 128
#define ENGINE_STR_(x) #x
#define ENGINE_STR(x) ENGINE_STR_(x)

/*
 * The states a job shows, each with its name, which is also the state
 * string the journal stores, and the event announced on entering it
 * (NONE: entering it is not news of its own). One list makes the enum, the
 * names and the journal's strings, so they cannot drift apart. A cancelled
 * job has left the table; the journal remembers it so resume skips it.
 */
#define ENGINE_STATES(X)                  \
    X(QUEUED, "queued", QUEUED)           \
    X(CREATING, "creating", NONE)         \
    X(UPLOADING, "uploading", NONE)       \
    X(PAUSED, "paused", PAUSED)           \
    X(RETRYING, "retrying", RETRY)        \
    X(VERIFYING, "verifying", NONE)       \
    X(DONE, "done", DONE)                 \
    X(FAILED, "failed", FAILED)           \
    X(CANCELLED, "cancelled", REMOVED)

#define ENGINE_STATE_ENUM(id, name, event) ENGINE_##id,
enum engine_state { ENGINE_STATES(ENGINE_STATE_ENUM) ENGINE_STATE_COUNT };
#undef ENGINE_STATE_ENUM
const char *engine_state_name(enum engine_state state);
/* The state for a journal string; false for a string that is none. */
bool engine_state_parse(const char *name, enum engine_state *out);
/* Done, failed or cancelled: no worker will touch the job again by itself. */
bool engine_state_final(enum engine_state state);
/* Using a worker now, or waiting to retry: what "active" means everywhere. */
bool engine_state_active(enum engine_state state);

struct engine_config {
    const char *api_base;       /* Vimeo API base URL */
    const char *tus_endpoint;   /* a generic tus creation endpoint instead of Vimeo; NULL for Vimeo */
    const char *token;          /* Vimeo access token (copied; never logged) */
    const char *state_dir;      /* where journal.db lives */
    unsigned workers;           /* parallel uploads */
    uint64_t chunk_size;        /* bytes per PATCH; 0: the rest of the file in one */
    uint64_t rate_limit;        /* total bytes/s; 0: none */
    const char *name;           /* video name; NULL: the file's name */
    const char *description, *privacy;
    const char *folder;         /* a folder's URI, its ID, or its vimeo.com/manage/folders/ID URL */
    const char *password;       /* for privacy "password" (copied; never logged) */
    const char *ca_file;        /* CA bundle to trust (--cacert); NULL: the system's */
    const char *const *tags;    /* tags for every new video (copied) */
    size_t ntags;
    bool again;                 /* upload files the journal says are done */
    long stall_seconds;         /* under 1 KiB/s for this long is a failure */
    const char *replace;        /* a video URI (engine_parse_video): each file is a new version of it */
    bool wait_transcode;        /* engine_settled waits until every done video is transcoded */
    /* Each HTTP request when it ends (for -v), called on the thread that
     * made it, so it must be thread-safe and quick: the method, the URL
     * without user info, query or fragment (never the token, which is a
     * header), the status (0: no answer) and the seconds it took. NULL: none. */
    void (*on_request)(void *ctx, const char *method, const char *url, long status, double seconds);
    void *on_request_ctx;
    /* engine_check_api is about to wait this many seconds for Vimeo's rate
     * limit (a 429) before it asks again; on its caller's thread, with
     * on_request_ctx. NULL: it waits without a word. */
    void (*on_rate_wait)(void *ctx, double seconds);
    /* --dry-run, login: the journal (none without a state_dir) is read as
     * it is, never created, upgraded or written, and only engine_check_api,
     * engine_token_info, engine_probe and engine_quota_free may be used; the
     * rest refuses (engine_add's err says why). */
    bool read_only;
};

/* A video as a user may name it: /videos/N, /videos/N:HASH, N, or its page
 * (https://vimeo.com/N, https://vimeo.com/N/HASH); its URI (/videos/N or
 * /videos/N:HASH) into out. False when text is none of these. */
bool engine_parse_video(const char *text, char *out, size_t cap);

/*
 * Vimeo's transcode.status of a video once its bytes are verified, followed
 * after the upload: a field of its own, so that done keeps meaning "every
 * byte verified". Each with Vimeo's word (the journal's) and the word shown.
 */
#define ENGINE_TRANSCODES(X)                                  \
    X(UNKNOWN, "", "")                                        \
    X(IN_PROGRESS, "in_progress", "transcoding")              \
    X(COMPLETE, "complete", "available")                      \
    X(ERROR, "error", "transcode error")

#define ENGINE_TRANSCODE_ENUM(id, status, shown) ENGINE_TRANSCODE_##id,
enum engine_transcode { ENGINE_TRANSCODES(ENGINE_TRANSCODE_ENUM) ENGINE_TRANSCODE_COUNT };
#undef ENGINE_TRANSCODE_ENUM
/* The word shown ("transcoding", "available", "transcode error"; "" when unknown). */
const char *engine_transcode_name(enum engine_transcode transcode);
/* Vimeo's word for it ("in_progress", "complete", "error"; ""). */
const char *engine_transcode_status(enum engine_transcode transcode);
/* From Vimeo's word; UNKNOWN for any other. */
enum engine_transcode engine_transcode_parse(const char *status);

/* The numbers of one row of the table: what changes as bytes move. A front
 * end keeps these for every row (72 bytes, where a whole row is 368) and the
 * texts (struct engine_row) only for the rows it shows: 100,000 queued
 * files must fit in 64 MiB. One list makes struct engine_numbers and the
 * same fields in struct engine_row, so they cannot drift apart. */
#define ENGINE_NUMBERS_FIELDS                                                        \
    unsigned id;                                                                     \
    enum engine_state state;                                                         \
    enum engine_transcode transcode; /* done on Vimeo: transcoding, available, error */ \
    unsigned retries;           /* retries since the last progress */                 \
    uint64_t size;                                                                   \
    uint64_t sent;              /* bytes handed to the network (curl's count) */      \
    uint64_t acked;             /* bytes the server confirmed (Upload-Offset) */      \
    double rate;                /* bytes/s, smoothed */                               \
    double retry_in;            /* seconds until the next try, when retrying */       \
    double started, finished;   /* Unix times, 0 when not yet */
struct engine_numbers {
    ENGINE_NUMBERS_FIELDS
};

/* One row of the table: its numbers (row.numbers, or each by its name) and
 * its texts. */
struct engine_row {
    union {
        struct engine_numbers numbers;
        struct {
            ENGINE_NUMBERS_FIELDS
        };
    };
    char name[128];             /* the file's base name, raw bytes (escape before showing) */
    char video[32];             /* /videos/N, once created */
    char message[128];          /* the last error, or a note ("already uploaded as ...") */
    bool texts;                 /* name, video and message are filled (engine_fill_texts) */
};

/* Everything about one job, for a details pane or an event line. */
struct engine_details {
    struct engine_row row;
    char path[4096];
    char upload_link[2048];     /* the tus URL (pre-authorised; never the token) */
    char error[400];
    char verified[400];         /* last verification result */
    char note[160];
    char page[256];             /* the video's page, https://vimeo.com/N[/hash]; "" until Vimeo says */
};

struct engine_totals {
    unsigned files, done, failed, active;
    unsigned removed_done;      /* done, then taken out of the table: still uploaded this run */
    uint64_t bytes, acked;
    double rate;
    unsigned workers;
    uint64_t rate_limit;
    unsigned queued;            /* rows waiting for a worker */
    unsigned transcoding;       /* done rows whose video Vimeo is still transcoding */
    uint64_t moved;             /* bytes on their way or there: each row's sent or acked, whichever
                                   is more, up to its size; a done row's whole size */
    uint64_t sent_bytes;        /* engine_bytes_sent: what the overall rate is measured on (the
                                   offsets above jump when a HEAD finds what a killed run sent) */
};

#define ENGINE_EVENTS(X) \
    X(NONE, "none") X(QUEUED, "queued") X(CREATED, "created") X(PROGRESS, "progress") \
    X(PAUSED, "paused") X(RESUMED, "resumed") X(RETRY, "retry") X(VERIFIED, "verified") \
    X(DONE, "done") X(FAILED, "failed") X(REMOVED, "removed") X(WAITING, "waiting") \
    X(TRANSCODING, "transcoding") X(AVAILABLE, "available") X(TRANSCODE_ERROR, "transcode_error")

#define ENGINE_EVENT_ENUM(id, name) ENGINE_EV_##id,
enum engine_event_kind { ENGINE_EVENTS(ENGINE_EVENT_ENUM) ENGINE_EV_COUNT };
#undef ENGINE_EVENT_ENUM
const char *engine_event_name(enum engine_event_kind kind);

struct engine_event {
    enum engine_event_kind kind;
    unsigned job;
    double time;                /* Unix time */
    char message[400];          /* the error, the verification result, a note */
    struct engine_row row;      /* the job as it was then: a front end that prints the
                                   event later shows what was true when it happened */
};

struct engine;

/* Open the journal and start the workers. NULL with a one-line reason in err
 * when it cannot start (journal unusable, bad URL). */
struct engine *engine_new(const struct engine_config *config, char *err, size_t cap);

/* Check the API and the token before any work (GET /me, which also gives
 * the upload quota, and GET /oauth/verify for its scopes). False with a
 * one-line reason when the token is refused or lacks the upload scope, the
 * API is unreachable or answers garbage. True with a warning in err (else
 * "") when it lacks the delete scope. Skipped (true) for a generic tus
 * endpoint. */
bool engine_check_api(struct engine *e, char *err, size_t cap);

/* The token's user name and scopes (GET /oauth/verify), for `login`. False
 * with a one-line reason when the API refuses the token or cannot be
 * reached (the token never in it). */
bool engine_token_info(struct engine *e, char *user, size_t user_cap, char *scope, size_t scope_cap, char *err,
                       size_t cap);

/* Queue a file. Returns its job id (> 0; the existing one if the file is
 * queued already), or 0 with a one-line reason naming the file (missing, a
 * directory, unreadable, empty, busy in another vimeo-up). A file the
 * journal has as done gets a row in state done with the note "already
 * uploaded as /videos/N" (unless config.again). */
unsigned engine_add(struct engine *e, const char *path, char *err, size_t cap);
/* Per-file metadata (--manifest, an agent's add): each field set replaces the run's for
 * this file (folder: a folder URI, /users/N/projects/M; password: with
 * privacy "password"; replace: a video URI as engine_parse_video gives it,
 * the file a new version of it); NULL, or has_tags false, keeps the run's.
 * Copied. */
struct engine_file_meta {
    const char *name, *description, *privacy, *folder, *password, *replace;
    const char *const *tags;
    size_t ntags;
    bool has_tags;              /* tags replace the run's, even when there are none */
};
/* engine_add with the file's own metadata (unused when the file is
 * already queued, or done per the journal). */
unsigned engine_add_with(struct engine *e, const char *path, const struct engine_file_meta *meta, char *err,
                         size_t cap);
/* engine_add_with (meta may be NULL); *is_new says whether the file got a
 * job now (false: it had one). */
unsigned engine_add_new(struct engine *e, const char *path, const struct engine_file_meta *meta, bool *is_new,
                        char *err, size_t cap);
/* engine_add_new for n files at once (metas NULL, or metas[i] NULL: the
 * run's metadata): their journal claims share one transaction. ids[i] is
 * file i's job, or 0 after refused(ctx, i, err) said why, as engine_add's
 * err; refused is called in order. is_new (NULL: not wanted): as
 * engine_add_new's, file by file. */
/* Files a caller hands engine_add_many at a time: 32 a transaction take
 * 10,000 claims to ~300 transactions, and the caller's arrays stay small. */
enum { ENGINE_ADD_BATCH = 32 };
void engine_add_many(struct engine *e, const char *const *paths, const struct engine_file_meta *const *metas,
                     size_t n, unsigned *ids, bool *is_new, void (*refused)(void *ctx, size_t i, const char *err),
                     void *ctx);

/* One line of a --manifest, a JSON object: path (required) and any of
 * name, description, privacy, password_file, folder, replace (strings) and
 * tags (an array of strings). present says which were given. False with
 * "FIELD: what is wrong" in err (an unknown field, a wrong type, a value
 * too long, no path). Values are checked further by the front end. */
#define ENGINE_MANIFEST_MAX_TAGS 20
enum { ENGINE_MANIFEST_NAME = 1, ENGINE_MANIFEST_DESCRIPTION = 2, ENGINE_MANIFEST_PRIVACY = 4,
       ENGINE_MANIFEST_PASSWORD_FILE = 8, ENGINE_MANIFEST_FOLDER = 16, ENGINE_MANIFEST_TAGS = 32,
       ENGINE_MANIFEST_REPLACE = 64 };
struct engine_manifest_line {
    char path[4096], name[1024], description[5000], privacy[32], password_file[4096], folder[256], replace[256];
    char tags[ENGINE_MANIFEST_MAX_TAGS][256];
    size_t ntags;
    unsigned present;           /* ENGINE_MANIFEST_* bits */
};
bool engine_manifest_parse(const char *line, size_t len, struct engine_manifest_line *out, char *err, size_t cap);

/* A row in state failed for a file refused before it was queued (reason:
 * engine_add's err), so a dashboard shows it; the journal is not touched. */
unsigned engine_add_refused(struct engine *e, const char *path, const char *reason);

/* What engine_add would do with path, doing nothing (for --dry-run):
 * UPLOAD (*size: its bytes), DONE (the journal has it uploaded: video is
 * its /videos/N, or its link for a generic tus upload), or REFUSED (err:
 * why, as engine_add says it). replace: the video the file would be a new
 * version of (a manifest line's), NULL for config.replace. Reads one
 * journal row only. */
enum engine_probe { ENGINE_PROBE_UPLOAD, ENGINE_PROBE_DONE, ENGINE_PROBE_REFUSED };
enum engine_probe engine_probe(struct engine *e, const char *path, const char *replace, uint64_t *size, char *video,
                               size_t video_cap, char *err, size_t cap);

/* The free upload quota in bytes that engine_check_api learnt; -1 when
 * Vimeo sets no limit or it is not known (a generic tus endpoint). */
int64_t engine_quota_free(struct engine *e);

/* Queue every unfinished upload in the journal; returns how many, or -1
 * with "journal unreadable: PATH: REASON" in err when the journal cannot be
 * read to the end. Files that changed or vanished since are failed with a
 * message that says so. */
int engine_add_unfinished(struct engine *e, char *err, size_t cap);

/* Verify the server side of a journal entry now (HEAD), for the `verify`
 * command; the result is a new done/failed row. 0 with the reason in err
 * when there is no such entry or the journal cannot be read. */
unsigned engine_add_verify(struct engine *e, const char *path_or_uri, char *err, size_t cap);
/* Every entry; returns how many, or -1 as engine_add_unfinished. */
int engine_add_verify_all(struct engine *e, char *err, size_t cap);

/* One journal entry, for `list`. The strings live only during the call. */
struct engine_record {
    int64_t id;
    const char *path, *state, *video, *upload_link, *endpoint, *error, *verified;
    uint64_t size, acked;
    double created, updated;    /* Unix times */
    const char *page;           /* the video's page on vimeo.com, or "" */
    const char *transcode;      /* the last transcode status known, as shown (engine_transcode_name) */
};
/* Every journal entry in state_dir, oldest first, to fn, without starting
 * an engine. Returns how many, or -1 with one line in err (journal missing
 * its directory, unusable, unreadable). */
int engine_list(const char *state_dir, void (*fn)(void *ctx, const struct engine_record *r), void *ctx, char *err,
                size_t cap);
/* True for an entry resume takes: neither done nor cancelled (a state this
 * version does not know counts as unfinished). */
bool engine_record_unfinished(const struct engine_record *r);

/* Pause or resume one job: NULL when done (or under way), else why not, in
 * a few words for the user ("already done"). Resuming a failed upload tries
 * it again once its file is checked unchanged. */
const char *engine_pause(struct engine *e, unsigned job);
const char *engine_resume(struct engine *e, unsigned job);
void engine_pause_all(struct engine *e);
void engine_resume_all(struct engine *e);
/* HEAD the upload now, whatever its state; the result lands in `verified`. */
void engine_verify(struct engine *e, unsigned job);
/* Stop and forget a job; with delete_video also delete the video (or tus upload). */
void engine_cancel(struct engine *e, unsigned job, bool delete_video);
void engine_set_workers(struct engine *e, unsigned workers);
void engine_set_rate_limit(struct engine *e, uint64_t bytes_per_second);

int engine_wakeup_fd(struct engine *e);
void engine_wakeup_drain(struct engine *e);

/* One job's details; false if there is no such job. */
bool engine_details(struct engine *e, unsigned job, struct engine_details *out);

/* A copy of every row and the totals; returns the number of rows. *rows is
 * the caller's buffer of *cap rows, grown here when too small (start with
 * NULL and 0; free it when done): a front end that redraws often copies
 * into the same memory every time. 0 rows, *rows unchanged, when out of
 * memory. */
size_t engine_snapshot(struct engine *e, struct engine_row **rows, size_t *cap, struct engine_totals *totals);
/* The same without the texts (name, video and message empty, texts false):
 * a dashboard with 10,000 rows shows 50, and copying every name cost more
 * than drawing the frame. */
size_t engine_snapshot_numbers(struct engine *e, struct engine_row **rows, size_t *cap, struct engine_totals *totals);
/* The numbers of every row and the totals, as engine_snapshot: what a front
 * end with 100,000 rows keeps, fetching texts for the rows it shows only
 * (engine_fill_texts, on rows whose numbers it set). */
size_t engine_snapshot_compact(struct engine *e, struct engine_numbers **rows, size_t *cap,
                               struct engine_totals *totals);
/* Fill the texts of n rows (of any snapshot) from their jobs as they are now. */
void engine_fill_texts(struct engine *e, struct engine_row *rows, size_t n);
/*
 * Part of the table, for a front end that shows a window of it: every row
 * is counted into the totals, and only the rows asked for are copied, whole
 * with their texts. A dashboard of 100,000 rows copies the 50 it shows.
 * Positions are in engine_snapshot's order, counting only the rows whose
 * state is in states.
 */
#define ENGINE_STATE_BIT(state) (1u << (state))
struct engine_window {
    size_t first, max;          /* the rows wanted: positions first to first + max - 1 */
    unsigned states;            /* ENGINE_STATE_BIT()s of the rows listed; 0: every row */
    unsigned find;              /* a job whose position is wanted; 0: none */
    size_t listed;              /* out: how many rows are listed */
    size_t found_at;            /* out: find's position; SIZE_MAX when it is not listed */
    size_t first_active;        /* out: the first active row's position; SIZE_MAX: none */
};
/* The rows wanted into rows (room for w->max), and the totals; returns how
 * many were copied. */
size_t engine_snapshot_window(struct engine *e, struct engine_window *w, struct engine_row *rows,
                              struct engine_totals *totals);
/* The same count, for a front end that holds every row itself (a mirror of
 * the agent's table): begin, then take each row in order; take says
 * whether that row is one of those wanted. */
void engine_window_begin(struct engine_window *w, struct engine_totals *totals);
bool engine_window_take(struct engine_window *w, struct engine_totals *totals, const struct engine_numbers *row);
/* Take up to max events that happened since the last call. */
size_t engine_events(struct engine *e, struct engine_event *out, size_t max);

/* True when no job is queued or active (every job is done, failed or paused),
 * and with config.wait_transcode no done video is still transcoding. */
bool engine_settled(struct engine *e);

/* Upload bytes this engine handed to the network, every attempt counted:
 * a resumed file counts only what this run sent, not what the server had. */
uint64_t engine_bytes_sent(struct engine *e);

/* Stop every transfer and join the workers; blocks for up to a few
 * seconds, as a video being created gets 2 s for Vimeo's answer (a
 * create cut off is said in a "paused" event). Nothing is uploaded after
 * it; what the stop had to say can still be taken (engine_events) and
 * every row read. engine_free stops too, when this was not called. */
void engine_stop(struct engine *e);

/* Stop (engine_stop), save every acknowledged offset, close the journal. */
void engine_free(struct engine *e);

#endif
