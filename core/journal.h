/*
 * journal: what vimeo-up knows about every upload, durable across crashes,
 * in SQLite (WAL) at DIR/journal.db, mode 0600 in a 0700 directory: a
 * journal (or -wal, -shm) others can read is made 0600, a directory others
 * can enter is refused.
 *
 * A file is matched by (canonical path, size, mtime, inode, ctime, endpoint, and the
 * video it replaces, if any), so a changed
 * file is never resumed onto an old upload. A row is owned by one live
 * process at a time (journal_claim, in one IMMEDIATE transaction): two
 * vimeo-up processes sharing a journal never upload the same file at once.
 * The access token is never stored. Thread-safe (one connection, a mutex).
 *
 * Durable against a crash of the process (kill -9, out of memory): a save
 * that returned true is in the journal when the next process opens it. Not
 * against the machine losing power or the kernel crashing: the WAL is
 * synced to the disk at its checkpoints, not at every commit
 * (synchronous=NORMAL), so the last saves before a power cut may be lost;
 * the journal is still whole, as it was a moment earlier.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal;

struct journal_key {
    const char *path;     /* absolute */
    uint64_t size;
    int64_t mtime_ns;
    uint64_t inode;
    int64_t ctime_ns;     /* the inode's change time: a rewrite in place with the mtime put back shows here */
    const char *endpoint; /* API base, or the tus endpoint */
    const char *replaces; /* the video whose file this replaces (--replace); NULL or "": a new video */
};

struct journal_entry {
    int64_t id;
    char path[4096];
    uint64_t size;
    int64_t mtime_ns;
    uint64_t inode;
    int64_t ctime_ns;     /* 0 in rows written before version 2 */
    char endpoint[1024];
    char video[96];
    char upload_link[2048];
    uint64_t acked;
    char state[16];   /* queued creating uploading paused retrying verifying done failed cancelled */
    char error[400];
    char verified[400];
    double created, updated; /* Unix time */
    char page[256];   /* the video's page on vimeo.com (Vimeo's "link"); "" before version 3 */
    char replaces[96]; /* the video a new version of this file goes to; "": a video of its own */
    char transcode[16]; /* Vimeo's transcode.status last known: in_progress, complete, error; "" */
};

enum journal_claim { JOURNAL_CLAIMED, JOURNAL_ALREADY_DONE, JOURNAL_BUSY, JOURNAL_ERROR };

/* Open or create; on failure err gets one line naming the file. */
struct journal *journal_open(const char *dir, char *err, size_t cap);
/* The journal in dir for reading only (--dry-run, list): never created,
 * upgraded or written; an older version reads with the defaults of what it
 * lacks. NULL with err "" when there is none yet, or NULL with one line in
 * err. Only journal_find, journal_each and journal_error may be used on it. */
struct journal *journal_open_existing(const char *dir, char *err, size_t cap);
void journal_close(struct journal *j);

/* Take the row for this file and key->replaces (creating it), unless another live process
 * holds it (BUSY) or it is done and again is false (ALREADY_DONE; out says
 * which video). again starts a fresh row even for a finished file. */
enum journal_claim journal_claim(struct journal *j, const struct journal_key *key, bool again,
                                 struct journal_entry *out);
/* journal_claim for n files in one transaction, in order: results[i] and
 * outs[i] are keys[i]'s. Should any fail, none is claimed: every result is
 * JOURNAL_ERROR. */
void journal_claim_many(struct journal *j, const struct journal_key *keys, size_t n, bool again,
                        struct journal_entry *outs, enum journal_claim *results);
/* Take an existing row by id (for resume); same BUSY rule. */
enum journal_claim journal_claim_id(struct journal *j, int64_t id, struct journal_entry *out);

/* Store video, upload_link, acked, state, error, verified, page and transcode of e. False
 * when it did not reach the disk, with why as one line ("journal: No space
 * left on device"). */
bool journal_save(struct journal *j, const struct journal_entry *e, char *why, size_t cap);
/* journal_save for each of n rows, in one transaction: every row reaches
 * the disk, or none does (false, with why). */
bool journal_save_many(struct journal *j, const struct journal_entry *const *rows, size_t n, char *why, size_t cap);
/* Give up ownership of a row (on exit). Written with the next write or at
 * journal_close, all such releases in one transaction: one lost in a crash
 * costs nothing, as a dead process owns no row. */
void journal_release(struct journal *j, int64_t id);

/* Every row, oldest first, to fn; unfinished_only skips done and cancelled.
 * Returns the number of rows, or -1 when the journal cannot be read to the
 * end (a damaged page, an I/O error, no memory): fn may have seen only some
 * rows, and journal_error says why. A caller must treat -1 as "journal
 * unusable", never as "nothing to do". */
int journal_each(struct journal *j, bool unfinished_only, void (*fn)(void *ctx, const struct journal_entry *e),
                 void *ctx);
/* One read transaction over many reads (a listing), ended by
 * journal_read_end: each row read in it then takes no file lock of its own
 * (half of `list`'s time over 100,000 rows). Nothing may be written in it.
 * Without one (false: it could not start) each read is its own. */
bool journal_read_begin(struct journal *j);
void journal_read_end(struct journal *j);
/* The newest row for key, as journal_claim matches it, read only (for a
 * dry run): 1 with it in out, 0 when there is none, -1 when the journal
 * cannot be read (journal_error says why). */
int journal_find(struct journal *j, const struct journal_key *key, struct journal_entry *out);
/* journal_each's or journal_find's last failure as one line: "journal unreadable: PATH: REASON". */
void journal_error(struct journal *j, char *out, size_t cap);

#endif
