/* Journal rows as a tampered or damaged journal may hold them: any SQLite
 * type in any column (NULL, text where a number belongs, blobs with NUL
 * bytes, overlong text, unknown states, owners that are not "pid:start").
 * Reading, listing and claiming such a row must not crash or overrun.
 *
 * Input: up to 14 fields separated by 0x1F, one per column; a field's first
 * byte picks its type (0 NULL, 1 integer, 2 real, 3 text, else blob). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "journal.h"

static struct journal *journal;
static sqlite3 *raw;

static void ignore_row(void *ctx, const struct journal_entry *e)
{
    (void)ctx;
    (void)e;
}

static void open_once(void)
{
    static char dir[] = "/tmp/vimeo-up-fuzz-journal.XXXXXX";
    char err[512], path[600];
    if (journal || !mkdtemp(dir))
        return;
    journal = journal_open(dir, err, sizeof err);
    snprintf(path, sizeof path, "%s/journal.db", dir);
    if (!journal || sqlite3_open(path, &raw) != SQLITE_OK)
        abort();
    sqlite3_busy_timeout(raw, 10000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    open_once();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(raw,
                           "INSERT INTO uploads (path, size, mtime_ns, inode, endpoint, video, upload_link, acked,"
                           " state, error, verified, owner, created, updated)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        abort();
    const uint8_t *p = data, *end = data + size;
    for (int column = 1; column <= 14 && p < end; column++) {
        const uint8_t *sep = memchr(p, 0x1F, (size_t)(end - p));
        const uint8_t *stop = sep ? sep : end;
        uint8_t kind = *p;
        const char *value = (const char *)p + 1;
        int len = stop > p ? (int)(stop - p - 1) : 0;
        char number[64];
        snprintf(number, sizeof number, "%.*s", len < 63 ? len : 63, value);
        switch (kind) {
        case 0: sqlite3_bind_null(st, column); break;
        case 1: sqlite3_bind_int64(st, column, strtoll(number, NULL, 0)); break;
        case 2: sqlite3_bind_double(st, column, strtod(number, NULL)); break;
        case 3: sqlite3_bind_text(st, column, value, len, SQLITE_TRANSIENT); break;
        default: sqlite3_bind_blob(st, column, value, len, SQLITE_TRANSIENT); break;
        }
        p = sep ? sep + 1 : end;
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        int64_t id = sqlite3_last_insert_rowid(raw);
        journal_each(journal, false, ignore_row, NULL);
        journal_each(journal, true, ignore_row, NULL);
        struct journal_entry *entry = malloc(sizeof *entry);
        char why[256];
        if (entry && journal_claim_id(journal, id, entry) == JOURNAL_CLAIMED) {
            journal_save(journal, entry, why, sizeof why);
            journal_release(journal, id);
        }
        free(entry);
    }
    sqlite3_exec(raw, "DELETE FROM uploads", NULL, NULL, NULL);
    return 0;
}
