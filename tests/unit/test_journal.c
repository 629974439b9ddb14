/* The journal: private, matched by (path, size, mtime, endpoint), owned by one process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "journal.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/vimeo-up-journal.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static const struct journal_key key = { .path = "/videos/a.mp4", .size = 1000, .mtime_ns = 1700000000123456789LL,
                                        .inode = 42, .ctime_ns = 1700000000123456790LL,
                                        .endpoint = "https://api.vimeo.com" };

static void private_files(void **state)
{
    (void)state;
    char err[256], sub[128], path[160];
    snprintf(sub, sizeof sub, "%s/state", dir);
    struct journal *j = journal_open(sub, err, sizeof err);
    assert_non_null(j);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/journal.db", sub);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    journal_close(j);
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

/* A journal and its -wal and -shm left 0644 become 0600; a directory that
 * others can enter is refused, and left as it is. */
static void loose_modes_are_tightened_or_refused(void **state)
{
    (void)state;
    char err[4400], path[160];
    struct journal *j = journal_open(dir, err, sizeof err);
    assert_non_null(j);
    struct journal_entry *e = calloc(1, sizeof *e);
    assert_int_equal(journal_claim(j, &key, false, e), JOURNAL_CLAIMED); /* makes the -wal and -shm files */
    static const char *const names[] = { "journal.db", "journal.db-wal", "journal.db-shm" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        assert_int_equal(chmod(path, 0644), 0);
    }
    struct journal *second = journal_open(dir, err, sizeof err);
    assert_non_null(second);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        assert_int_equal(mode_of(path), 0600);
    }
    journal_close(second);
    journal_close(j);
    free(e);

    char sub[128];
    snprintf(sub, sizeof sub, "%s/open", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(chmod(sub, 0750), 0);
    assert_null(journal_open(sub, err, sizeof err));
    char want[400];
    snprintf(want, sizeof want, "journal directory %s is open to others (mode 750); run chmod 700 %s", sub, sub);
    assert_string_equal(err, want);
    assert_int_equal(mode_of(sub), 0750);
    snprintf(path, sizeof path, "%s/journal.db", sub);
    assert_int_equal(mode_of(path), -1);
}

static void matches_by_key_and_resumes(void **state)
{
    (void)state;
    char err[256], why[256];
    struct journal *j = journal_open(dir, err, sizeof err);
    struct journal_entry *e = calloc(1, sizeof *e), *again = calloc(1, sizeof *again);
    assert_int_equal(journal_claim(j, &key, false, e), JOURNAL_CLAIMED);
    strcpy(e->video, "/videos/7");
    strcpy(e->upload_link, "https://files.tus.vimeo.com/files/x");
    e->acked = 500;
    strcpy(e->state, "uploading");
    assert_true(journal_save(j, e, why, sizeof why));
    journal_release(j, e->id);
    journal_close(j);

    j = journal_open(dir, err, sizeof err);
    assert_int_equal(journal_claim(j, &key, false, again), JOURNAL_CLAIMED);
    assert_int_equal(again->id, e->id);
    assert_int_equal(again->acked, 500);
    assert_string_equal(again->upload_link, "https://files.tus.vimeo.com/files/x");
    /* A changed file (another mtime) never meets the old upload. */
    struct journal_key changed = key;
    changed.mtime_ns++;
    assert_int_equal(journal_claim(j, &changed, false, again), JOURNAL_CLAIMED);
    assert_int_not_equal(again->id, e->id);
    assert_string_equal(again->upload_link, "");
    /* Done: reported, unless again. */
    strcpy(e->state, "done");
    assert_true(journal_save(j, e, why, sizeof why));
    assert_int_equal(journal_claim(j, &key, false, again), JOURNAL_ALREADY_DONE);
    assert_string_equal(again->video, "/videos/7");
    assert_int_equal(journal_claim(j, &key, true, again), JOURNAL_CLAIMED);
    assert_int_not_equal(again->id, e->id);
    journal_close(j);
    free(e);
    free(again);
}

static void another_live_process_holds_its_rows(void **state)
{
    (void)state;
    int ready[2], done[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(done), 0);
    pid_t child = fork();
    if (child == 0) {
        char err[256], c;
        struct journal_entry *e = calloc(1, sizeof *e);
        struct journal *j = journal_open(dir, err, sizeof err);
        int claimed = j && journal_claim(j, &key, false, e) == JOURNAL_CLAIMED;
        if (write(ready[1], claimed ? "y" : "n", 1) != 1 || read(done[0], &c, 1) != 1)
            _exit(2);
        _exit(0); /* dies holding the row, as a kill -9 would */
    }
    char c = 0, err[256];
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    struct journal *j = journal_open(dir, err, sizeof err);
    struct journal_entry *e = calloc(1, sizeof *e);
    assert_int_equal(journal_claim(j, &key, false, e), JOURNAL_BUSY);
    assert_int_equal(write(done[1], "x", 1), 1);
    /* Its owner is dead, though not reaped yet (a zombie): the row is free
     * again. */
    siginfo_t info;
    assert_int_equal(waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT), 0);
    assert_int_equal(journal_claim(j, &key, false, e), JOURNAL_CLAIMED);
    int status;
    waitpid(child, &status, 0);
    assert_int_equal(journal_claim(j, &key, false, e), JOURNAL_CLAIMED);
    journal_close(j);
    free(e);
}

static void refuses_foreign_and_corrupt_files(void **state)
{
    (void)state;
    char err[256], sub[128], path[160], cmd[600];
    snprintf(sub, sizeof sub, "%s/bad", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/journal.db", sub);
    FILE *f = fopen(path, "w");
    fputs("this is not a database, just some text that is long enough to look like a header.....", f);
    fclose(f);
    assert_null(journal_open(sub, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_null(strchr(err, '\n'));
    unlink(path);
    snprintf(cmd, sizeof cmd, "sqlite3 %s 'CREATE TABLE t(x)' 2>/dev/null || "
                              "python3 -c \"import sqlite3; sqlite3.connect('%s').execute('CREATE TABLE t(x)')\"",
             path, path);
    assert_int_equal(system(cmd), 0);
    assert_null(journal_open(sub, err, sizeof err));
    assert_non_null(strstr(err, "not a vimeo-up journal"));
}

static void count_row(void *ctx, const struct journal_entry *e)
{
    (void)e;
    (*(int *)ctx)++;
}

/* A damaged page of the uploads table: every read of the rows says so,
 * none reads as an empty journal. */
static void a_damaged_table_page_is_an_error(void **state)
{
    (void)state;
    char err[4400], path[160];
    struct journal *j = journal_open(dir, err, sizeof err);
    struct journal_entry *e = calloc(1, sizeof *e);
    assert_int_equal(journal_claim(j, &key, false, e), JOURNAL_CLAIMED);
    int rows = 0;
    assert_int_equal(journal_each(j, false, count_row, &rows), 1);
    assert_int_equal(rows, 1);
    journal_close(j); /* the last connection: the WAL goes into the file */

    snprintf(path, sizeof path, "%s/journal.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT rootpage, (SELECT page_size FROM pragma_page_size)"
                                            " FROM sqlite_master WHERE name='uploads'", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long page = sqlite3_column_int(st, 0), size = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (page - 1) * size, SEEK_SET), 0);
    for (long i = 0; i < size; i++)
        fputc(0xA5, f);
    assert_int_equal(fclose(f), 0);

    j = journal_open(dir, err, sizeof err);
    assert_non_null(j);
    for (int unfinished = 0; unfinished < 2; unfinished++) {
        rows = 0;
        assert_int_equal(journal_each(j, unfinished, count_row, &rows), -1);
        assert_int_equal(rows, 0);
        journal_error(j, err, sizeof err);
        assert_true(strncmp(err, "journal unreadable: ", 20) == 0);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "malformed"));
    }
    journal_close(j);
    free(e);
}

/* Write a journal as an older vimeo-up did, with one row for
 * /videos/a.mp4 (video /videos/7): version 1 had no ctime_ns, version 2 no
 * page. */
static void make_old_journal(int version, int acked, const char *state, const char *link)
{
    char sql[2048], path[160];
    snprintf(path, sizeof path, "%s/journal.db", dir);
    bool v2 = version >= 2;
    snprintf(sql, sizeof sql,
             "PRAGMA application_id=1987407921; PRAGMA user_version=%d;"
             "CREATE TABLE uploads (id INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL,"
             " mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, endpoint TEXT NOT NULL,"
             " video TEXT NOT NULL DEFAULT '', upload_link TEXT NOT NULL DEFAULT '',"
             " acked INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',"
             " verified TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '',"
             " created REAL NOT NULL, updated REAL NOT NULL%s);"
             "INSERT INTO uploads (path, size, mtime_ns, inode, endpoint, video, upload_link, acked, state, created,"
             " updated%s) VALUES ('/videos/a.mp4', 1000, 1700000000123456789, 42, 'https://api.vimeo.com',"
             " '/videos/7', '%s', %d, '%s', 0, 0%s);",
             version, v2 ? ", ctime_ns INTEGER NOT NULL DEFAULT 0" : "", v2 ? ", ctime_ns" : "", link, acked, state,
             v2 ? ", 1700000000123456790" : "");
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    chmod(dir, 0700);
    chmod(path, 0600);
}

static struct journal *open_old_journal(int version, int acked, const char *state, const char *link)
{
    char err[256];
    make_old_journal(version, acked, state, link);
    struct journal *j = journal_open(dir, err, sizeof err);
    assert_non_null(j);
    return j;
}

/* A file rewritten in place with its size and mtime put back has another
 * ctime: never resumed onto its old upload. A version 1 journal (no ctime)
 * is brought to version 2, its rows matching any ctime as before. */
static void ctime_tells_a_rewrite_and_old_journals_migrate(void **state)
{
    (void)state;
    char err[256], why[256];
    struct journal *j = open_old_journal(1, 500, "uploading", "https://files.example/x");
    struct journal_entry *e = calloc(1, sizeof *e);
    assert_int_equal(journal_claim(j, &key, false, e), JOURNAL_CLAIMED);
    assert_int_equal(e->acked, 500); /* the version 1 row, whatever the ctime */
    e->ctime_ns = key.ctime_ns;
    journal_release(j, e->id);
    struct journal_key rewritten = key;
    rewritten.ctime_ns++;
    struct journal_entry *other = calloc(1, sizeof *other);
    strcpy(e->state, "uploading");
    assert_true(journal_save(j, e, why, sizeof why));
    assert_int_equal(journal_claim(j, &rewritten, false, other), JOURNAL_CLAIMED);
    assert_int_equal(other->acked, 500); /* an old row still has no ctime: it matches */
    journal_release(j, other->id);
    journal_close(j);
    /* A row written now has a ctime, and a rewrite does not match it. */
    j = journal_open(dir, err, sizeof err);
    struct journal_key fresh = key;
    fresh.path = "/videos/b.mp4";
    assert_int_equal(journal_claim(j, &fresh, false, e), JOURNAL_CLAIMED);
    e->acked = 300;
    assert_true(journal_save(j, e, why, sizeof why));
    journal_release(j, e->id);
    fresh.ctime_ns++;
    assert_int_equal(journal_claim(j, &fresh, false, other), JOURNAL_CLAIMED);
    assert_int_not_equal(other->id, e->id);
    assert_int_equal(other->acked, 0);
    journal_close(j);
    free(e);
    free(other);
}

static int user_version(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int version = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return version;
}

/* --dry-run and list read the journal as it is: none is made where there
 * is none, and an older one is read, not upgraded. */
static void reading_only_makes_and_upgrades_nothing(void **state)
{
    (void)state;
    char err[256], path[160];
    snprintf(path, sizeof path, "%s/journal.db", dir);
    assert_null(journal_open_existing(dir, err, sizeof err));
    assert_string_equal(err, "");
    assert_int_equal(access(path, F_OK), -1);
    make_old_journal(1, 500, "uploading", "https://files.example/x");
    struct journal *j = journal_open_existing(dir, err, sizeof err);
    assert_non_null(j);
    struct journal_entry *e = calloc(1, sizeof *e);
    assert_int_equal(journal_find(j, &key, e), 1);
    assert_int_equal(e->acked, 500);
    assert_string_equal(e->video, "/videos/7");
    assert_string_equal(e->page, "");
    journal_close(j);
    free(e);
    assert_int_equal(user_version(path), 1);
}

static void first_row(void *ctx, const struct journal_entry *row)
{
    struct journal_entry *out = ctx;
    if (!out->id)
        *out = *row;
}

/* A version 2 journal (before the video's page was kept) opens, its rows
 * read as they were with no page, and a page saved now is kept. */
static void a_version_2_journal_gains_the_page(void **state)
{
    (void)state;
    char err[256], why[256], path[160];
    snprintf(path, sizeof path, "%s/journal.db", dir);
    struct journal *j = open_old_journal(2, 1000, "done", "");
    struct journal_entry *e = calloc(1, sizeof *e);
    assert_int_equal(journal_each(j, false, first_row, e), 1);
    assert_string_equal(e->video, "/videos/7");
    assert_string_equal(e->state, "done");
    assert_int_equal(e->ctime_ns, 1700000000123456790LL);
    assert_string_equal(e->page, "");
    assert_string_equal(e->replaces, "");
    assert_string_equal(e->transcode, "");
    strcpy(e->page, "https://vimeo.com/7");
    strcpy(e->transcode, "in_progress");
    assert_true(journal_save(j, e, why, sizeof why));
    journal_close(j);
    assert_true(user_version(path) >= 3);
    j = journal_open(dir, err, sizeof err); /* opened again: nothing left to migrate */
    assert_non_null(j);
    memset(e, 0, sizeof *e);
    assert_int_equal(journal_each(j, false, first_row, e), 1);
    assert_string_equal(e->page, "https://vimeo.com/7");
    assert_string_equal(e->transcode, "in_progress");
    assert_string_equal(e->video, "/videos/7");
    journal_close(j);
    free(e);
}

/* The journal's file through a connection of its own, beside the
 * journal's: it sees what reached the WAL. */
static sqlite3 *open_beside(void)
{
    char path[160];
    snprintf(path, sizeof path, "%s/journal.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    /* A first read: until then the connection knows nothing of the WAL. */
    assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM uploads", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

/* Every frame into the file and the WAL emptied: the frames counted next
 * are what was written from now on. */
static void wal_empty(sqlite3 *db)
{
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL), SQLITE_OK);
}

/* Frames in the WAL: every transaction writes one or more (each page it
 * changed), so N transactions of one row write N at least. */
static int wal_frames(sqlite3 *db)
{
    int frames = -1, copied = -1;
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied), SQLITE_OK);
    return frames;
}

static int query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

enum { MANY = 20 };

/* MANY rows claimed, each for its own file. */
static struct journal *claim_many(struct journal_entry *rows[MANY])
{
    char err[256], path[64];
    struct journal *j = journal_open(dir, err, sizeof err);
    assert_non_null(j);
    for (int i = 0; i < MANY; i++) {
        struct journal_key k = key;
        snprintf(path, sizeof path, "/videos/%02d.mp4", i);
        k.path = path;
        rows[i] = calloc(1, sizeof *rows[i]);
        assert_int_equal(journal_claim(j, &k, false, rows[i]), JOURNAL_CLAIMED);
    }
    return j;
}

static void sum_acked(void *ctx, const struct journal_entry *row)
{
    *(uint64_t *)ctx += row->acked;
}

static uint64_t acked_in_journal(struct journal *j)
{
    uint64_t sum = 0;
    assert_int_equal(journal_each(j, false, sum_acked, &sum), MANY);
    return sum;
}

/* Rows saved together are one transaction: its frames are the pages it
 * changed, not one a row or more. A transaction that cannot be written
 * (here the WAL may not grow) leaves every row as it was, and says why. */
static void rows_saved_together_are_one_transaction_or_none(void **state)
{
    (void)state;
    char why[256];
    struct journal_entry *rows[MANY];
    struct journal *j = claim_many(rows);
    sqlite3 *beside = open_beside();
    wal_empty(beside);
    uint64_t sum = 0;
    for (int i = 0; i < MANY; i++) {
        strcpy(rows[i]->state, "uploading");
        snprintf(rows[i]->upload_link, sizeof rows[i]->upload_link, "https://files.tus.vimeo.com/files/%d", i);
        rows[i]->acked = 100 + (uint64_t)i;
        sum += rows[i]->acked;
    }
    assert_true(journal_save_many(j, (const struct journal_entry *const *)rows, MANY, why, sizeof why));
    int frames = wal_frames(beside);
    assert_true(frames >= 1);
    assert_true(frames <= 4);
    assert_int_equal(acked_in_journal(j), sum);

    wal_empty(beside);
    for (int i = 0; i < MANY; i++)
        rows[i]->acked = 1000;
    struct rlimit was, none = { 0, 0 };
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    none.rlim_max = was.rlim_max;
    /* A write past the limit fails (EFBIG) instead of killing the process;
     * nothing may be printed meanwhile, in case stdout is a file. */
    void (*xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
    bool ok = journal_save_many(j, (const struct journal_entry *const *)rows, MANY, why, sizeof why);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, xfsz);
    assert_false(ok);
    assert_true(strncmp(why, "journal: ", 9) == 0 && why[9]); /* SQLite's "disk I/O error" */
    assert_int_equal(acked_in_journal(j), sum); /* none of them */
    sqlite3_close(beside);
    journal_close(j);
    for (int i = 0; i < MANY; i++)
        free(rows[i]);
}

/* A process lets go of its rows as it ends: all in one transaction (one a
 * row was a quarter of a second for 10,000), and every row is free. */
static void rows_let_go_of_are_written_together(void **state)
{
    (void)state;
    struct journal_entry *rows[MANY];
    struct journal *j = claim_many(rows);
    sqlite3 *beside = open_beside();
    assert_int_equal(query_int(beside, "SELECT count(*) FROM uploads WHERE owner != ''"), MANY);
    wal_empty(beside);
    for (int i = 0; i < MANY; i++)
        journal_release(j, rows[i]->id);
    journal_close(j);
    int frames = wal_frames(beside);
    assert_true(frames >= 1);
    assert_true(frames <= 4);
    assert_int_equal(query_int(beside, "SELECT count(*) FROM uploads WHERE owner != ''"), 0);
    sqlite3_close(beside);
    for (int i = 0; i < MANY; i++)
        free(rows[i]);
}

/* Files claimed together are one transaction, each decided as a claim of
 * its own would be (new, unfinished, done already); a transaction that
 * cannot be written claims none of them. */
static void files_claimed_together_are_one_transaction_or_none(void **state)
{
    (void)state;
    char err[256], why[256], paths[2 * MANY][64];
    struct journal *j = journal_open(dir, err, sizeof err);
    assert_non_null(j);
    struct journal_key keys[2 * MANY];
    for (int i = 0; i < 2 * MANY; i++) {
        keys[i] = key;
        snprintf(paths[i], sizeof paths[i], "/videos/%02d.mp4", i);
        keys[i].path = paths[i];
    }
    struct journal_entry *entries = calloc(2 * MANY, sizeof *entries);
    enum journal_claim claims[2 * MANY];
    assert_int_equal(journal_claim(j, &keys[0], false, &entries[0]), JOURNAL_CLAIMED);
    strcpy(entries[0].state, "done");
    assert_true(journal_save(j, &entries[0], why, sizeof why));
    assert_int_equal(journal_claim(j, &keys[1], false, &entries[1]), JOURNAL_CLAIMED);
    strcpy(entries[1].state, "uploading");
    entries[1].acked = 7;
    assert_true(journal_save(j, &entries[1], why, sizeof why));
    int64_t unfinished = entries[1].id;

    sqlite3 *beside = open_beside();
    wal_empty(beside);
    journal_claim_many(j, keys, MANY, false, entries, claims);
    int frames = wal_frames(beside);
    assert_true(frames >= 1);
    assert_true(frames <= 4);
    assert_int_equal(claims[0], JOURNAL_ALREADY_DONE);
    assert_int_equal(claims[1], JOURNAL_CLAIMED);
    assert_int_equal(entries[1].id, unfinished);
    assert_int_equal(entries[1].acked, 7);
    for (int i = 2; i < MANY; i++) {
        assert_int_equal(claims[i], JOURNAL_CLAIMED);
        assert_string_equal(entries[i].path, paths[i]);
    }
    assert_int_equal(query_int(beside, "SELECT count(*) FROM uploads"), MANY);

    struct rlimit was, none = { 0, 0 };
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    none.rlim_max = was.rlim_max;
    void (*xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
    journal_claim_many(j, keys + MANY, MANY, false, entries + MANY, claims + MANY);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, xfsz);
    for (int i = MANY; i < 2 * MANY; i++)
        assert_int_equal(claims[i], JOURNAL_ERROR);
    assert_int_equal(query_int(beside, "SELECT count(*) FROM uploads"), MANY);
    sqlite3_close(beside);
    journal_close(j);
    free(entries);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(private_files, setup, teardown),
        cmocka_unit_test_setup_teardown(loose_modes_are_tightened_or_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(matches_by_key_and_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(another_live_process_holds_its_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_foreign_and_corrupt_files, setup, teardown),
        cmocka_unit_test_setup_teardown(a_damaged_table_page_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(ctime_tells_a_rewrite_and_old_journals_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(reading_only_makes_and_upgrades_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(a_version_2_journal_gains_the_page, setup, teardown),
        cmocka_unit_test_setup_teardown(rows_saved_together_are_one_transaction_or_none, setup, teardown),
        cmocka_unit_test_setup_teardown(rows_let_go_of_are_written_together, setup, teardown),
        cmocka_unit_test_setup_teardown(files_claimed_together_are_one_transaction_or_none, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
