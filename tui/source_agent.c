/*
 * The agent's side of the source interface: a mirror of the agent's rows,
 * kept from its stream (protocol.h), sorted by job id. Commands are one
 * request and its answer; stream lines read meanwhile go to the mirror.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/json.h"
#include "protocol.h"
#include "source.h"
#include "util/json_write.h"

enum { EVENTS_MAX = 4096, IN_MAX = 64 << 20 };

/* A job's ending as we know of it: a job may fail, then be tried again and
 * end again, so its time tells one ending from the next. */
struct outcome {
    unsigned id;
    enum engine_state state; /* done or failed */
    double finished;
    enum outcome_source { IN_FIRST_TABLE, HEARD, OWED } how; /* the table at subscribe, an event, a catch-up */
};

struct mirror {
    int fd;
    struct buf in;              /* read, not yet a whole line */
    struct engine_row *rows;    /* by id */
    size_t n, cap;
    struct engine_totals totals;
    struct engine_event *events; /* a ring of EVENTS_MAX; the oldest go first when it is full */
    size_t head, count;
    /* The agent drops a subscriber's events while it is behind, then says
     * {"missed":N} and sends the whole table: each job that ended meanwhile
     * is owed its done or failed event, made from its row (catch_up), so a
     * consumer of `attach --json` hears of every outcome, once. */
    struct outcome *outcomes;   /* by id: the last outcome of each job we know of */
    size_t noutcomes, outcomes_cap;
    struct engine_row *owed;    /* rows of jobs that ended while we were behind */
    size_t nowed, owed_cap, owed_next;
    size_t ahead;               /* ring events older than the miss: they go before the owed ones */
    bool catching_up;           /* a miss was said: the table that follows owes events */
    bool gone, have_full, have_reply;
    bool loading;               /* a whole table is coming, in lines, and has not ended */
    struct buf reply;           /* the answer to the request in flight */
    char why[160];              /* pause's or resume's reason, returned to the caller */
};

static uint64_t get_uint(const struct json *j, int from, const char *key)
{
    uint64_t v = 0;
    json_get_uint(j, json_find_in(j, from, key), &v);
    return v;
}

static void parse_row(const struct json *j, int t, struct engine_row *r)
{
    memset(r, 0, sizeof *r);
    char word[32];
    r->id = (unsigned)get_uint(j, t, "id");
    if (json_get_string(j, json_find_in(j, t, "state"), word, sizeof word))
        engine_state_parse(word, &r->state);
    r->size = get_uint(j, t, "size");
    r->sent = get_uint(j, t, "sent");
    r->acked = get_uint(j, t, "acked");
    r->rate = (double)get_uint(j, t, "rate");
    r->retries = (unsigned)get_uint(j, t, "retries");
    r->retry_in = (double)get_uint(j, t, "retry_in_ms") / 1000;
    r->started = (double)get_uint(j, t, "started_ms") / 1000;
    r->finished = (double)get_uint(j, t, "finished_ms") / 1000;
    if (json_get_string(j, json_find_in(j, t, "transcode"), word, sizeof word))
        for (int k = 0; k < ENGINE_TRANSCODE_COUNT; k++)
            if (!strcmp(word, engine_transcode_name((enum engine_transcode)k)))
                r->transcode = (enum engine_transcode)k;
    r->texts = json_get_string(j, json_find_in(j, t, "name"), r->name, sizeof r->name);
    json_get_string(j, json_find_in(j, t, "video"), r->video, sizeof r->video);
    json_get_string(j, json_find_in(j, t, "message"), r->message, sizeof r->message);
}

static void parse_totals(const struct json *j, int t, struct engine_totals *out)
{
    if (t < 0)
        return;
    out->files = (unsigned)get_uint(j, t, "files");
    out->done = (unsigned)get_uint(j, t, "done");
    out->failed = (unsigned)get_uint(j, t, "failed");
    out->active = (unsigned)get_uint(j, t, "active");
    out->removed_done = (unsigned)get_uint(j, t, "removed_done");
    out->bytes = get_uint(j, t, "bytes");
    out->acked = get_uint(j, t, "acked");
    out->rate = (double)get_uint(j, t, "rate");
    out->workers = (unsigned)get_uint(j, t, "workers");
    out->rate_limit = get_uint(j, t, "rate_limit");
    out->sent_bytes = get_uint(j, t, "sent_bytes");
}

/* In n items of size bytes sorted by the unsigned id at id_at in each:
 * the index of id, or where it would go. */
static size_t index_by_id(const void *items, size_t n, size_t size, size_t id_at, unsigned id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        unsigned seen;
        memcpy(&seen, (const char *)items + mid * size + id_at, sizeof seen);
        if (seen < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The index of id among the rows, or where it would go. */
static size_t find(const struct mirror *m, unsigned id)
{
    return index_by_id(m->rows, m->n, sizeof *m->rows, offsetof(struct engine_row, id), id);
}

/* Room for one more of n items of size bytes in *items, which doubles. */
static bool room_for_one(void **items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return true;
    size_t more = *cap ? *cap * 2 : 64;
    void *grown = realloc(*items, more * size);
    if (!grown)
        return false;
    *items = grown;
    *cap = more;
    return true;
}

static void upsert(struct mirror *m, const struct engine_row *r)
{
    size_t at = find(m, r->id);
    if (at < m->n && m->rows[at].id == r->id) {
        struct engine_row keep = m->rows[at];
        m->rows[at] = *r;
        if (!r->texts) { /* numbers only: the texts stay as they were */
            memcpy(m->rows[at].name, keep.name, sizeof keep.name);
            memcpy(m->rows[at].video, keep.video, sizeof keep.video);
            memcpy(m->rows[at].message, keep.message, sizeof keep.message);
            m->rows[at].texts = keep.texts;
        }
        return;
    }
    if (!room_for_one((void **)&m->rows, m->n, &m->cap, sizeof *m->rows))
        return;
    memmove(m->rows + at + 1, m->rows + at, (m->n - at) * sizeof *m->rows);
    m->rows[at] = *r;
    m->n++;
}

static void remove_id(struct mirror *m, unsigned id)
{
    size_t at = find(m, id);
    if (at < m->n && m->rows[at].id == id) {
        memmove(m->rows + at, m->rows + at + 1, (m->n - at - 1) * sizeof *m->rows);
        m->n--;
    }
}

/* The last outcome known of id, or NULL; *at: its index, or where it would go. */
static struct outcome *outcome_find(struct mirror *m, unsigned id, size_t *at)
{
    *at = index_by_id(m->outcomes, m->noutcomes, sizeof *m->outcomes, offsetof(struct outcome, id), id);
    return *at < m->noutcomes && m->outcomes[*at].id == id ? &m->outcomes[*at] : NULL;
}

static bool outcome_is(const struct outcome *o, enum engine_state state, double finished)
{
    return o && o->state == state && o->finished == finished;
}

/* Jobs end in about their id order, so an insert is near the end. */
static void outcome_note(struct mirror *m, const struct engine_row *r, enum outcome_source how)
{
    size_t at;
    struct outcome *o = outcome_find(m, r->id, &at);
    if (!o) {
        if (!room_for_one((void **)&m->outcomes, m->noutcomes, &m->outcomes_cap, sizeof *m->outcomes))
            return;
        memmove(m->outcomes + at + 1, m->outcomes + at, (m->noutcomes - at) * sizeof *m->outcomes);
        m->noutcomes++;
        o = &m->outcomes[at];
    }
    *o = (struct outcome){ r->id, r->state, r->finished, how };
}

static bool state_ended(enum engine_state state)
{
    return state == ENGINE_DONE || state == ENGINE_FAILED;
}

static void push_event(struct mirror *m, const struct json *j)
{
    struct engine_event *ev = &m->events[(m->head + m->count) % EVENTS_MAX];
    if (m->count == EVENTS_MAX) {
        m->head = (m->head + 1) % EVENTS_MAX;
        m->count--;
        m->ahead -= m->ahead > 0;
    }
    memset(ev, 0, sizeof *ev);
    char name[32] = "";
    json_get_string(j, json_find(j, "event"), name, sizeof name);
    for (int k = 0; k < ENGINE_EV_COUNT; k++)
        if (!strcmp(name, engine_event_name((enum engine_event_kind)k)))
            ev->kind = (enum engine_event_kind)k;
    ev->job = (unsigned)get_uint(j, 0, "job");
    ev->time = (double)get_uint(j, 0, "time_ms") / 1000;
    json_get_string(j, json_find(j, "message"), ev->message, sizeof ev->message);
    int row = json_find(j, "row");
    if (row >= 0)
        parse_row(j, row, &ev->row);
    if ((ev->kind == ENGINE_EV_DONE || ev->kind == ENGINE_EV_FAILED) && row >= 0 && state_ended(ev->row.state)) {
        size_t at;
        struct outcome *o = outcome_find(m, ev->job, &at);
        bool owed_already = outcome_is(o, ev->row.state, ev->row.finished) && o->how == OWED;
        outcome_note(m, &ev->row, HEARD);
        if (owed_already)
            return; /* a catch-up made it from the table, which was newer than this event */
    }
    m->count++;
}

/* The miss: the table that follows tells which jobs ended meanwhile. */
static void note_missed(struct mirror *m)
{
    m->catching_up = true;
    if (m->nowed == m->owed_next) /* nothing pending from an earlier miss */
        m->ahead = m->count;
}

/* A row of a whole table. At subscribe its outcome is the past; after a
 * miss, an outcome no event brought is owed one. Rows between tables may
 * show an ending before its event comes, so only tables count. */
static void catch_up(struct mirror *m, const struct engine_row *r)
{
    size_t at;
    if (!state_ended(r->state) || outcome_is(outcome_find(m, r->id, &at), r->state, r->finished))
        return;
    if (!m->catching_up) {
        outcome_note(m, r, IN_FIRST_TABLE);
        return;
    }
    if (!room_for_one((void **)&m->owed, m->nowed, &m->owed_cap, sizeof *m->owed))
        return;
    m->owed[m->nowed++] = *r;
    outcome_note(m, r, OWED);
}

/* The event owed to a job that ended while we were behind, from its row. */
static void owed_event(const struct engine_row *r, struct engine_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = r->state == ENGINE_DONE ? ENGINE_EV_DONE : ENGINE_EV_FAILED;
    ev->job = r->id;
    ev->time = r->finished > 0 ? r->finished : clock_wall();
    snprintf(ev->message, sizeof ev->message, "%s", r->state == ENGINE_DONE ? r->video : r->message);
    ev->row = *r;
}

/* One line from the agent: the whole table, changed rows, an event, or the
 * answer to a request. */
static void take_line(struct mirror *m, const char *text, size_t len)
{
    struct json j;
    if (!json_parse(&j, text, len))
        return;
    int rows = json_find(&j, "rows"), event = json_find(&j, "event");
    if (rows >= 0) {
        if (json_find(&j, "full") >= 0) {
            m->n = 0;
            m->loading = true;
        }
        struct json_iter it;
        json_array_iter(&j, json_find(&j, "gone"), &it);
        for (int t; (t = json_iter_next(&it)) >= 0;) {
            uint64_t id;
            if (json_get_uint(&j, t, &id))
                remove_id(m, (unsigned)id);
        }
        json_array_iter(&j, rows, &it);
        for (int t; (t = json_iter_next(&it)) >= 0;) {
            struct engine_row r;
            parse_row(&j, t, &r);
            upsert(m, &r);
            if (m->loading)
                catch_up(m, &r);
        }
        parse_totals(&j, json_find(&j, "totals"), &m->totals);
        if (m->loading && json_find(&j, "more") < 0) {
            m->loading = false, m->have_full = true;
            m->catching_up = false;
        }
    } else if (event >= 0) {
        push_event(m, &j);
    } else if (json_find(&j, "missed") >= 0) {
        note_missed(m);
    } else {
        buf_reset(&m->reply);
        buf_append(&m->reply, text, len);
        m->have_reply = true;
    }
    json_free(&j);
}

/* Read what the agent sent; with block, wait until something came. */
static void read_some(struct mirror *m, bool block)
{
    struct pollfd p = { m->fd, POLLIN, 0 };
    if (m->gone || poll(&p, 1, block ? -1 : 0) <= 0)
        return;
    char chunk[65536];
    ssize_t got = recv(m->fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (got <= 0 || !buf_append(&m->in, chunk, (size_t)got)) {
        m->gone = true;
        return;
    }
    size_t start = 0;
    char *nl;
    while ((nl = memchr(m->in.data + start, '\n', m->in.len - start))) {
        size_t end = (size_t)(nl - m->in.data);
        take_line(m, m->in.data + start, end - start);
        start = end + 1;
    }
    memmove(m->in.data, m->in.data + start, m->in.len - start);
    m->in.len -= start;
    m->in.data[m->in.len] = '\0';
}

static bool request(struct mirror *m, const char *line)
{
    m->have_reply = false;
    if (m->gone || !protocol_send(m->fd, line)) {
        m->gone = true;
        return false;
    }
    while (!m->have_reply && !m->gone)
        read_some(m, true);
    return m->have_reply;
}

static bool request_job(struct mirror *m, const char *cmd, unsigned job)
{
    char line[96];
    snprintf(line, sizeof line, "{\"cmd\":\"%s\",\"job\":%u}", cmd, job);
    return request(m, line);
}

/* Room for the mirror's rows, of size bytes each, in the caller's buffer. */
static bool room_for_rows(const struct mirror *m, void **rows, size_t *cap, size_t size)
{
    if (m->n <= *cap)
        return true;
    void *grown = realloc(*rows, m->n * size);
    if (!grown)
        return false;
    *rows = grown;
    *cap = m->n;
    return true;
}

/* The mirror's rows through w (the rows it wants into rows, room for
 * w->max, unless NULL), counted as the engine counts its own; what only
 * the agent knows (rows removed, workers, the cap) from its totals. */
static size_t walk(const struct mirror *m, struct engine_window *w, struct engine_row *rows,
                   struct engine_totals *totals)
{
    engine_window_begin(w, totals);
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (engine_window_take(w, totals, &m->rows[i].numbers) && rows)
            rows[n++] = m->rows[i];
    totals->removed_done = m->totals.removed_done;
    totals->workers = m->totals.workers;
    totals->rate_limit = m->totals.rate_limit;
    totals->sent_bytes = m->totals.sent_bytes;
    return n;
}

/* The totals of every row. */
static void count_all(const struct mirror *m, struct engine_totals *totals)
{
    struct engine_window none = { 0 };
    walk(m, &none, NULL, totals);
}

static size_t snapshot(void *ctx, struct engine_row **rows, size_t *cap, struct engine_totals *totals)
{
    struct mirror *m = ctx;
    count_all(m, totals);
    if (!room_for_rows(m, (void **)rows, cap, sizeof **rows))
        return 0;
    if (m->n)
        memcpy(*rows, m->rows, m->n * sizeof *m->rows);
    return m->n;
}

/* The numbers without the texts, which the dashboard fetches for the rows
 * it shows: copying every row whole cost it most of a frame at 100,000
 * rows. */
static size_t snapshot_numbers(void *ctx, struct engine_row **rows, size_t *cap, struct engine_totals *totals)
{
    struct mirror *m = ctx;
    count_all(m, totals);
    if (!room_for_rows(m, (void **)rows, cap, sizeof **rows))
        return 0;
    for (size_t i = 0; i < m->n; i++) {
        struct engine_row *row = &(*rows)[i];
        row->numbers = m->rows[i].numbers;
        row->name[0] = row->video[0] = row->message[0] = '\0';
        row->texts = false;
    }
    return m->n;
}

static size_t snapshot_compact(void *ctx, struct engine_numbers **rows, size_t *cap, struct engine_totals *totals)
{
    struct mirror *m = ctx;
    count_all(m, totals);
    if (!room_for_rows(m, (void **)rows, cap, sizeof **rows))
        return 0;
    for (size_t i = 0; i < m->n; i++)
        (*rows)[i] = m->rows[i].numbers;
    return m->n;
}

static size_t snapshot_window(void *ctx, struct engine_window *w, struct engine_row *rows,
                              struct engine_totals *totals)
{
    return walk(ctx, w, rows, totals);
}

static void fill_texts(void *ctx, struct engine_row *rows, size_t n)
{
    struct mirror *m = ctx;
    for (size_t i = 0; i < n; i++) {
        size_t at = find(m, rows[i].id);
        if (at < m->n && m->rows[at].id == rows[i].id) {
            memcpy(rows[i].name, m->rows[at].name, sizeof rows[i].name);
            memcpy(rows[i].video, m->rows[at].video, sizeof rows[i].video);
            memcpy(rows[i].message, m->rows[at].message, sizeof rows[i].message);
            rows[i].texts = true;
        }
    }
}

/* The ring's events, with those owed to jobs that ended while we were
 * behind after the ones older than the miss. A front end that asks for
 * the details of a job gone since still prints what the row says. */
static size_t events(void *ctx, struct engine_event *out, size_t max)
{
    struct mirror *m = ctx;
    size_t n = 0;
    while (n < max) {
        if (m->count && (m->ahead || m->owed_next == m->nowed)) {
            out[n++] = m->events[m->head];
            m->head = (m->head + 1) % EVENTS_MAX;
            m->count--;
            m->ahead -= m->ahead > 0;
        } else if (m->owed_next < m->nowed && !m->loading) {
            owed_event(&m->owed[m->owed_next++], &out[n++]);
            if (m->owed_next == m->nowed)
                m->nowed = m->owed_next = 0;
        } else {
            break;
        }
    }
    return n;
}

static bool details(void *ctx, unsigned job, struct engine_details *out)
{
    struct mirror *m = ctx;
    if (!request_job(m, "details", job))
        return false;
    struct json j;
    if (!json_parse(&j, m->reply.data, m->reply.len))
        return false;
    int row = json_find(&j, "row");
    memset(out, 0, sizeof *out);
    if (row >= 0) {
        parse_row(&j, row, &out->row);
        json_get_string(&j, json_find(&j, "path"), out->path, sizeof out->path);
        json_get_string(&j, json_find(&j, "upload_link"), out->upload_link, sizeof out->upload_link);
        json_get_string(&j, json_find(&j, "error"), out->error, sizeof out->error);
        json_get_string(&j, json_find(&j, "verified"), out->verified, sizeof out->verified);
        json_get_string(&j, json_find(&j, "note"), out->note, sizeof out->note);
        json_get_string(&j, json_find(&j, "page"), out->page, sizeof out->page);
    }
    json_free(&j);
    return row >= 0;
}

/* NULL when the agent did it, else its reason (kept in the mirror). */
static const char *why_not(struct mirror *m, bool answered)
{
    if (!answered)
        return "the agent is gone";
    struct json j;
    if (!json_parse(&j, m->reply.data, m->reply.len))
        return "the agent answered garbage";
    bool ok = json_find(&j, "error") < 0 && !json_get_string(&j, json_find(&j, "reason"), m->why, sizeof m->why);
    json_free(&j);
    return ok ? NULL : m->why;
}

static const char *pause_job(void *ctx, unsigned job)
{
    return why_not(ctx, request_job(ctx, "pause", job));
}

static const char *resume_job(void *ctx, unsigned job)
{
    return why_not(ctx, request_job(ctx, "resume", job));
}

static void pause_all(void *ctx)
{
    request(ctx, "{\"cmd\":\"pause_all\"}");
}

static void resume_all(void *ctx)
{
    request(ctx, "{\"cmd\":\"resume_all\"}");
}

static void verify(void *ctx, unsigned job)
{
    request_job(ctx, "verify", job);
}

static void cancel(void *ctx, unsigned job, bool delete_video)
{
    char line[96];
    snprintf(line, sizeof line, "{\"cmd\":\"cancel\",\"job\":%u,\"delete\":%d}", job, delete_video);
    request(ctx, line);
}

static void set_workers(void *ctx, unsigned workers)
{
    char line[64];
    snprintf(line, sizeof line, "{\"cmd\":\"workers\",\"n\":%u}", workers);
    request(ctx, line);
}

static void set_rate_limit(void *ctx, uint64_t bytes_per_second)
{
    char line[64];
    snprintf(line, sizeof line, "{\"cmd\":\"rate\",\"bytes\":%llu}", (unsigned long long)bytes_per_second);
    request(ctx, line);
}

static unsigned add(void *ctx, const char *path, bool *is_new, char *err, size_t cap)
{
    struct mirror *m = ctx;
    struct buf line;
    char full[2 * PATH_MAX + 2];
    protocol_absolute_path(path, full, sizeof full); /* as typed in the dashboard, where the user is */
    buf_init(&line, PROTOCOL_LINE_MAX);
    buf_puts(&line, "{\"cmd\":\"add\",\"files\":[");
    json_append_string_lossy(&line, full);
    buf_puts(&line, "]}");
    bool answered = !line.overflowed && request(m, line.data);
    buf_free(&line);
    snprintf(err, cap, "%s: %s", path, answered ? "refused by the agent" : "the agent is gone");
    struct json j;
    if (!answered || !json_parse(&j, m->reply.data, m->reply.len))
        return 0;
    struct json_iter it;
    json_array_iter(&j, json_find(&j, "added"), &it);
    int item = json_iter_next(&it);
    unsigned id = item >= 0 ? (unsigned)get_uint(&j, item, "job") : 0;
    /* "new" is a literal, which the reader has no getter for; a file name
     * holding the same text is escaped, so it cannot match. */
    *is_new = id && strstr(m->reply.data, "\"new\":true") != NULL;
    if (!id && item >= 0)
        json_get_string(&j, json_find_in(&j, item, "error"), err, cap);
    json_free(&j);
    return id;
}

static int wakeup_fd(void *ctx)
{
    struct mirror *m = ctx;
    return m->gone ? -1 : m->fd;
}

static void wakeup_drain(void *ctx)
{
    struct mirror *m = ctx;
    size_t before;
    do {
        before = m->in.len;
        read_some(m, false);
    } while (!m->gone && m->in.len != before);
}

static bool settled(void *ctx)
{
    struct mirror *m = ctx;
    if (m->loading || !m->have_full)
        return false; /* the rows seen so far are not the table: its first 1,000 all done say nothing */
    for (size_t i = 0; i < m->n; i++)
        if (m->rows[i].state == ENGINE_QUEUED || engine_state_active(m->rows[i].state))
            return false;
    return true;
}

static bool ended(void *ctx)
{
    return ((struct mirror *)ctx)->gone;
}

static const struct source_ops agent_ops = {
    snapshot, snapshot_numbers, fill_texts, events, details, pause_job, resume_job, pause_all, resume_all,
    verify, cancel, set_workers, set_rate_limit, add, wakeup_fd, wakeup_drain, settled, ended, snapshot_compact,
    snapshot_window,
};

bool source_agent_open(struct source *out, int fd)
{
    struct mirror *m = calloc(1, sizeof *m);
    struct engine_event *events = malloc(EVENTS_MAX * sizeof *events);
    if (!m || !events) {
        free(m);
        free(events);
        close(fd);
        return false;
    }
    m->fd = fd;
    m->events = events;
    buf_init(&m->in, IN_MAX);
    buf_init(&m->reply, IN_MAX);
    *out = (struct source){ .ops = &agent_ops, .ctx = m, .remote = true };
    char line[64];
    snprintf(line, sizeof line, "{\"cmd\":\"subscribe\",\"protocol\":%d}", PROTOCOL_VERSION);
    bool ok = request(m, line);
    while (ok && !m->have_full && !m->gone)
        read_some(m, true);
    if (ok && m->have_full)
        return true;
    source_agent_close(out);
    return false;
}

void source_agent_close(struct source *s)
{
    struct mirror *m = s->ctx;
    if (!m)
        return;
    close(m->fd);
    buf_free(&m->in);
    buf_free(&m->reply);
    free(m->rows);
    free(m->events);
    free(m->outcomes);
    free(m->owed);
    free(m);
    s->ctx = NULL;
}

bool source_agent_request(const struct source *s, const char *line, char *answer, size_t cap)
{
    struct mirror *m = s->ctx;
    if (!request(m, line))
        return false;
    snprintf(answer, cap, "%s", m->reply.data);
    return true;
}
