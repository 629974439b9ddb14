/* Adding work: files, the journal's unfinished uploads, verifications. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "internal.h"
#include "util/json.h"

static bool absolute_path(const char *path, char *out, size_t cap)
{
    if (path[0] == '/')
        return snprintf(out, cap, "%s", path) < (int)cap;
    char cwd[PATH_MAX];
    return getcwd(cwd, sizeof cwd) && snprintf(out, cap, "%s/%s", cwd, path) < (int)cap;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int64_t ctime_ns(const struct stat *st)
{
    return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* Why path cannot be uploaded, or NULL when it can. */
static const char *refusal(const char *abs, const struct stat *st)
{
    if (S_ISDIR(st->st_mode))
        return "is a directory";
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_size == 0)
        return "empty file (Vimeo cannot take 0 bytes)";
    if (access(abs, R_OK) != 0)
        return strerror(errno);
    return NULL;
}

/* The upload jobs by journal row and by file (device and inode), in one
 * open-addressing hash table of job pointers, each job in it twice (the low
 * bit of an entry says under which key): a scan of every job for each file
 * added made adding 100,000 files quadratic, and two tsearch trees cost 64
 * bytes a job. A key keeps the newest job filed under it; one removed or
 * cancelled since stays and is passed over. */
enum { BY_ROW = 0, BY_FILE = 1, INDEX_MIN = 1024 };

static bool job_live(const struct job *job)
{
    return !job->hidden && job->state != ENGINE_CANCELLED;
}

static size_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static size_t key_hash(const struct job *job, unsigned by)
{
    return by == BY_ROW ? mix((uint64_t)job->row) : mix(job->inode ^ mix(job->device));
}

static bool same_key(const struct job *a, const struct job *b, unsigned by)
{
    return by == BY_ROW ? a->row == b->row : a->inode == b->inode && a->device == b->device;
}

/* The slot of key (a job with the key's fields set) under by: the one
 * holding it, or the empty one where it would go. */
static uintptr_t *index_slot(struct engine *e, const struct job *key, unsigned by)
{
    size_t mask = e->index_cap - 1;
    for (size_t i = key_hash(key, by) & mask;; i = (i + 1) & mask) {
        uintptr_t entry = e->index[i];
        if (!entry || ((entry & 1) == by && same_key((const struct job *)(entry & ~(uintptr_t)1), key, by)))
            return &e->index[i];
    }
}

/* Room for one more entry, at most three quarters full. */
static bool index_room(struct engine *e)
{
    if ((e->index_used + 1) * 4 <= e->index_cap * 3)
        return true;
    size_t cap = e->index_cap ? e->index_cap * 2 : INDEX_MIN;
    uintptr_t *old = e->index;
    size_t old_cap = e->index_cap;
    if (!(e->index = calloc(cap, sizeof *e->index))) {
        e->index = old;
        return false;
    }
    e->index_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            *index_slot(e, (const struct job *)(old[i] & ~(uintptr_t)1), old[i] & 1) = old[i];
    free(old);
    return true;
}

static bool index_put(struct engine *e, struct job *job, unsigned by)
{
    if (!index_room(e))
        return false;
    uintptr_t *slot = index_slot(e, job, by);
    e->index_used += !*slot;
    *slot = (uintptr_t)job | by;
    return true;
}

static struct job *index_get(struct engine *e, const struct job *key, unsigned by)
{
    if (!e->index_cap)
        return NULL;
    uintptr_t entry = *index_slot(e, key, by);
    return entry ? (struct job *)(entry & ~(uintptr_t)1) : NULL;
}

/* File a new upload job under its row and its file. False when out of
 * memory. Caller holds e->lock. */
static bool job_index(struct engine *e, struct job *job)
{
    return index_put(e, job, BY_ROW) && (!job->inode || index_put(e, job, BY_FILE));
}

void engine_index_free(struct engine *e)
{
    free(e->index);
    e->index = NULL;
    e->index_cap = e->index_used = 0;
}

/* The job already uploading this file in this run, if any: the same journal
 * row (0: any), or the same device and inode under another name (a hard
 * link). Caller holds e->lock. */
static struct job *job_of_file(struct engine *e, int64_t row, const struct stat *st)
{
    struct job key = { .row = row, .device = (uint64_t)st->st_dev, .inode = (uint64_t)st->st_ino };
    struct job *found = row ? index_get(e, &key, BY_ROW) : NULL;
    if (found && job_live(found))
        return found;
    found = key.inode ? index_get(e, &key, BY_FILE) : NULL;
    return found && job_live(found) ? found : NULL;
}

void job_meta_free(struct job_meta *meta)
{
    if (!meta)
        return;
    free(meta->name);
    free(meta->description);
    free(meta->privacy);
    free(meta->folder);
    free(meta->password);
    for (size_t i = 0; i < meta->ntags; i++)
        free(meta->tags[i]);
    free(meta->tags);
    free(meta);
}

/* Whether a string to copy was copied: NULL stays NULL. */
static bool copy_field(char **out, const char *s)
{
    return !s || (*out = strdup(s)) != NULL;
}

/* The job's own copy of the caller's metadata; NULL when out of memory. */
static struct job_meta *meta_copy(const struct engine_file_meta *in)
{
    struct job_meta *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    bool ok = copy_field(&m->name, in->name) && copy_field(&m->description, in->description) &&
              copy_field(&m->privacy, in->privacy) && copy_field(&m->folder, in->folder) &&
              copy_field(&m->password, in->password);
    m->has_tags = in->has_tags;
    if (ok && in->ntags)
        ok = (m->tags = calloc(in->ntags, sizeof *m->tags)) != NULL;
    for (size_t i = 0; ok && i < in->ntags; i++)
        ok = (m->tags[m->ntags++] = strdup(in->tags[i])) != NULL;
    if (!ok)
        job_meta_free(m), m = NULL;
    return m;
}

/* A job for a claimed journal row: queued, or done when the row says so.
 * meta (may be NULL): the file's own metadata, set before the job can run. */
static unsigned add_claimed(struct engine *e, const char *abs, const struct stat *st,
                            const struct journal_entry *entry, bool done, struct job_meta *meta, bool *is_new)
{
    pthread_mutex_lock(&e->lock);
    /* The same file twice (overlapping globs, a link, or added again from
     * the dashboard): one job, or two workers would share one upload. */
    struct job *job = job_of_file(e, entry->id, st);
    *is_new = !job;
    if (job) {
        unsigned id = job->id;
        pthread_mutex_unlock(&e->lock);
        job_meta_free(meta);
        return id;
    }
    job = job_new(e, abs, JOB_UPLOAD);
    if (!job) {
        pthread_mutex_unlock(&e->lock);
        job_meta_free(meta);
        return 0;
    }
    job->meta = meta;
    job_from_entry(job, entry);
    job->device = (uint64_t)st->st_dev;
    if (!job_index(e, job)) {
        job_fail(e, job, "%s: out of memory", job->path);
    } else if (done) {
        job_set_textf(&job->note, "already uploaded as %.120s", entry->video[0] ? entry->video : entry->upload_link);
        job->records = false; /* this run changes nothing in that row */
        job_enter(e, job, ENGINE_DONE, job_text(job->note));
        if (job->transcode == ENGINE_TRANSCODE_IN_PROGRESS && job->video[0] && !e->tus_endpoint)
            transcode_update(e, job, "in_progress"); /* still transcoding when last seen: follow it again */
    } else {
        job_enter(e, job, ENGINE_QUEUED, NULL);
        if (!job_schedule(e, job))
            job_fail(e, job, "%s: out of memory", job->path);
    }
    unsigned id = job->id;
    pthread_mutex_unlock(&e->lock);
    return id;
}

unsigned engine_add(struct engine *e, const char *path, char *err, size_t cap)
{
    bool is_new;
    return engine_add_new(e, path, NULL, &is_new, err, cap);
}

unsigned engine_add_refused(struct engine *e, const char *path, const char *reason)
{
    char abs[PATH_MAX];
    if (!absolute_path(path, abs, sizeof abs))
        snprintf(abs, sizeof abs, "%s", path);
    pthread_mutex_lock(&e->lock);
    struct job *job = job_new(e, abs, JOB_UPLOAD);
    unsigned id = 0;
    if (job) {
        job_fail(e, job, "%s", reason); /* records is false: the journal never hears of it */
        id = job->id;
    }
    pthread_mutex_unlock(&e->lock);
    return id;
}

/* One file on its way in: checked, then claimed with the others of its
 * batch, then a job. */
struct adding {
    const char *path;
    const struct engine_file_meta *meta;
    char abs[PATH_MAX];
    struct stat st;
    struct journal_key key;
    struct job_meta *copy;
    bool claiming;             /* checked: its claim is asked for */
    struct adding *same;       /* an earlier file of the batch that is this one (a hard link): its job */
    bool is_new;
    unsigned id;               /* its job; 0: refused, err says why */
    char err[PATH_MAX + 200];
};

/* Whether the file can be claimed: false with a->err or a->id (a hard link
 * to a file queued already: its job) set. */
static bool add_check(struct engine *e, struct adding *a)
{
    const char *path = a->path;
    if (e->cfg.read_only)
        return snprintf(a->err, sizeof a->err, "%s: not queued: a dry run changes nothing", path), false;
    /* One name for a file however it is spelled (./x, dir//x, a symlink):
     * the journal and other vimeo-up processes know it by that name. */
    if (!realpath(path, a->abs))
        return snprintf(a->err, sizeof a->err, "%s: %s", path, strerror(errno)), false;
    if (stat(a->abs, &a->st) != 0)
        return snprintf(a->err, sizeof a->err, "%s: %s", path, strerror(errno)), false;
    const char *why = refusal(a->abs, &a->st);
    if (why)
        return snprintf(a->err, sizeof a->err, "%s: %s", path, why), false;

    /* A hard link to a file queued already: its job, and no second row. */
    pthread_mutex_lock(&e->lock);
    struct job *linked = job_of_file(e, 0, &a->st);
    a->id = linked ? linked->id : 0;
    pthread_mutex_unlock(&e->lock);
    if (a->id)
        return false;
    const struct engine_file_meta *meta = a->meta;
    a->key = (struct journal_key){ .path = a->abs, .size = (uint64_t)a->st.st_size, .mtime_ns = mtime_ns(&a->st),
                                   .ctime_ns = ctime_ns(&a->st), .inode = (uint64_t)a->st.st_ino,
                                   .endpoint = e->endpoint_key,
                                   .replaces = meta && meta->replace ? meta->replace : e->replace };
    if (meta && !(a->copy = meta_copy(meta)))
        return snprintf(a->err, sizeof a->err, "out of memory"), false;
    return true;
}

/* The job for a claimed (or refused) file. */
static void add_claim_end(struct engine *e, struct adding *a, enum journal_claim claim,
                          const struct journal_entry *entry)
{
    if (claim == JOURNAL_BUSY)
        snprintf(a->err, sizeof a->err, "%s: being uploaded by another vimeo-up process", a->path);
    else if (claim == JOURNAL_ERROR)
        snprintf(a->err, sizeof a->err, "%s: the journal cannot record it", a->path);
    else if (!(a->id = add_claimed(e, a->abs, &a->st, entry, claim == JOURNAL_ALREADY_DONE, a->copy, &a->is_new)))
        snprintf(a->err, sizeof a->err, "out of memory");
    if (claim == JOURNAL_BUSY || claim == JOURNAL_ERROR)
        job_meta_free(a->copy);
}

/* Check, claim and queue n files, their claims in one transaction: one
 * transaction a file was a tenth of the CPU of a run of 10,000 small
 * files. A batch the journal refuses as a whole is claimed a file at a
 * time, so that one file's failure is its own. */
static void add_batch(struct engine *e, struct adding *files, size_t n)
{
    struct journal_key *keys = malloc(n * sizeof *keys);
    struct journal_entry *entries = malloc(n * sizeof *entries);
    enum journal_claim *claims = malloc(n * sizeof *claims);
    size_t *which = malloc(n * sizeof *which);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct adding *a = &files[i];
        a->claiming = add_check(e, a);
        /* The same file twice in a batch: no job yet to find it by, and a
         * second row, under the link's name, would be left queued. */
        for (size_t k = 0; k < m && a->claiming; k++) {
            struct adding *first = &files[which[k]];
            if (first->st.st_ino == a->st.st_ino && first->st.st_dev == a->st.st_dev) {
                a->same = first;
                a->claiming = false;
                job_meta_free(a->copy);
                a->copy = NULL;
            }
        }
        if (a->claiming && keys && entries && claims && which) {
            keys[m] = a->key;
            which[m++] = i;
        } else if (a->claiming) {
            job_meta_free(a->copy);
            snprintf(a->err, sizeof a->err, "out of memory");
        }
    }
    if (m) {
        journal_claim_many(e->journal, keys, m, e->cfg.again, entries, claims);
        for (size_t k = 0; k < m; k++) {
            if (claims[k] == JOURNAL_ERROR && m > 1)
                claims[k] = journal_claim(e->journal, &keys[k], e->cfg.again, &entries[k]);
            add_claim_end(e, &files[which[k]], claims[k], &entries[k]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct adding *a = &files[i];
        if (a->same && a->same->id) {
            a->id = a->same->id;
        } else if (a->same) { /* refused under its other name: this one is tried on its own */
            a->same = NULL;
            add_batch(e, a, 1);
        }
    }
    free(keys);
    free(entries);
    free(claims);
    free(which);
}

static unsigned add_file(struct engine *e, const char *path, const struct engine_file_meta *meta, bool *is_new,
                         char *err, size_t cap)
{
    struct adding *a = calloc(1, sizeof *a);
    if (!a)
        return snprintf(err, cap, "out of memory"), 0;
    a->path = path;
    a->meta = meta;
    add_batch(e, a, 1);
    unsigned id = a->id;
    *is_new = a->is_new;
    if (!id)
        snprintf(err, cap, "%s", a->err);
    free(a);
    return id;
}

unsigned engine_add_new(struct engine *e, const char *path, const struct engine_file_meta *meta, bool *is_new,
                        char *err, size_t cap)
{
    return add_file(e, path, meta, is_new, err, cap);
}

unsigned engine_add_with(struct engine *e, const char *path, const struct engine_file_meta *meta, char *err,
                         size_t cap)
{
    bool is_new;
    return add_file(e, path, meta, &is_new, err, cap);
}

void engine_add_many(struct engine *e, const char *const *paths, const struct engine_file_meta *const *metas,
                     size_t n, unsigned *ids, bool *is_new, void (*refused)(void *ctx, size_t i, const char *err),
                     void *ctx)
{
    struct adding *files = calloc(n ? n : 1, sizeof *files);
    for (size_t i = 0; i < n && files; i++) {
        files[i].path = paths[i];
        files[i].meta = metas ? metas[i] : NULL;
    }
    if (files)
        add_batch(e, files, n);
    for (size_t i = 0; i < n; i++) {
        ids[i] = files ? files[i].id : 0;
        if (is_new)
            is_new[i] = files && files[i].is_new;
        if (!ids[i])
            refused(ctx, i, files ? files[i].err : "out of memory");
    }
    free(files);
}

struct unfinished_ctx {
    struct engine *e;
    unsigned added;
};

static void add_unfinished_row(void *arg, const struct journal_entry *row)
{
    struct unfinished_ctx *ctx = arg;
    struct engine *e = ctx->e;
    if (strcmp(row->endpoint, e->endpoint_key) != 0)
        return; /* uploads to another endpoint are resumed with that endpoint */
    struct journal_entry *entry = malloc(sizeof *entry);
    if (!entry || journal_claim_id(e->journal, row->id, entry) != JOURNAL_CLAIMED) {
        free(entry);
        return;
    }
    struct stat st;
    bool present = stat(entry->path, &st) == 0;
    bool same = present && (uint64_t)st.st_size == entry->size && mtime_ns(&st) == entry->mtime_ns &&
                (uint64_t)st.st_ino == entry->inode && (!entry->ctime_ns || ctime_ns(&st) == entry->ctime_ns);
    pthread_mutex_lock(&e->lock);
    struct job *job = job_new(e, entry->path, JOB_UPLOAD);
    if (job) {
        job_from_entry(job, entry);
        job->device = present ? (uint64_t)st.st_dev : 0;
        job_set_text(&job->verified, NULL);
        ctx->added++;
        if (!job_index(e, job)) {
            job_fail(e, job, "%s: out of memory", job->path);
        } else if (!same) {
            job_fail(e, job, "%s %s since the upload started; not resumed", entry->path,
                     present ? "changed" : "is gone");
        } else {
            job_enter(e, job, ENGINE_QUEUED, NULL);
            if (!job_schedule(e, job))
                job_fail(e, job, "%s: out of memory", job->path);
        }
    }
    pthread_mutex_unlock(&e->lock);
    free(entry);
}

/* journal_each, with its failure as err. */
static int each_row(struct engine *e, bool unfinished_only, void (*fn)(void *, const struct journal_entry *),
                    void *ctx, char *err, size_t cap)
{
    if (e->cfg.read_only)
        return snprintf(err, cap, "a dry run changes nothing"), -1;
    int n = journal_each(e->journal, unfinished_only, fn, ctx);
    if (n < 0)
        journal_error(e->journal, err, cap);
    return n;
}

int engine_add_unfinished(struct engine *e, char *err, size_t cap)
{
    struct unfinished_ctx ctx = { e, 0 };
    if (each_row(e, true, add_unfinished_row, &ctx, err, cap) < 0)
        return -1;
    return (int)ctx.added;
}

struct verify_ctx {
    struct engine *e;
    const char *want;     /* a path or a /videos/N; NULL for all */
    char abs[PATH_MAX];
    unsigned added, last;
    int64_t latest;
    struct journal_entry *match;
};

static unsigned add_verify_job(struct engine *e, const struct journal_entry *row)
{
    pthread_mutex_lock(&e->lock);
    struct job *job = job_new(e, row->path, JOB_VERIFY);
    unsigned id = 0;
    if (job) {
        job_from_entry(job, row);
        job_enter(e, job, ENGINE_QUEUED, NULL);
        if (!job_schedule(e, job))
            job_fail(e, job, "%s: out of memory", job->path);
        id = job->id;
    }
    pthread_mutex_unlock(&e->lock);
    return id;
}

static void match_verify_row(void *arg, const struct journal_entry *row)
{
    struct verify_ctx *ctx = arg;
    if (!strcmp(row->state, engine_state_name(ENGINE_CANCELLED)))
        return;
    if (!ctx->want) {
        ctx->added += add_verify_job(ctx->e, row) != 0;
    } else if ((!strcmp(row->video, ctx->want) || !strcmp(row->path, ctx->abs)) && row->id > ctx->latest) {
        ctx->latest = row->id;
        *ctx->match = *row;
    }
}

unsigned engine_add_verify(struct engine *e, const char *path_or_uri, char *err, size_t cap)
{
    struct verify_ctx ctx = { .e = e, .want = path_or_uri };
    if (!realpath(path_or_uri, ctx.abs) && !absolute_path(path_or_uri, ctx.abs, sizeof ctx.abs))
        ctx.abs[0] = '\0';
    ctx.match = malloc(sizeof *ctx.match);
    if (!ctx.match)
        return snprintf(err, cap, "out of memory"), 0;
    unsigned id = 0;
    if (each_row(e, false, match_verify_row, &ctx, err, cap) < 0)
        ;
    else if (!ctx.latest)
        snprintf(err, cap, "%s: not in the journal", path_or_uri);
    else if (!(id = add_verify_job(e, ctx.match)))
        snprintf(err, cap, "out of memory");
    free(ctx.match);
    return id;
}

int engine_add_verify_all(struct engine *e, char *err, size_t cap)
{
    struct verify_ctx ctx = { .e = e };
    if (each_row(e, false, match_verify_row, &ctx, err, cap) < 0)
        return -1;
    return (int)ctx.added;
}

enum engine_probe engine_probe(struct engine *e, const char *path, const char *replace, uint64_t *size, char *video,
                               size_t video_cap, char *err, size_t cap)
{
    char abs[PATH_MAX];
    struct stat st;
    *size = 0;
    video[0] = '\0';
    if (!realpath(path, abs) || stat(abs, &st) != 0)
        return snprintf(err, cap, "%s: %s", path, strerror(errno)), ENGINE_PROBE_REFUSED;
    const char *why = refusal(abs, &st);
    if (why)
        return snprintf(err, cap, "%s: %s", path, why), ENGINE_PROBE_REFUSED;
    *size = (uint64_t)st.st_size;
    if (e->cfg.again)
        return ENGINE_PROBE_UPLOAD;
    struct journal_key key = { .path = abs, .size = *size, .mtime_ns = mtime_ns(&st), .ctime_ns = ctime_ns(&st),
                               .inode = (uint64_t)st.st_ino, .endpoint = e->endpoint_key,
                               .replaces = replace ? replace : e->replace };
    struct journal_entry *row = malloc(sizeof *row);
    if (!row)
        return snprintf(err, cap, "out of memory"), ENGINE_PROBE_REFUSED;
    int found = e->journal ? journal_find(e->journal, &key, row) : 0; /* no journal yet: nothing is done */
    enum engine_state state;
    bool done = found > 0 && engine_state_parse(row->state, &state) && state == ENGINE_DONE;
    if (done)
        snprintf(video, video_cap, "%s", row->video[0] ? row->video : row->upload_link);
    free(row);
    if (found < 0)
        return journal_error(e->journal, err, cap), ENGINE_PROBE_REFUSED;
    return done ? ENGINE_PROBE_DONE : ENGINE_PROBE_UPLOAD;
}

/* The top-level keys of a valid JSON object that json_parse took: the
 * first key not in known, or NULL. Keys are compared as written (a known
 * key has no escapes). */
static const char *unknown_key(const char *line, const char *const *known, size_t nknown, char *out, size_t cap)
{
    int depth = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        if (*p != '"')
            continue;
        const char *start = ++p;
        while (*p && *p != '"')
            p += *p == '\\' && p[1] ? 2 : 1;
        size_t len = (size_t)(p - start);
        const char *after = p + 1 + strspn(p + 1, " \t\r\n");
        if (depth != 1 || *after != ':')
            continue;
        size_t k = 0;
        while (k < nknown && !(strlen(known[k]) == len && !strncmp(known[k], start, len)))
            k++;
        if (k == nknown)
            return snprintf(out, cap, "%.*s", (int)(len < 60 ? len : 60), start), out;
    }
    return NULL;
}

/* A string field into out (absent: ""); false when it is there but no string. */
static bool manifest_string(const struct json *j, const char *field, char *out, size_t cap, unsigned *present,
                            unsigned bit, char *err, size_t err_cap)
{
    int t = json_find(j, field);
    out[0] = '\0';
    if (t < 0)
        return true;
    if (json_type(j, t) != 's' || !json_get_string(j, t, out, cap))
        return snprintf(err, err_cap, "%s: not a string (or longer than %zu bytes)", field, cap - 1), false;
    *present |= bit;
    return true;
}

static bool manifest_tags(const struct json *j, struct engine_manifest_line *out, char *err, size_t cap)
{
    int t = json_find(j, "tags");
    if (t < 0)
        return true;
    if (json_type(j, t) != 'a')
        return snprintf(err, cap, "tags: not an array of strings"), false;
    out->present |= ENGINE_MANIFEST_TAGS;
    struct json_iter it;
    json_array_iter(j, t, &it);
    for (int item; (item = json_iter_next(&it)) >= 0;) {
        if (out->ntags == ENGINE_MANIFEST_MAX_TAGS)
            return snprintf(err, cap, "tags: more than %d", ENGINE_MANIFEST_MAX_TAGS), false;
        if (json_type(j, item) != 's' || !json_get_string(j, item, out->tags[out->ntags], sizeof out->tags[0]))
            return snprintf(err, cap, "tags: not an array of strings (of at most %zu bytes)",
                            sizeof out->tags[0] - 1), false;
        if (!out->tags[out->ntags++][0])
            return snprintf(err, cap, "tags: an empty tag"), false;
    }
    return true;
}

bool engine_manifest_parse(const char *line, size_t len, struct engine_manifest_line *out, char *err, size_t cap)
{
    static const char *const known[] = { "path", "name", "description", "privacy", "password_file", "folder",
                                         "replace", "tags" };
    struct json j;
    char key[64];
    memset(out, 0, sizeof *out);
    bool ok = json_parse(&j, line, len) && json_type(&j, 0) == 'o';
    if (!ok)
        snprintf(err, cap, "not a JSON object");
    else if (unknown_key(line, known, sizeof known / sizeof known[0], key, sizeof key))
        ok = (snprintf(err, cap, "%s: not a field of a manifest line", key), false);
    ok = ok && manifest_string(&j, "path", out->path, sizeof out->path, &out->present, 0, err, cap) &&
         manifest_string(&j, "name", out->name, sizeof out->name, &out->present, ENGINE_MANIFEST_NAME, err, cap) &&
         manifest_string(&j, "description", out->description, sizeof out->description, &out->present,
                         ENGINE_MANIFEST_DESCRIPTION, err, cap) &&
         manifest_string(&j, "privacy", out->privacy, sizeof out->privacy, &out->present, ENGINE_MANIFEST_PRIVACY,
                         err, cap) &&
         manifest_string(&j, "password_file", out->password_file, sizeof out->password_file, &out->present,
                         ENGINE_MANIFEST_PASSWORD_FILE, err, cap) &&
         manifest_string(&j, "folder", out->folder, sizeof out->folder, &out->present, ENGINE_MANIFEST_FOLDER, err,
                         cap) &&
         manifest_string(&j, "replace", out->replace, sizeof out->replace, &out->present, ENGINE_MANIFEST_REPLACE,
                         err, cap) &&
         manifest_tags(&j, out, err, cap);
    json_free(&j);
    if (ok && !out->path[0])
        ok = (snprintf(err, cap, "path: missing"), false);
    return ok;
}
