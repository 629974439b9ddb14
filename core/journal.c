#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* "vup1": tells our journal from any other SQLite file. */
enum {
    JOURNAL_APP_ID = 0x76757031,
    JOURNAL_VERSION = 5,       /* 2: ctime_ns; 3: page; 4: replaces; 5: transcode */
    /* How long a write waits for another vimeo-up's transaction. Only the
     * engine's own threads wait (never a front end's), so it may be long. */
    BUSY_TIMEOUT_MS = 10000,
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS uploads ("
    " id INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " inode INTEGER NOT NULL, endpoint TEXT NOT NULL, video TEXT NOT NULL DEFAULT '',"
    " upload_link TEXT NOT NULL DEFAULT '', acked INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL,"
    " error TEXT NOT NULL DEFAULT '', verified TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '',"
    " created REAL NOT NULL, updated REAL NOT NULL, ctime_ns INTEGER NOT NULL DEFAULT 0,"
    " page TEXT NOT NULL DEFAULT '', replaces TEXT NOT NULL DEFAULT '', transcode TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS uploads_key ON uploads(path, size, mtime_ns, endpoint);";

#define COLUMNS                                                                                                \
    "id, path, size, mtime_ns, inode, endpoint, video, upload_link, acked, state, error, verified, created, updated," \
    " ctime_ns, page, replaces, transcode"
enum { OWNER_COLUMN = 18 }; /* selected after the columns above */

/* The statements run once a file or more, each prepared once: parsing them
 * again on every call was a fifth of vimeo-up's CPU on many small files. */
enum statement {
    SQL_NEWEST, SQL_BY_ID, SQL_BY_ID_OWNER, SQL_INSERT, SQL_TAKE, SQL_SAVE, SQL_RELEASE, SQL_BEGIN_WRITE, SQL_COMMIT,
    SQL_ROLLBACK, SQL_COUNT
};

static const char *const statement_sql[SQL_COUNT] = {
    [SQL_NEWEST] = "SELECT " COLUMNS ", owner FROM uploads WHERE path=? AND size=? AND mtime_ns=? AND endpoint=?"
                   " AND inode=? AND (ctime_ns=? OR ctime_ns=0) AND replaces=? ORDER BY id DESC LIMIT 1",
    [SQL_BY_ID] = "SELECT " COLUMNS " FROM uploads WHERE id=?",
    [SQL_BY_ID_OWNER] = "SELECT " COLUMNS ", owner FROM uploads WHERE id=?",
    [SQL_INSERT] = "INSERT INTO uploads (path, size, mtime_ns, inode, endpoint, state, owner, created, updated,"
                   " ctime_ns, replaces) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
    [SQL_TAKE] = "UPDATE uploads SET owner=?, updated=? WHERE id=?",
    [SQL_SAVE] = "UPDATE uploads SET video=?, upload_link=?, acked=?, state=?, error=?, verified=?, updated=?,"
                 " page=?, transcode=? WHERE id=?",
    [SQL_RELEASE] = "UPDATE uploads SET owner='' WHERE id=? AND owner=?",
    [SQL_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
};

struct journal {
    sqlite3 *db;
    pthread_mutex_t lock;
    char owner[64];   /* this process: "pid:start-time" */
    char path[4096];
    char error[4096 + 256]; /* journal_each's last failure; under lock */
    sqlite3_stmt *statements[SQL_COUNT]; /* prepared on first use; under lock */
    int64_t *releases;        /* rows let go of, not written yet (journal_release); under lock */
    size_t nreleases, releases_cap;
};

/* What each version added, oldest first: an older journal gets the columns
 * it lacks, with defaults that mean "not known" (a version 1 row has no
 * ctime and matches any, as before). */
static const struct { int version; const char *column; } migrations[] = {
    { 2, "ctime_ns INTEGER NOT NULL DEFAULT 0" },
    { 3, "page TEXT NOT NULL DEFAULT ''" },
    { 4, "replaces TEXT NOT NULL DEFAULT ''" },
    { 5, "transcode TEXT NOT NULL DEFAULT ''" },
};

static double now_unix(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* A process's start time (field 22 of /proc/PID/stat) tells a live owner
 * from a new process that reused its pid; its state (field 3) tells a dead
 * one that its parent has not reaped yet (Z) from a live one. */
static bool process_start(long pid, unsigned long long *start, char *state)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')'); /* the command name may hold spaces */
    if (!p || p[1] != ' ' || !p[2])
        return false;
    *state = p[2];
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    return sscanf(p, "%llu", start) == 1;
}

static bool owner_alive(const char *owner, const char *me)
{
    long pid;
    unsigned long long start, now;
    char state;
    if (!owner[0] || !strcmp(owner, me) || sscanf(owner, "%ld:%llu", &pid, &start) != 2)
        return false;
    return process_start(pid, &now, &state) && now == start && state != 'Z' && state != 'X';
}

static bool exec(struct journal *j, const char *sql)
{
    return sqlite3_exec(j->db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* Statement which, prepared once; NULL if it cannot be. Caller holds
 * j->lock and hands it back with statement_done(). */
static sqlite3_stmt *statement(struct journal *j, enum statement which)
{
    if (!j->statements[which] && sqlite3_prepare_v3(j->db, statement_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                                    &j->statements[which], NULL) != SQLITE_OK)
        return NULL;
    return j->statements[which];
}

/* Reset, so that no read transaction stays open between calls, and let go
 * of the bound strings, which belong to the caller. */
static void statement_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void failure_reason(struct journal *j, char *why, size_t cap);

/* Run one of the statements that bind nothing (BEGIN IMMEDIATE, COMMIT,
 * ROLLBACK); why it failed into why, unless NULL. Caller holds j->lock. */
static bool run_why(struct journal *j, enum statement which, char *why, size_t cap)
{
    sqlite3_stmt *st = statement(j, which);
    bool ok = st && sqlite3_step(st) == SQLITE_DONE;
    if (!ok && why)
        failure_reason(j, why, cap);
    if (st)
        sqlite3_reset(st);
    return ok;
}

static bool run(struct journal *j, enum statement which)
{
    return run_why(j, which, NULL, 0);
}

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* SQLite's files beside the journal: made 0600 if they exist already. */
static const char *const sidecars[] = { "-wal", "-shm" };

/* Open path (creating it when create), and take its mode down to 0600: a
 * journal left 0644 by an older vimeo-up or by hand holds upload links. */
static bool make_private(const char *path, bool create, char *err, size_t cap)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
    struct stat st;
    if (fd < 0 && !create && errno == ENOENT)
        return true;
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && ((st.st_mode & 077) == 0 || fchmod(fd, 0600) == 0);
    if (!ok)
        snprintf(err, cap, "cannot open journal %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return ok;
}

/* The directory and file are made private before SQLite sees them;
 * SQLite gives its -wal and -shm files the database file's mode. A
 * directory that already exists may be anyone's (--state ~, say), so it
 * is not changed but refused when others can look in. */
static bool prepare_files(struct journal *j, const char *dir, char *err, size_t cap)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return snprintf(err, cap, "cannot create journal directory %s: %s", dir, strerror(errno)), false;
    if (stat(dir, &st) != 0)
        return snprintf(err, cap, "cannot open journal directory %s: %s", dir, strerror(errno)), false;
    if (st.st_mode & 077)
        return snprintf(err, cap, "journal directory %s is open to others (mode %03o); run chmod 700 %s", dir,
                        (unsigned)(st.st_mode & 0777), dir), false;
    if (!make_private(j->path, true, err, cap))
        return false;
    for (size_t i = 0; i < sizeof sidecars / sizeof sidecars[0]; i++) {
        char path[sizeof j->path + 8];
        snprintf(path, sizeof path, "%s%s", j->path, sidecars[i]);
        if (!make_private(path, false, err, cap))
            return false;
    }
    return true;
}

/* Bring an older journal up to JOURNAL_VERSION, in one transaction that
 * reads the version again: two vimeo-up processes opening it at once must
 * not both add a column. */
static bool migrate(struct journal *j, char *err, size_t cap)
{
    int version = 0;
    bool ok = exec(j, "BEGIN IMMEDIATE") && pragma_int(j->db, "PRAGMA user_version", &version) == SQLITE_OK;
    for (size_t i = 0; ok && i < sizeof migrations / sizeof migrations[0]; i++) {
        char sql[160];
        if (version >= migrations[i].version)
            continue;
        snprintf(sql, sizeof sql, "ALTER TABLE uploads ADD COLUMN %s", migrations[i].column);
        ok = exec(j, sql);
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", migrations[i].version);
        ok = ok && exec(j, sql);
    }
    if (ok && exec(j, "COMMIT"))
        return true;
    snprintf(err, cap, "journal %s cannot be brought to version %d: %s", j->path, JOURNAL_VERSION,
             sqlite3_errmsg(j->db));
    exec(j, "ROLLBACK");
    return false;
}

/* Open the database, check it is ours, and bring its schema up. */
static bool open_database(struct journal *j, char *err, size_t cap)
{
    int app = 0, tables = 0;
    if (sqlite3_open_v2(j->path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(j->db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
        pragma_int(j->db, "PRAGMA application_id", &app) != SQLITE_OK ||
        pragma_int(j->db, "SELECT count(*) FROM sqlite_master", &tables) != SQLITE_OK)
        return snprintf(err, cap, "journal %s is unreadable: %s", j->path,
                        j->db ? sqlite3_errmsg(j->db) : "no memory"), false;
    if (app != JOURNAL_APP_ID && (app != 0 || tables != 0))
        return snprintf(err, cap, "%s is not a vimeo-up journal (move it away to start a new one)", j->path), false;
    int version = 0;
    char init[128];
    snprintf(init, sizeof init, "PRAGMA application_id=%d; PRAGMA user_version=%d;", JOURNAL_APP_ID,
             JOURNAL_VERSION);
    if (!exec(j, "PRAGMA journal_mode=WAL") || !exec(j, "PRAGMA synchronous=NORMAL") || !exec(j, schema) ||
        (app == 0 && !exec(j, init)) || pragma_int(j->db, "PRAGMA user_version", &version) != SQLITE_OK)
        return snprintf(err, cap, "journal %s cannot be set up: %s", j->path, sqlite3_errmsg(j->db)), false;
    if (version > JOURNAL_VERSION)
        return snprintf(err, cap, "journal %s was written by a newer vimeo-up (version %d)", j->path, version),
               false;
    return version == JOURNAL_VERSION || migrate(j, err, cap);
}

static struct journal *journal_new(const char *dir, char *err, size_t cap)
{
    struct journal *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    unsigned long long start = 0;
    char state;
    process_start(getpid(), &start, &state);
    snprintf(j->owner, sizeof j->owner, "%ld:%llu", (long)getpid(), start);
    snprintf(j->path, sizeof j->path, "%s/journal.db", dir);
    return j;
}

struct journal *journal_open(const char *dir, char *err, size_t cap)
{
    struct journal *j = journal_new(dir, err, cap);
    if (j && (!prepare_files(j, dir, err, cap) || !open_database(j, err, cap))) {
        journal_close(j);
        return NULL;
    }
    return j;
}

/* An older journal read as it is: a view by the table's name, in the
 * connection's own TEMP schema (found before main), adds each column that
 * a later version brought, with its default. */
static bool shadow_older(struct journal *j, int version)
{
    char sql[1024] = "CREATE TEMP VIEW uploads AS SELECT *";
    for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++) {
        if (migrations[i].version <= version)
            continue;
        const char *column = migrations[i].column, *fallback = strstr(column, "DEFAULT ");
        size_t n = strlen(sql);
        snprintf(sql + n, sizeof sql - n, ", %s AS %.*s", fallback ? fallback + 8 : "NULL",
                 (int)strcspn(column, " "), column);
    }
    size_t n = strlen(sql);
    snprintf(sql + n, sizeof sql - n, " FROM main.uploads");
    return exec(j, sql);
}

struct journal *journal_open_existing(const char *dir, char *err, size_t cap)
{
    err[0] = '\0';
    struct journal *j = journal_new(dir, err, cap);
    if (!j)
        return NULL;
    int app = 0, tables = 0, version = 0;
    if (access(j->path, F_OK) != 0 && errno == ENOENT) {
        journal_close(j);
        return NULL;
    }
    if (sqlite3_open_v2(j->path, &j->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(j->db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
        pragma_int(j->db, "PRAGMA application_id", &app) != SQLITE_OK ||
        pragma_int(j->db, "SELECT count(*) FROM sqlite_master", &tables) != SQLITE_OK ||
        pragma_int(j->db, "PRAGMA user_version", &version) != SQLITE_OK)
        snprintf(err, cap, "journal %s is unreadable: %s", j->path, j->db ? sqlite3_errmsg(j->db) : "no memory");
    else if (app != JOURNAL_APP_ID && (app != 0 || tables != 0))
        snprintf(err, cap, "%s is not a vimeo-up journal (move it away to start a new one)", j->path);
    else if (version > JOURNAL_VERSION)
        snprintf(err, cap, "journal %s was written by a newer vimeo-up (version %d)", j->path, version);
    else if (tables > 0 && version < JOURNAL_VERSION && !shadow_older(j, version))
        snprintf(err, cap, "journal %s is unreadable: %s", j->path, sqlite3_errmsg(j->db));
    if (err[0] || tables == 0) { /* an empty file is no journal yet */
        journal_close(j);
        return NULL;
    }
    return j;
}

static void flush_releases(struct journal *j);

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->db) {
        pthread_mutex_lock(&j->lock);
        flush_releases(j);
        pthread_mutex_unlock(&j->lock);
    }
    free(j->releases);
    for (size_t i = 0; i < SQL_COUNT; i++)
        sqlite3_finalize(j->statements[i]);
    sqlite3_close(j->db);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static void copy_text(char *out, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static void read_row(sqlite3_stmt *st, struct journal_entry *e)
{
    e->id = sqlite3_column_int64(st, 0);
    copy_text(e->path, sizeof e->path, st, 1);
    e->size = (uint64_t)sqlite3_column_int64(st, 2);
    e->mtime_ns = sqlite3_column_int64(st, 3);
    e->inode = (uint64_t)sqlite3_column_int64(st, 4);
    copy_text(e->endpoint, sizeof e->endpoint, st, 5);
    copy_text(e->video, sizeof e->video, st, 6);
    copy_text(e->upload_link, sizeof e->upload_link, st, 7);
    e->acked = (uint64_t)sqlite3_column_int64(st, 8);
    copy_text(e->state, sizeof e->state, st, 9);
    copy_text(e->error, sizeof e->error, st, 10);
    copy_text(e->verified, sizeof e->verified, st, 11);
    e->created = sqlite3_column_double(st, 12);
    e->updated = sqlite3_column_double(st, 13);
    e->ctime_ns = sqlite3_column_int64(st, 14);
    copy_text(e->page, sizeof e->page, st, 15);
    copy_text(e->replaces, sizeof e->replaces, st, 16);
    copy_text(e->transcode, sizeof e->transcode, st, 17);
}

/* Within a transaction: take row e for this process unless a live one has it. */
static enum journal_claim take(struct journal *j, const struct journal_entry *e, const char *owner)
{
    if (owner_alive(owner, j->owner))
        return JOURNAL_BUSY;
    sqlite3_stmt *st = statement(j, SQL_TAKE);
    if (!st)
        return JOURNAL_ERROR;
    sqlite3_bind_text(st, 1, j->owner, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, now_unix());
    sqlite3_bind_int64(st, 3, e->id);
    int rc = sqlite3_step(st);
    statement_done(st);
    return rc == SQLITE_DONE ? JOURNAL_CLAIMED : JOURNAL_ERROR;
}

/* End the claim's transaction. A COMMIT that fails (a full disk) leaves
 * the row unclaimed: the claim is an error, never a job without a row. */
static enum journal_claim finish(struct journal *j, enum journal_claim result)
{
    if (result == JOURNAL_ERROR || !run(j, SQL_COMMIT)) {
        run(j, SQL_ROLLBACK);
        result = JOURNAL_ERROR;
    }
    pthread_mutex_unlock(&j->lock);
    return result;
}

static const char *key_replaces(const struct journal_key *key)
{
    return key->replaces ? key->replaces : "";
}

/* A new row: first upload of this file, or again after a finished one.
 * Caller holds j->lock, inside the claim's transaction. */
static enum journal_claim insert_row(struct journal *j, const struct journal_key *key, struct journal_entry *out)
{
    sqlite3_stmt *st = statement(j, SQL_INSERT);
    if (!st)
        return JOURNAL_ERROR;
    double now = now_unix();
    sqlite3_bind_text(st, 1, key->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)key->size);
    sqlite3_bind_int64(st, 3, key->mtime_ns);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)key->inode);
    sqlite3_bind_text(st, 5, key->endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, j->owner, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 7, now);
    sqlite3_bind_double(st, 8, now);
    sqlite3_bind_int64(st, 9, key->ctime_ns);
    sqlite3_bind_text(st, 10, key_replaces(key), -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    statement_done(st);
    if (rc != SQLITE_DONE)
        return JOURNAL_ERROR;
    *out = (struct journal_entry){ .id = sqlite3_last_insert_rowid(j->db), .size = key->size,
                                   .mtime_ns = key->mtime_ns, .inode = key->inode, .ctime_ns = key->ctime_ns,
                                   .created = now, .updated = now };
    snprintf(out->path, sizeof out->path, "%s", key->path);
    snprintf(out->endpoint, sizeof out->endpoint, "%s", key->endpoint);
    snprintf(out->replaces, sizeof out->replaces, "%s", key_replaces(key));
    strcpy(out->state, "queued");
    return JOURNAL_CLAIMED;
}

static void note_unreadable(struct journal *j, const char *reason);

/* The newest row for key: 1 with it in out and its owner, 0 when there is
 * none, -1 on an error. Caller holds j->lock. */
static int newest_row(struct journal *j, const struct journal_key *key, struct journal_entry *out, char *owner,
                      size_t owner_cap)
{
    sqlite3_stmt *st = statement(j, SQL_NEWEST);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)key->size);
    sqlite3_bind_int64(st, 3, key->mtime_ns);
    sqlite3_bind_text(st, 4, key->endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)key->inode);
    sqlite3_bind_int64(st, 6, key->ctime_ns);
    sqlite3_bind_text(st, 7, key_replaces(key), -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_row(st, out);
        copy_text(owner, owner_cap, st, OWNER_COLUMN);
    }
    statement_done(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int journal_find(struct journal *j, const struct journal_key *key, struct journal_entry *out)
{
    char owner[64];
    pthread_mutex_lock(&j->lock);
    int found = newest_row(j, key, out, owner, sizeof owner);
    if (found < 0)
        note_unreadable(j, NULL);
    pthread_mutex_unlock(&j->lock);
    return found;
}

/* journal_claim's decision for one file, inside the caller's transaction.
 * Caller holds j->lock. */
static enum journal_claim claim_one(struct journal *j, const struct journal_key *key, bool again,
                                    struct journal_entry *out)
{
    char owner[64];
    int found = newest_row(j, key, out, owner, sizeof owner);
    if (found < 0)
        return JOURNAL_ERROR;
    if (found) {
        bool finished = !strcmp(out->state, "done") || !strcmp(out->state, "cancelled");
        if (!strcmp(out->state, "done") && !again)
            return owner_alive(owner, j->owner) ? JOURNAL_BUSY : JOURNAL_ALREADY_DONE;
        if (!finished)
            return take(j, out, owner);
        if (owner_alive(owner, j->owner))
            return JOURNAL_BUSY;
    }
    return insert_row(j, key, out);
}

enum journal_claim journal_claim(struct journal *j, const struct journal_key *key, bool again,
                                 struct journal_entry *out)
{
    enum journal_claim result;
    journal_claim_many(j, key, 1, again, out, &result);
    return result;
}

void journal_claim_many(struct journal *j, const struct journal_key *keys, size_t n, bool again,
                        struct journal_entry *outs, enum journal_claim *results)
{
    pthread_mutex_lock(&j->lock);
    flush_releases(j);
    bool ok = run(j, SQL_BEGIN_WRITE);
    for (size_t i = 0; i < n; i++) {
        results[i] = ok ? claim_one(j, &keys[i], again, &outs[i]) : JOURNAL_ERROR;
        ok = results[i] != JOURNAL_ERROR;
    }
    /* A COMMIT that fails (a full disk) leaves every row unclaimed: each
     * claim is an error, never a job without a row. */
    if (n && (results[n - 1] == JOURNAL_ERROR || !run(j, SQL_COMMIT))) {
        run(j, SQL_ROLLBACK);
        for (size_t i = 0; i < n; i++)
            results[i] = JOURNAL_ERROR;
    }
    pthread_mutex_unlock(&j->lock);
}

enum journal_claim journal_claim_id(struct journal *j, int64_t id, struct journal_entry *out)
{
    pthread_mutex_lock(&j->lock);
    flush_releases(j);
    if (!run(j, SQL_BEGIN_WRITE)) {
        pthread_mutex_unlock(&j->lock);
        return JOURNAL_ERROR;
    }
    sqlite3_stmt *st = statement(j, SQL_BY_ID_OWNER);
    if (!st)
        return finish(j, JOURNAL_ERROR);
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        statement_done(st);
        return finish(j, JOURNAL_ERROR);
    }
    char owner[64];
    read_row(st, out);
    copy_text(owner, sizeof owner, st, OWNER_COLUMN);
    statement_done(st);
    return finish(j, take(j, out, owner));
}

/* Why the last statement failed, as a user reads it: the system's word
 * ("No space left on device") when there is one, else SQLite's. */
static void failure_reason(struct journal *j, char *why, size_t cap)
{
    int sys = sqlite3_system_errno(j->db);
    if (!sys && sqlite3_errcode(j->db) == SQLITE_FULL)
        sys = ENOSPC; /* SQLite's own word for it, "database or disk is full", hides which */
    snprintf(why, cap, "journal: %s", sys ? strerror(sys) : sqlite3_errmsg(j->db));
}

/* Bind and run the save of row e; why it failed into why. Caller holds
 * j->lock. */
static bool save_row(struct journal *j, sqlite3_stmt *st, const struct journal_entry *e, char *why, size_t cap)
{
    sqlite3_bind_text(st, 1, e->video, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->upload_link, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)e->acked);
    sqlite3_bind_text(st, 4, e->state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e->error, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->verified, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 7, now_unix());
    sqlite3_bind_text(st, 8, e->page, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, e->transcode, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, e->id);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    if (!ok)
        failure_reason(j, why, cap);
    statement_done(st);
    return ok;
}

bool journal_save(struct journal *j, const struct journal_entry *e, char *why, size_t cap)
{
    return journal_save_many(j, &e, 1, why, cap);
}

bool journal_save_many(struct journal *j, const struct journal_entry *const *rows, size_t n, char *why, size_t cap)
{
    if (!n)
        return true;
    pthread_mutex_lock(&j->lock);
    flush_releases(j);
    sqlite3_stmt *st = statement(j, SQL_SAVE);
    /* One row is a transaction of its own; more share one, which costs
     * about what one row does (the locks, the WAL's frames). */
    bool many = n > 1, ok = st && (!many || run_why(j, SQL_BEGIN_WRITE, why, cap));
    bool begun = ok && many;
    if (!st)
        failure_reason(j, why, cap);
    for (size_t i = 0; ok && i < n; i++)
        ok = save_row(j, st, rows[i], why, cap);
    if (ok && many)
        ok = run_why(j, SQL_COMMIT, why, cap);
    if (!ok && begun)
        run(j, SQL_ROLLBACK); /* none of them, as with one row that failed */
    pthread_mutex_unlock(&j->lock);
    return ok;
}

/* Let go of row id, if this process holds it. Caller holds j->lock. */
static void release_row(struct journal *j, sqlite3_stmt *st, int64_t id)
{
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, j->owner, -1, SQLITE_STATIC);
    sqlite3_step(st);
    statement_done(st);
}

/* Write the releases journal_release kept, in one transaction. One that
 * does not reach the disk costs nothing: a row whose owner is dead is free
 * (owner_alive), and a process lets go of its rows as it ends. Caller
 * holds j->lock. */
static void flush_releases(struct journal *j)
{
    sqlite3_stmt *st = j->nreleases ? statement(j, SQL_RELEASE) : NULL;
    bool begun = st && run(j, SQL_BEGIN_WRITE);
    for (size_t i = 0; st && i < j->nreleases; i++)
        release_row(j, st, j->releases[i]);
    if (begun && !run(j, SQL_COMMIT))
        run(j, SQL_ROLLBACK);
    j->nreleases = 0;
}

void journal_release(struct journal *j, int64_t id)
{
    /* Kept until the next write or journal_close: a process letting go of
     * 10,000 rows as it ended wrote 10,000 transactions, a quarter of a
     * second of a run of many small files. */
    pthread_mutex_lock(&j->lock);
    if (j->nreleases == j->releases_cap) {
        size_t cap = j->releases_cap ? j->releases_cap * 2 : 64;
        int64_t *more = realloc(j->releases, cap * sizeof *more);
        if (more) {
            j->releases = more;
            j->releases_cap = cap;
        }
    }
    sqlite3_stmt *st;
    if (j->nreleases < j->releases_cap)
        j->releases[j->nreleases++] = id;
    else if ((st = statement(j, SQL_RELEASE)) != NULL)
        release_row(j, st, id); /* no memory to keep it: written alone */
    pthread_mutex_unlock(&j->lock);
}

/* SQLITE_ROW with the row in e, SQLITE_DONE if it is gone, else the error.
 * The statement is prepared once for every row (statement()): preparing it
 * again for each of 100,000 rows was most of `list`'s time. */
static int read_by_id(struct journal *j, int64_t id, struct journal_entry *e)
{
    sqlite3_stmt *st = statement(j, SQL_BY_ID);
    if (!st)
        return sqlite3_errcode(j->db);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_row(st, e);
    statement_done(st);
    return rc;
}

/* Under lock: remember why the journal could not be read (reason NULL:
 * SQLite's message for the last call). */
static void note_unreadable(struct journal *j, const char *reason)
{
    snprintf(j->error, sizeof j->error, "journal unreadable: %s: %s", j->path,
             reason ? reason : sqlite3_errmsg(j->db));
}

bool journal_read_begin(struct journal *j)
{
    pthread_mutex_lock(&j->lock);
    bool ok = exec(j, "BEGIN");
    pthread_mutex_unlock(&j->lock);
    return ok;
}

void journal_read_end(struct journal *j)
{
    pthread_mutex_lock(&j->lock);
    exec(j, "COMMIT");
    pthread_mutex_unlock(&j->lock);
}

/* Under lock: the ids of the rows journal_each reads, oldest first, in *ids
 * (the caller frees it). False, with why noted, when they cannot be read
 * to the end. */
static bool read_ids(struct journal *j, bool unfinished_only, int64_t **ids, size_t *n)
{
    size_t cap = 0;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(j->db,
                                unfinished_only ? "SELECT id FROM uploads WHERE state NOT IN ('done', 'cancelled')"
                                                  " ORDER BY id"
                                                : "SELECT id FROM uploads ORDER BY id",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *more = realloc(*ids, cap * sizeof **ids);
            if (!more)
                break;
            *ids = more;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (rc != SQLITE_DONE)
        note_unreadable(j, rc == SQLITE_ROW ? "out of memory" : NULL);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
}

int journal_each(struct journal *j, bool unfinished_only, void (*fn)(void *ctx, const struct journal_entry *e),
                 void *ctx)
{
    /* Ids first, rows one at a time after: memory stays small whatever the
     * journal's size, and fn may call back into the journal. A step that
     * fails (a damaged page, an I/O error) is an error, never the end of
     * the rows: a corrupt journal must not read as an empty one. */
    int64_t *ids = NULL;
    size_t n = 0;
    int rc;
    pthread_mutex_lock(&j->lock);
    bool ok = read_ids(j, unfinished_only, &ids, &n);
    pthread_mutex_unlock(&j->lock);
    struct journal_entry *e = malloc(sizeof *e);
    if (ok && !e) {
        ok = false;
        pthread_mutex_lock(&j->lock);
        note_unreadable(j, "out of memory");
        pthread_mutex_unlock(&j->lock);
    }
    for (size_t i = 0; ok && i < n; i++) {
        pthread_mutex_lock(&j->lock);
        rc = read_by_id(j, ids[i], e);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            ok = false;
            note_unreadable(j, NULL);
        }
        pthread_mutex_unlock(&j->lock);
        if (rc == SQLITE_ROW)
            fn(ctx, e);
    }
    free(e);
    free(ids);
    return ok ? (int)n : -1;
}

void journal_error(struct journal *j, char *out, size_t cap)
{
    pthread_mutex_lock(&j->lock);
    snprintf(out, cap, "%s", j->error);
    pthread_mutex_unlock(&j->lock);
}
