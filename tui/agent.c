#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dashboard.h"
#include "headless.h"
#include "hook.h"
#include "util/json.h"
#include "protocol.h"
#include "runlog.h"
#include "text.h"
#include "util/clock.h"
#include "util/json_write.h"
#include "util/units.h"

enum {
    LOG_MAX = 1 << 20,             /* agent.log over this becomes agent.log.1 */
    CLIENTS_MAX = 64,
    STREAM_HIGH_WATER = 256 << 10, /* a subscriber this far behind gets coalesced rows */
    OUT_MAX = 64 << 20,            /* the most a client's answers may hold (a 10,000-row table fits) */
    EVENT_BATCH = 64,
    TEXTS_BATCH = 64,              /* changed rows whose texts are fetched at once, as they are sent */
    TABLE_LINE_ROWS = 1000,        /* rows a line: a client's JSON reader takes about 18,000 */
};
#define PUSH_INTERVAL 0.25 /* seconds: at most 4 pushes a second */
/* Seconds between two takes of the events with no subscriber: each job's
 * every step wakes the agent, thousands of times a second on small files. */
#define EVENTS_SPACING 0.025

/* ---- the log ---------------------------------------------------------- */

/* Under log_lock: workers write -v's request lines here too (runlog). */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static char log_path[PATH_MAX + 16];

static void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void agent_log(const char *fmt, ...)
{
    pthread_mutex_lock(&log_lock);
    if (log_fd < 0) {
        pthread_mutex_unlock(&log_lock);
        return;
    }
    struct stat st;
    if (fstat(log_fd, &st) == 0 && st.st_size > LOG_MAX) {
        char old[sizeof log_path + 2];
        snprintf(old, sizeof old, "%s.1", log_path);
        rename(log_path, old);
        int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(log_fd);
            log_fd = fd;
        }
    }
    char message[1200], stamp[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    headless_iso_time(clock_wall(), stamp, sizeof stamp);
    dprintf(log_fd, "%s %s\n", stamp, message);
    pthread_mutex_unlock(&log_lock);
}

/* runlog's notes and -v's request lines, which have no terminal here. */
static void agent_log_line(const char *text)
{
    agent_log("%s", text);
}

/* ---- the server ------------------------------------------------------- */

struct client {
    int fd;
    struct buf in;              /* the request being read */
    struct buf out;             /* what waits to be written, from out_sent on */
    size_t out_sent;
    bool subscribed, waiting, resync, closing;
    unsigned long missed;       /* events dropped while the client was behind */
    struct client *next;
};

struct agent {
    struct cli *cli;
    struct engine *e;
    int listen_fd, signal_fd;
    struct client *clients;
    unsigned nclients;
    /* Rows at the last push (by id), now, changed since: numbers only, texts
     * fetched for the changed rows as they are sent (100,000 rows). */
    struct engine_numbers *prev, *cur, *changed;
    size_t nprev, prev_cap, cur_cap, changed_cap;
    struct engine_totals prev_totals;
    bool push_due, stopping;
    double last_push, idle_since;
    double events_at;          /* monotonic: with no subscriber, events are not taken before this */
    struct buf line;            /* a line being built */
};

static void client_flush(struct agent *a, struct client *c);
static void table_lines(struct agent *a, struct client *c, const char *head);

static void client_close(struct agent *a, struct client *c)
{
    for (struct client **p = &a->clients; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
    a->nclients--;
}

/* Queue a whole line for c; a stream line is refused when c is far behind. */
static bool client_queue(struct client *c, const char *data, size_t len, bool stream)
{
    if (stream && c->out.len - c->out_sent > STREAM_HIGH_WATER)
        return false;
    size_t mark = c->out.len;
    if (buf_append(&c->out, data, len) && buf_append(&c->out, "\n", 1))
        return true;
    c->out.len = mark; /* never half a line */
    if (c->out.data)
        c->out.data[mark] = '\0';
    c->out.overflowed = false;
    return false;
}

static void client_reply(struct client *c, const char *line)
{
    if (!client_queue(c, line, strlen(line), false))
        c->closing = true;
}

/* An error line, then the connection ends: the client broke the protocol. */
static void client_fail(struct agent *a, struct client *c, const char *reason)
{
    struct buf b;
    buf_init(&b, 1024);
    buf_puts(&b, "{\"error\":");
    json_append_string_lossy(&b, reason);
    buf_puts(&b, "}");
    client_queue(c, b.data, b.len, false);
    buf_free(&b);
    agent_log("client %d: %s; disconnected", c->fd, reason);
    c->closing = true;
    client_flush(a, c);
}

/* A subscriber that fell behind and has caught up: what it missed, then
 * the whole table, so its rows are right again. */
static void client_resync(struct agent *a, struct client *c)
{
    struct buf b;
    buf_init(&b, OUT_MAX);
    buf_printf(&b, "{\"missed\":%lu}", c->missed);
    client_queue(c, b.data, b.len, false);
    buf_free(&b);
    table_lines(a, c, "\"full\":true,");
    c->resync = false;
    c->missed = 0;
}

static void client_flush(struct agent *a, struct client *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            c->closing = true;
            c->out_sent = c->out.len;
            break;
        }
        c->out_sent += (size_t)w;
    }
    if (c->out_sent == c->out.len) {
        buf_reset(&c->out);
        c->out_sent = 0;
        if (c->resync && !c->closing && a->e) /* no table once the engine is freed */
            client_resync(a, c);
    } else if (c->out_sent > c->out.len / 2) {
        memmove(c->out.data, c->out.data + c->out_sent, c->out.len - c->out_sent + 1);
        c->out.len -= c->out_sent;
        c->out_sent = 0;
    }
}

static void stream(struct agent *a, const struct buf *line, bool is_event)
{
    for (struct client *c = a->clients; c; c = c->next) {
        if (!c->subscribed || c->closing)
            continue;
        if (c->resync || !client_queue(c, line->data, line->len, true)) {
            if (!c->resync)
                agent_log("client %d fell behind; its stream waits until it reads", c->fd);
            c->resync = true;
            c->missed += is_event;
        }
    }
}

static bool totals_differ(const struct engine_totals *x, const struct engine_totals *y)
{
    return x->files != y->files || x->done != y->done || x->failed != y->failed || x->active != y->active ||
           x->removed_done != y->removed_done || x->bytes != y->bytes || x->acked != y->acked ||
           x->rate != y->rate || x->workers != y->workers || x->rate_limit != y->rate_limit ||
           x->sent_bytes != y->sent_bytes;
}

static bool row_differs(const struct engine_numbers *x, const struct engine_numbers *y)
{
    return x->state != y->state || x->size != y->size || x->sent != y->sent || x->acked != y->acked ||
           x->rate != y->rate || x->retries != y->retries || x->retry_in != y->retry_in ||
           x->started != y->started || x->finished != y->finished || x->transcode != y->transcode;
}

static int by_id(const void *x, const void *y)
{
    unsigned a = ((const struct engine_numbers *)x)->id, b = ((const struct engine_numbers *)y)->id;
    return (a > b) - (a < b);
}

static void sort_by_id(struct engine_numbers *rows, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (rows[i - 1].id > rows[i].id) {
            qsort(rows, n, sizeof *rows, by_id);
            return;
        }
    }
}

static void send_stream(struct agent *a, struct client *c, const struct buf *line)
{
    (void)c;
    stream(a, line, false);
}

static void send_to(struct agent *a, struct client *c, const struct buf *line)
{
    (void)a;
    if (!c->closing && !client_queue(c, line->data, line->len, false))
        c->closing = true; /* and no later line: a table with a hole would pass for whole */
}

/* rows (texts fetched as they are written) in lines of at most
 * TABLE_LINE_ROWS, each with the totals, each handed to send: one line of
 * 100,000 rows would be more than a client's JSON reader takes. The first
 * line begins with head (keys, each with its comma); every line but the
 * last says "more":true, so that a reader knows the table goes on. */
static void rows_lines(struct agent *a, struct client *c, const struct engine_numbers *rows, size_t n,
                       const struct engine_totals *totals, const char *head,
                       void (*send)(struct agent *a, struct client *c, const struct buf *line))
{
    size_t from = 0;
    do {
        size_t to = n - from > TABLE_LINE_ROWS ? from + TABLE_LINE_ROWS : n;
        buf_reset(&a->line);
        buf_printf(&a->line, "{%s%s\"rows\":[", from ? "" : head, to < n ? "\"more\":true," : "");
        struct engine_row batch[TEXTS_BATCH];
        for (size_t i = from; i < to; i += TEXTS_BATCH) {
            size_t k = to - i < TEXTS_BATCH ? to - i : TEXTS_BATCH;
            for (size_t j = 0; j < k; j++)
                batch[j] = (struct engine_row){ .numbers = rows[i + j] };
            engine_fill_texts(a->e, batch, k);
            for (size_t j = 0; j < k; j++) {
                if (i + j > from)
                    buf_puts(&a->line, ",");
                protocol_row(&a->line, &batch[j]);
            }
        }
        buf_puts(&a->line, "],\"totals\":");
        protocol_totals(&a->line, totals);
        buf_puts(&a->line, "}");
        send(a, c, &a->line);
        from = to;
    } while (from < n);
}

/* Every row and the totals to c, in lines (rows_lines), ordered by id. */
static void table_lines(struct agent *a, struct client *c, const char *head)
{
    struct engine_numbers *rows = NULL;
    size_t cap = 0;
    struct engine_totals totals;
    size_t n = engine_snapshot_compact(a->e, &rows, &cap, &totals);
    sort_by_id(rows, n);
    rows_lines(a, c, rows, n, &totals, head, send_to);
    free(rows);
}

/* What happened, for the log: the outcome of each file, and a pause with
 * something to say (a create a stop cut off). */
static void log_event(struct agent *a, const struct engine_event *ev)
{
    if (ev->kind != ENGINE_EV_DONE && ev->kind != ENGINE_EV_FAILED && ev->kind != ENGINE_EV_QUEUED &&
        !(ev->kind == ENGINE_EV_PAUSED && ev->message[0]))
        return;
    struct engine_details *d = malloc(sizeof *d);
    if (d && engine_details(a->e, ev->job, d)) {
        char path[1024], message[800];
        text_escape(d->path, path, sizeof path);
        text_escape(ev->message, message, sizeof message);
        agent_log("%s %s%s%s", engine_event_name(ev->kind), path, message[0] ? ": " : "", message);
    }
    free(d);
}

/* Events since the last call: logged, and streamed to subscribers. */
static void take_events(struct agent *a)
{
    struct engine_event *events = malloc(EVENT_BATCH * sizeof *events);
    size_t n;
    while (events && (n = engine_events(a->e, events, EVENT_BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const struct engine_event *ev = &events[i];
            log_event(a, ev);
            runlog_event(ev, ev->row.name);
            hook_event(a->e, ev);
            buf_reset(&a->line);
            buf_printf(&a->line, "{\"event\":\"%s\",\"job\":%u,\"time_ms\":%.0f,\"message\":",
                       engine_event_name(ev->kind), ev->job, ev->time * 1000);
            json_append_string_lossy(&a->line, ev->message);
            buf_puts(&a->line, ",\"row\":");
            protocol_row(&a->line, &ev->row);
            buf_puts(&a->line, "}");
            stream(a, &a->line, true);
        }
    }
    free(events);
}

/* Rows whose numbers changed since the last push, rows gone, the totals. */
static void push(struct agent *a)
{
    take_events(a);
    struct engine_totals totals;
    size_t n = engine_snapshot_compact(a->e, &a->cur, &a->cur_cap, &totals);
    sort_by_id(a->cur, n);
    if (n > a->changed_cap) {
        struct engine_numbers *grown = realloc(a->changed, n * sizeof *grown);
        if (!grown)
            return;
        a->changed = grown;
        a->changed_cap = n;
    }
    size_t nchanged = 0, p = 0;
    struct buf gone;
    buf_init(&gone, OUT_MAX);
    buf_puts(&gone, "\"gone\":[");
    bool first_gone = true;
    for (size_t i = 0; i < n; i++) {
        while (p < a->nprev && a->prev[p].id < a->cur[i].id) {
            buf_printf(&gone, "%s%u", first_gone ? "" : ",", a->prev[p++].id);
            first_gone = false;
        }
        bool same = p < a->nprev && a->prev[p].id == a->cur[i].id && !row_differs(&a->prev[p], &a->cur[i]);
        if (p < a->nprev && a->prev[p].id == a->cur[i].id)
            p++;
        if (!same)
            a->changed[nchanged++] = a->cur[i];
    }
    for (; p < a->nprev; p++) {
        buf_printf(&gone, "%s%u", first_gone ? "" : ",", a->prev[p].id);
        first_gone = false;
    }
    buf_puts(&gone, "],");
    if (nchanged || !first_gone || totals_differ(&totals, &a->prev_totals))
        rows_lines(a, NULL, a->changed, nchanged, &totals, gone.data ? gone.data : "", send_stream);
    buf_free(&gone);
    struct engine_numbers *swap = a->prev;
    size_t swap_cap = a->prev_cap;
    a->prev = a->cur;
    a->prev_cap = a->cur_cap;
    a->nprev = n;
    a->cur = swap;
    a->cur_cap = swap_cap;
    a->prev_totals = totals;
    a->last_push = clock_mono();
    a->push_due = false;
}

static bool any_subscriber(const struct agent *a)
{
    for (const struct client *c = a->clients; c; c = c->next)
        if (c->subscribed)
            return true;
    return false;
}

/* ---- requests --------------------------------------------------------- */

typedef void request_fn(struct agent *a, struct client *c, const struct json *j, unsigned job);

static void reply_ok(struct client *c, const char *why_not)
{
    if (!why_not) {
        client_reply(c, "{\"ok\":true}");
        return;
    }
    struct buf b;
    buf_init(&b, 1024);
    buf_puts(&b, "{\"ok\":false,\"reason\":");
    json_append_string_lossy(&b, why_not);
    buf_puts(&b, "}");
    client_reply(c, b.data);
    buf_free(&b);
}

/* An add's "meta": the name, description, privacy and tags of the command
 * that queued the files. An agent started by an earlier command has that
 * command's options; without these, a file asked to be private would go up
 * with the agent's privacy. */
struct add_meta { /* room for what a request line can hold of each */
    char name[4096], description[PROTOCOL_LINE_MAX], privacy[32], tags[CLI_MAX_TAGS][1024];
    const char *tag_list[CLI_MAX_TAGS];
    struct engine_file_meta meta;
};

/* False when "meta" is there but malformed. */
static bool read_add_meta(const struct json *j, struct add_meta *m)
{
    int t = json_find(j, "meta");
    if (t < 0)
        return true;
    if (json_type(j, t) != 'o')
        return false;
    struct { const char *key; char *out; size_t cap; const char **field; } strings[] = {
        { "name", m->name, sizeof m->name, &m->meta.name },
        { "description", m->description, sizeof m->description, &m->meta.description },
        { "privacy", m->privacy, sizeof m->privacy, &m->meta.privacy },
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        int v = json_find_in(j, t, strings[i].key);
        if (v < 0)
            continue;
        if (!json_get_string(j, v, strings[i].out, strings[i].cap))
            return false;
        *strings[i].field = strings[i].out;
    }
    int tags = json_find_in(j, t, "tags");
    if (tags < 0)
        return true;
    if (json_type(j, tags) != 'a')
        return false;
    struct json_iter it;
    json_array_iter(j, tags, &it);
    for (int v; (v = json_iter_next(&it)) >= 0;) {
        if (m->meta.ntags == CLI_MAX_TAGS || !json_get_string(j, v, m->tags[m->meta.ntags], sizeof m->tags[0]))
            return false;
        m->tag_list[m->meta.ntags] = m->tags[m->meta.ntags];
        m->meta.ntags++;
    }
    m->meta.tags = m->tag_list;
    m->meta.has_tags = true;
    return true;
}

/* A job the journal had done already: added, but nothing to upload. */
static bool job_done(struct agent *a, unsigned id)
{
    struct engine_details *d = malloc(sizeof *d);
    bool done = d && engine_details(a->e, id, d) && d->row.state == ENGINE_DONE;
    free(d);
    return done;
}

/* Subscribers get the rows a request added before its answer: a dashboard
 * that queued its files draws them in its first frame, not "no uploads".
 * Its own stream may have passed its limit with them (thousands of rows):
 * then it gets the whole table now, as it would once it caught up. */
static void rows_before_answer(struct agent *a, struct client *c)
{
    if (any_subscriber(a))
        push(a);
    if (c->subscribed && c->resync)
        client_resync(a, c);
}

struct add_batch {
    char paths[ENGINE_ADD_BATCH][PATH_MAX];
    const char *names[ENGINE_ADD_BATCH];
    const struct engine_file_meta *metas[ENGINE_ADD_BATCH];
    unsigned ids[ENGINE_ADD_BATCH];
    bool is_new[ENGINE_ADD_BATCH];
    char *errs[ENGINE_ADD_BATCH];      /* why each refused file was (NULL: out of memory) */
    size_t n;
};

static void add_refused(void *ctx, size_t i, const char *err)
{
    struct add_batch *batch = ctx;
    batch->errs[i] = strdup(err);
}

/* Queue the batch's files and answer for each into b. */
static void add_batch_answer(struct agent *a, struct add_batch *batch, const struct engine_file_meta *meta,
                             struct buf *b, bool *first)
{
    for (size_t i = 0; i < batch->n; i++) {
        batch->names[i] = batch->paths[i];
        batch->metas[i] = meta;
        batch->errs[i] = NULL;
    }
    engine_add_many(a->e, batch->names, batch->metas, batch->n, batch->ids, batch->is_new, add_refused, batch);
    for (size_t i = 0; i < batch->n; i++) {
        const char *path = batch->paths[i], *err = batch->errs[i] ? batch->errs[i] : "out of memory";
        unsigned id = batch->ids[i];
        buf_puts(b, *first ? "{\"file\":" : ",{\"file\":");
        *first = false;
        json_append_string_lossy(b, path);
        if (id) {
            buf_printf(b, ",\"job\":%u,\"new\":%s%s}", id, batch->is_new[i] ? "true" : "false",
                       batch->is_new[i] && job_done(a, id) ? ",\"done\":true" : "");
        } else {
            buf_puts(b, ",\"error\":");
            json_append_string_lossy(b, err);
            buf_puts(b, "}");
            char shown[1200];
            text_escape(err, shown, sizeof shown);
            agent_log("refused: %s", shown);
            engine_add_refused(a->e, path, err); /* a failed row with the reason, as in-process */
        }
        free(batch->errs[i]);
    }
    batch->n = 0;
}

static void do_add(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)job;
    int files = json_find(j, "files");
    if (json_type(j, files) != 'a') {
        client_fail(a, c, "add: \"files\" must be an array of paths");
        return;
    }
    struct add_meta *meta = calloc(1, sizeof *meta);
    struct add_batch *batch = calloc(1, sizeof *batch);
    if (!meta || !batch || !read_add_meta(j, meta)) {
        free(meta);
        free(batch);
        client_fail(a, c, "add: \"meta\" must be an object of name, description, privacy (strings) and tags");
        return;
    }
    const struct engine_file_meta *file_meta = json_find(j, "meta") >= 0 ? &meta->meta : NULL;
    struct buf b;
    buf_init(&b, OUT_MAX);
    buf_puts(&b, "{\"ok\":true,\"added\":[");
    struct json_iter it;
    json_array_iter(j, files, &it);
    bool first = true, bad = false;
    for (int t; !bad && (t = json_iter_next(&it)) >= 0;) {
        char *path = batch->paths[batch->n];
        bad = !json_get_string(j, t, path, PATH_MAX) || path[0] != '/';
        if (!bad && ++batch->n == ENGINE_ADD_BATCH)
            add_batch_answer(a, batch, file_meta, &b, &first);
    }
    add_batch_answer(a, batch, file_meta, &b, &first); /* those before a bad path are queued, as they were */
    if (bad) {
        client_fail(a, c, "add: each file must be an absolute path");
    } else {
        buf_puts(&b, "]}");
        rows_before_answer(a, c);
        client_reply(c, b.data);
    }
    buf_free(&b);
    free(batch);
    free(meta);
}

static void do_pause(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j;
    reply_ok(c, engine_pause(a->e, job));
}

static void do_resume(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j;
    reply_ok(c, engine_resume(a->e, job));
}

static void do_pause_all(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j, (void)job;
    engine_pause_all(a->e);
    reply_ok(c, NULL);
}

static void do_resume_all(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j, (void)job;
    engine_resume_all(a->e);
    reply_ok(c, NULL);
}

static void do_verify(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j;
    engine_verify(a->e, job);
    reply_ok(c, NULL);
}

static void do_cancel(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    uint64_t delete_video = 0; /* "delete":1 also deletes the video (or tus upload) */
    json_get_uint(j, json_find(j, "delete"), &delete_video);
    engine_cancel(a->e, job, delete_video != 0);
    reply_ok(c, NULL);
}

static void do_workers(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)job;
    uint64_t n;
    if (!json_get_uint(j, json_find(j, "n"), &n) || n < 1 || n > ENGINE_MAX_WORKERS) {
        client_fail(a, c, "workers: \"n\" must be a number from 1 to " ENGINE_STR(ENGINE_MAX_WORKERS));
        return;
    }
    engine_set_workers(a->e, (unsigned)n);
    reply_ok(c, NULL);
}

static void do_rate(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)job;
    uint64_t n;
    if (!json_get_uint(j, json_find(j, "bytes"), &n)) {
        client_fail(a, c, "rate: \"bytes\" must be a number of bytes per second (0: no limit)");
        return;
    }
    engine_set_rate_limit(a->e, n);
    reply_ok(c, NULL);
}

static void do_snapshot(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j, (void)job;
    table_lines(a, c, "");
}

static void do_details(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j;
    struct engine_details *d = malloc(sizeof *d);
    if (!d || !engine_details(a->e, job, d)) {
        free(d);
        reply_ok(c, "no such job");
        return;
    }
    struct buf b;
    buf_init(&b, 64 * 1024);
    buf_puts(&b, "{\"ok\":true,\"row\":");
    protocol_row(&b, &d->row);
    const char *keys[] = { "path", "upload_link", "error", "verified", "note", "page" };
    const char *values[] = { d->path, d->upload_link, d->error, d->verified, d->note, d->page };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        buf_printf(&b, ",\"%s\":", keys[i]);
        json_append_string_lossy(&b, values[i]);
    }
    buf_puts(&b, "}");
    client_reply(c, b.data);
    buf_free(&b);
    free(d);
}

static void do_subscribe(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j, (void)job;
    /* The others first get what changed up to now, so that the rows kept
     * for the next diff are theirs too. */
    if (any_subscriber(a))
        push(a);
    client_reply(c, "{\"ok\":true}");
    table_lines(a, c, "\"full\":true,");
    c->subscribed = true;
}

/* How the jobs ended, as an upload's exit status counts them: with
 * wait_transcode a video is done once available, failed when Vimeo could
 * not transcode it. */
static void count_outcome(const struct source *src, bool wait_transcode, unsigned *done, unsigned *failed,
                          unsigned *unfinished)
{
    struct engine_row *rows = NULL;
    size_t cap = 0;
    struct engine_totals totals;
    size_t n = source_snapshot_numbers(src, &rows, &cap, &totals);
    *done = totals.removed_done;
    *failed = *unfinished = 0;
    for (size_t i = 0; i < n; i++) {
        bool done_row = rows[i].state == ENGINE_DONE;
        enum engine_transcode t = wait_transcode && done_row ? rows[i].transcode : ENGINE_TRANSCODE_COMPLETE;
        if (rows[i].state == ENGINE_FAILED || t == ENGINE_TRANSCODE_ERROR)
            (*failed)++;
        else if (done_row && t != ENGINE_TRANSCODE_IN_PROGRESS)
            (*done)++;
        else
            (*unfinished)++;
    }
    free(rows);
}

/* How the jobs stand: settled, and the outcome as an upload's exit status counts it. */
static void settled_line(struct agent *a, struct buf *b)
{
    unsigned done, failed, unfinished;
    bool settled = engine_settled(a->e);
    struct source src = source_engine(a->e);
    count_outcome(&src, a->cli->config.wait_transcode, &done, &failed, &unfinished);
    buf_reset(b);
    buf_printf(b, "{\"settled\":%s,\"done\":%u,\"failed\":%u,\"unfinished\":%u,\"stopping\":%s}",
               settled ? "true" : "false", done, failed, unfinished, a->stopping ? "true" : "false");
}

static void do_settled(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j, (void)job;
    settled_line(a, &a->line);
    client_reply(c, a->line.data);
}

/* Answered when the jobs settle (or the agent stops). */
static void do_wait(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)a, (void)j, (void)job;
    c->waiting = true;
}

/* vimeo-up resume through the agent: every unfinished upload in the journal. */
static void do_add_unfinished(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j, (void)job;
    char err[4608];
    int n = engine_add_unfinished(a->e, err, sizeof err);
    if (n < 0) {
        reply_ok(c, err);
        return;
    }
    char line[64];
    snprintf(line, sizeof line, "{\"ok\":true,\"queued\":%d}", n);
    rows_before_answer(a, c);
    client_reply(c, line);
}

static void do_stop(struct agent *a, struct client *c, const struct json *j, unsigned job)
{
    (void)j, (void)job;
    agent_log("stop asked; pausing every upload");
    engine_pause_all(a->e);
    reply_ok(c, NULL);
    a->stopping = true;
}

static const struct {
    const char *name;
    request_fn *fn;
    bool job;                   /* takes "job": an id */
} requests[] = {
    { "add", do_add, false },           { "pause", do_pause, true },      { "resume", do_resume, true },
    { "pause_all", do_pause_all, false }, { "resume_all", do_resume_all, false }, { "verify", do_verify, true },
    { "cancel", do_cancel, true },      { "workers", do_workers, false }, { "rate", do_rate, false },
    { "snapshot", do_snapshot, false }, { "details", do_details, true }, { "subscribe", do_subscribe, false },
    { "settled", do_settled, false },   { "wait", do_wait, false },       { "stop", do_stop, false },
    { "add_unfinished", do_add_unfinished, false },
};

static void handle_request(struct agent *a, struct client *c, const char *text, size_t len)
{
    struct json j;
    char cmd[32], reason[160];
    uint64_t n;
    if (!json_parse(&j, text, len)) {
        client_fail(a, c, "not a JSON line");
        return;
    }
    int t = json_find(&j, "protocol");
    if (json_type(&j, 0) != 'o') {
        client_fail(a, c, "not a JSON object");
    } else if (t >= 0 && (!json_get_uint(&j, t, &n) || n != PROTOCOL_VERSION)) {
        protocol_version_refusal(reason, sizeof reason);
        client_fail(a, c, reason);
    } else if (!json_get_string(&j, json_find(&j, "cmd"), cmd, sizeof cmd)) {
        client_fail(a, c, "no \"cmd\" in the request");
    } else {
        size_t k = 0, count = sizeof requests / sizeof requests[0];
        while (k < count && strcmp(requests[k].name, cmd))
            k++;
        if (k == count) {
            char shown[64];
            text_escape(cmd, shown, sizeof shown);
            snprintf(reason, sizeof reason, "unknown command: %s", shown);
            client_fail(a, c, reason);
        } else if (requests[k].job && (!json_get_uint(&j, json_find(&j, "job"), &n) || !n || n > UINT32_MAX)) {
            snprintf(reason, sizeof reason, "%s: \"job\" must be a job id", cmd);
            client_fail(a, c, reason);
        } else {
            requests[k].fn(a, c, &j, requests[k].job ? (unsigned)n : 0);
        }
    }
    json_free(&j);
}

static void client_read(struct agent *a, struct client *c)
{
    char chunk[16384];
    ssize_t got = recv(c->fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (got <= 0) {
        c->closing = true;
        c->out_sent = c->out.len; /* no one reads it any more */
        return;
    }
    if (!buf_append(&c->in, chunk, (size_t)got)) {
        client_fail(a, c, "request longer than 64 KiB");
        return;
    }
    char *start = c->in.data, *nl;
    while (!c->closing && (nl = memchr(start, '\n', c->in.len - (size_t)(start - c->in.data)))) {
        *nl = '\0';
        /* A whole line can arrive in one read with room to spare: measure each. */
        if ((size_t)(nl - start) > PROTOCOL_LINE_MAX) {
            client_fail(a, c, "request longer than 64 KiB");
            return;
        }
        if (nl > start)
            handle_request(a, c, start, (size_t)(nl - start));
        start = nl + 1;
    }
    size_t rest = c->in.len - (size_t)(start - c->in.data);
    if (rest > PROTOCOL_LINE_MAX) {
        client_fail(a, c, "request longer than 64 KiB");
        return;
    }
    memmove(c->in.data, start, rest);
    c->in.len = rest;
    c->in.data[rest] = '\0';
}

static void accept_client(struct agent *a)
{
    int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
        agent_log("refused a connection from uid %ld (pid %ld): only uid %ld is served", (long)cred.uid,
                  (long)cred.pid, (long)getuid());
        close(fd);
        return;
    }
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    buf_init(&c->in, PROTOCOL_LINE_MAX + sizeof(char[16384]));
    buf_init(&c->out, OUT_MAX);
    c->next = a->clients;
    a->clients = c;
    a->nclients++;
    struct buf b;
    buf_init(&b, 256);
    protocol_greeting(&b);
    client_queue(c, b.data, b.len - 1, false);
    buf_free(&b);
    if (a->nclients > CLIENTS_MAX)
        client_fail(a, c, "too many clients");
}

/* Waiting clients get their answer once the jobs settle, or at a stop. */
static void answer_waiters(struct agent *a)
{
    bool any = false;
    for (struct client *c = a->clients; c; c = c->next)
        any |= c->waiting;
    if (!any || (!a->stopping && !engine_settled(a->e)))
        return;
    settled_line(a, &a->line);
    for (struct client *c = a->clients; c; c = c->next) {
        if (c->waiting) {
            client_reply(c, a->line.data);
            c->waiting = false;
        }
    }
}

static int ms_until(double when)
{
    double left = when - clock_mono();
    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static void serve(struct agent *a)
{
    struct pollfd *fds = NULL;
    size_t fds_cap = 0;
    long idle_exit = a->cli->idle_exit > 0 ? a->cli->idle_exit : AGENT_DEFAULT_IDLE_EXIT;
    a->idle_since = clock_mono();
    while (!a->stopping) {
        if (fds_cap < a->nclients + 3) {
            struct pollfd *grown = realloc(fds, (a->nclients + 8) * sizeof *fds);
            if (!grown)
                break;
            fds = grown;
            fds_cap = a->nclients + 8;
        }
        size_t nfds = 0;
        fds[nfds++] = (struct pollfd){ a->listen_fd, POLLIN, 0 };
        /* News waits for the push that is due (it takes the events), or for
         * the spacing since the last take. */
        bool news_wait = a->push_due || clock_mono() < a->events_at;
        fds[nfds++] = (struct pollfd){ news_wait ? -1 : engine_wakeup_fd(a->e), POLLIN, 0 };
        fds[nfds++] = (struct pollfd){ a->signal_fd, POLLIN, 0 };
        for (struct client *c = a->clients; c; c = c->next)
            fds[nfds++] = (struct pollfd){ c->fd, (short)(POLLIN | (c->out_sent < c->out.len ? POLLOUT : 0)), 0 };
        /* Asleep until something happens: a push that is due, or the idle exit. */
        int timeout = -1;
        if (a->push_due)
            timeout = ms_until(a->last_push + PUSH_INTERVAL);
        else if (news_wait)
            timeout = ms_until(a->events_at);
        bool idle = !a->clients && engine_settled(a->e);
        if (!idle)
            a->idle_since = clock_mono();
        else if (timeout < 0 || ms_until(a->idle_since + (double)idle_exit) < timeout)
            timeout = ms_until(a->idle_since + (double)idle_exit);
        if (idle && clock_mono() >= a->idle_since + (double)idle_exit) {
            agent_log("nothing to do and no client for %ld s; exiting", idle_exit);
            break;
        }
        if (poll(fds, nfds, timeout) < 0 && errno != EINTR)
            break;
        if (fds[2].revents & POLLIN) {
            agent_log("stopping on a signal; pausing every upload");
            engine_pause_all(a->e);
            a->stopping = true;
        }
        if (fds[1].revents & POLLIN) {
            engine_wakeup_drain(a->e);
            if (any_subscriber(a)) {
                a->push_due = true;
            } else {
                take_events(a);
                a->events_at = clock_mono() + EVENTS_SPACING;
            }
        }
        size_t i = 3;
        for (struct client *c = a->clients, *next; c; c = next, i++) {
            next = c->next;
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
                client_read(a, c);
            if (!c->closing && (fds[i].revents & POLLOUT))
                client_flush(a, c);
        }
        if (fds[0].revents & POLLIN)
            accept_client(a);
        if (a->push_due && clock_mono() >= a->last_push + PUSH_INTERVAL)
            push(a);
        answer_waiters(a);
        for (struct client *c = a->clients, *next; c; c = next) {
            next = c->next;
            client_flush(a, c);
            if (c->closing)
                client_close(a, c);
        }
    }
    free(fds);
}

/* ---- starting ----------------------------------------------------------- */

/* Tell the starting command how it went ("ok", "running" or the reason),
 * once: it waits for the end of this pipe. */
static void report(int *ready_fd, const char *what)
{
    if (*ready_fd < 0)
        return;
    ssize_t rc = write(*ready_fd, what, strlen(what));
    (void)rc;
    close(*ready_fd);
    *ready_fd = -1;
}

static int listen_on(const char *path, char *err, size_t cap)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    memcpy(addr.sun_path, path, strnlen(path, sizeof addr.sun_path - 1)); /* protocol_socket_path checked it */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    unlink(path); /* a socket left by a killed agent: the lock says none runs */
    mode_t old = umask(0177);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    umask(old);
    if (!ok || chmod(path, 0600) != 0 || listen(fd, 16) != 0) {
        snprintf(err, cap, "agent socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The agent itself, in the background process: the lock, the socket, the
 * engine, then requests until a stop or the idle exit. */
static int agent_main(struct cli *cli, int ready_fd)
{
    char path[PATH_MAX + 16], err[4608], sock[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s/agent.log", cli->state_dir);
    log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    snprintf(path, sizeof path, "%s/agent.lock", cli->state_dir);
    int lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) {
        snprintf(err, sizeof err, "agent lock %s: %s", path, strerror(errno));
        report(&ready_fd, err);
        return EXIT_CANNOT_START;
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        report(&ready_fd, "running");
        close(lock_fd);
        return EXIT_CANNOT_START;
    }
    if (ftruncate(lock_fd, 0) == 0)
        dprintf(lock_fd, "%ld\n", (long)getpid()); /* for a user who wants to know which process */
    struct agent a = { .cli = cli, .listen_fd = -1 };
    int rc = EXIT_CANNOT_START;
    if (!protocol_socket_path(cli->state_dir, sock, sizeof sock, err, sizeof err) ||
        (a.listen_fd = listen_on(sock, err, sizeof err)) < 0) {
        report(&ready_fd, err);
        goto out;
    }
    a.signal_fd = cli_signal_pipe();
    signal(SIGHUP, SIG_IGN); /* no terminal to lose */
    /* --log-file was opened by the command that started us (runlog_open). */
    runlog_setup(false, cli->verbose);
    runlog_divert(agent_log_line);
    hook_setup(cli->on_done, false);
    if (!(a.e = engine_new(&cli->config, err, sizeof err))) {
        report(&ready_fd, err);
        goto out;
    }
    char warning[4096];
    if (!engine_check_api(a.e, warning, sizeof warning)) {
        snprintf(err, sizeof err, "cannot start: %s", warning);
        report(&ready_fd, err);
        goto out;
    }
    if (warning[0])
        agent_log("warning: %s", warning);
    buf_init(&a.line, OUT_MAX);
    agent_log("started (pid %ld, version %s) on %s", (long)getpid(), VIMEO_UP_VERSION, sock);
    report(&ready_fd, "ok");
    serve(&a);
    engine_stop(a.e); /* a video being created gets a moment for its answer */
    take_events(&a);  /* what the stop said goes to the log and the subscribers */
    answer_waiters(&a);
    rc = EXIT_OK;
out:
    if (a.e)
        engine_free(a.e); /* saves every acknowledged offset */
    a.e = NULL;
    /* The clients hear the end only now: `vimeo-up stop` returns once the
     * journal is saved. A subscriber still behind gets no table then. */
    while (a.clients) {
        client_flush(&a, a.clients);
        client_close(&a, a.clients);
    }
    if (a.listen_fd >= 0) {
        close(a.listen_fd);
        unlink(sock);
    }
    agent_log("stopped");
    buf_free(&a.line);
    free(a.prev);
    free(a.cur);
    free(a.changed);
    /* lock_fd stays open: the lock goes with the process, at its very end
     * (after a sanitizer's exit-time checks), and `stop` waits for it. */
    if (log_fd >= 0)
        close(log_fd);
    return rc;
}

/* Start the agent in the background: a new session, no terminal, standard
 * streams on /dev/null. It inherits this process's memory, so the token
 * never passes through argv or the socket. 0 when it listens, 1 when one
 * ran already, -1 with the reason in err. */
static int spawn(struct cli *cli, char *err, size_t cap)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
        snprintf(err, cap, "cannot start the agent: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        if (setsid() < 0)
            _exit(1);
        pid_t second = fork();
        if (second != 0)
            _exit(second < 0);
        umask(077);
        if (chdir("/") != 0)
            _exit(1);
        int null = open("/dev/null", O_RDWR);
        for (int fd = 0; fd <= 2; fd++)
            dup2(null, fd);
        if (null > 2)
            close(null);
        exit(agent_main(cli, ready[1]));
    }
    close(ready[1]);
    if (pid < 0) {
        close(ready[0]);
        snprintf(err, cap, "cannot start the agent: %s", strerror(errno));
        return -1;
    }
    waitpid(pid, NULL, 0);
    char answer[4608];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof answer - 1 && ((n = read(ready[0], answer + got, sizeof answer - 1 - got)) > 0 ||
                                       (n < 0 && errno == EINTR)))
        got += n > 0 ? (size_t)n : 0;
    close(ready[0]);
    answer[got] = '\0';
    if (!strcmp(answer, "ok"))
        return 0;
    if (!strcmp(answer, "running"))
        return 1;
    snprintf(err, cap, "%s", got ? answer : "the agent did not start");
    return -1;
}

/* The state directory by its full path: the agent runs in / and must
 * find the same directory the starting command meant. */
static bool canonical_state(struct cli *cli)
{
    char full[PATH_MAX];
    if (!realpath(cli->state_dir, full))
        return false;
    memcpy(cli->state_dir, full, strlen(full) + 1); /* both PATH_MAX */
    cli->config.state_dir = cli->state_dir;
    return true;
}

int agent_start(struct cli *cli)
{
    char err[4608];
    if (!canonical_state(cli))
        return fprintf(stderr, "vimeo-up: state directory %s: %s\n", cli->state_dir, strerror(errno)),
               EXIT_CANNOT_START;
    int rc = spawn(cli, err, sizeof err);
    if (rc < 0)
        return fprintf(stderr, "vimeo-up: %s\n", err), EXIT_CANNOT_START;
    if (rc == 1)
        fprintf(stderr, "vimeo-up: an agent already runs for %s\n", cli->state_dir);
    return EXIT_OK;
}

/* ---- the commands that talk to it ---------------------------------------- */

/* A connection to the agent of cli's state directory; with start, one is
 * started when none runs. -1 after printing why not. */
static int connect_agent(struct cli *cli, bool start, bool any_version)
{
    char sock[PATH_MAX], err[4608] = "";
    errno = 0;
    if (!canonical_state(cli) || !protocol_socket_path(cli->state_dir, sock, sizeof sock, err, sizeof err)) {
        if (errno && !err[0])
            snprintf(err, sizeof err, "state directory %s: %s", cli->state_dir, strerror(errno));
        fprintf(stderr, "vimeo-up: %s\n", err);
        return -1;
    }
    int fd = protocol_connect(sock, any_version, err, sizeof err);
    cli->agent_ran_before = fd >= 0;
    if (fd >= 0 || (errno != ENOENT && errno != ECONNREFUSED)) {
        if (fd < 0)
            fprintf(stderr, "vimeo-up: %s\n", err);
        return fd;
    }
    if (!start) {
        fprintf(stderr, "vimeo-up: no agent runs for %s; 'vimeo-up FILE...' or 'vimeo-up add FILE' starts one\n",
                cli->state_dir);
        return -1;
    }
    if (spawn(cli, err, sizeof err) < 0) {
        fprintf(stderr, "vimeo-up: %s\n", err);
        return -1;
    }
    /* Started, or one that was stopping or starting at the same moment: it
     * listens within moments. */
    double deadline = clock_mono() + 10;
    while ((fd = protocol_connect(sock, any_version, err, sizeof err)) < 0 && clock_mono() < deadline &&
           (errno == ENOENT || errno == ECONNREFUSED)) {
        usleep(50 * 1000);
        if (spawn(cli, err, sizeof err) < 0)
            break;
    }
    if (fd < 0)
        fprintf(stderr, "vimeo-up: %s\n", err);
    return fd;
}

/* One request, its answer parsed into j (line holds the text). */
static bool exchange(int fd, const char *request, struct buf *line, struct json *j)
{
    struct buf in;
    buf_init(&in, OUT_MAX);
    bool ok = protocol_send(fd, request) && protocol_read_line(fd, &in, line) && json_parse(j, line->data, line->len);
    buf_free(&in);
    return ok;
}

/* An agent started by an earlier command keeps that command's folder,
 * password, hook and logs: files the command line means for another
 * folder, to be kept behind a password, or to run another program or log
 * elsewhere are not handed to it. (The config file's are the agent's too:
 * it read the same file.) Name, description, privacy and tags go with each
 * add (append_meta). */
static int refuse_options_it_keeps(const struct cli *cli)
{
    if (!cli->kept_by_agent || !cli->agent_ran_before)
        return EXIT_OK;
    fprintf(stderr, "vimeo-up: %s: the agent running for %s keeps its own; 'vimeo-up stop' first, or --foreground\n",
            cli->kept_by_agent, cli->state_dir);
    return EXIT_USAGE;
}

/* The command's name, description, privacy and tags for the files it
 * queues: an agent that an earlier command started has that command's. */
static void append_meta(const struct cli *cli, struct buf *request)
{
    const struct engine_config *c = &cli->config;
    if (!c->name && !c->description && !c->privacy && !c->ntags)
        return;
    buf_puts(request, ",\"meta\":{");
    const char *sep = "";
    const struct { const char *key, *value; } fields[] = {
        { "name", c->name }, { "description", c->description }, { "privacy", c->privacy } };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!fields[i].value)
            continue;
        buf_printf(request, "%s\"%s\":", sep, fields[i].key);
        json_append_string_lossy(request, fields[i].value);
        sep = ",";
    }
    if (c->ntags) {
        buf_printf(request, "%s\"tags\":[", sep);
        for (size_t i = 0; i < c->ntags; i++) {
            buf_puts(request, i ? "," : "");
            json_append_string_lossy(request, c->tags[i]);
        }
        buf_puts(request, "]");
    }
    buf_puts(request, "}");
}

/* An add request for files[from...] into request, as many as one line
 * takes; the index of the first file left for the next one. */
static int add_request(const struct cli *cli, int from, struct buf *request)
{
    buf_reset(request);
    buf_printf(request, "{\"cmd\":\"add\",\"protocol\":%d", PROTOCOL_VERSION);
    append_meta(cli, request);
    buf_puts(request, ",\"files\":[");
    int i = from;
    for (; i < cli->nfiles; i++) {
        char full[2 * PATH_MAX + 2];
        protocol_absolute_path(cli->files[i], full, sizeof full);
        size_t mark = request->len;
        buf_puts(request, i > from ? "," : "");
        json_append_string_lossy(request, full);
        if (request->len + 2 >= PROTOCOL_LINE_MAX - 1 && i > from) { /* the next request takes it */
            request->len = mark;
            break;
        }
    }
    buf_puts(request, "]}");
    return i;
}

/* An add's answer: each refusal said to refusals (NULL: standard error).
 * False, said on standard error, when the agent refused the whole request. */
static bool is_false(const struct json *j, int token)
{
    size_t len;
    const char *text = json_raw(j, token, &len);
    return json_type(j, token) == 'p' && len == 5 && !memcmp(text, "false", 5);
}

/* What an add answer says, counted: files queued to upload, files the
 * agent had already (queued, or uploaded by an earlier run), refusals
 * (each said on stderr, or into refusals). */
static bool count_added(const struct json *j, unsigned *queued, unsigned *already, unsigned *refused,
                        struct buf *refusals)
{
    char reason[1024], shown_reason[1024];
    if (json_find(j, "added") < 0) {
        if (!json_get_string(j, json_find(j, "error"), reason, sizeof reason))
            snprintf(reason, sizeof reason, "no list of what it queued");
        text_escape(reason, shown_reason, sizeof shown_reason);
        fprintf(stderr, "vimeo-up: the agent refused the files: %s\n", shown_reason);
        return false;
    }
    struct json_iter it;
    json_array_iter(j, json_find(j, "added"), &it);
    char err[4608], shown[4608];
    for (int t; (t = json_iter_next(&it)) >= 0;) {
        if (json_get_string(j, json_find_in(j, t, "error"), err, sizeof err)) {
            text_escape(err, shown, sizeof shown);
            if (refusals)
                buf_printf(refusals, "vimeo-up: %s\n", shown);
            else
                fprintf(stderr, "vimeo-up: %s\n", shown);
            (*refused)++;
        } else if (json_find_in(j, t, "done") >= 0 || is_false(j, json_find_in(j, t, "new"))) {
            (*already)++;
        } else {
            (*queued)++;
        }
    }
    return true;
}

/* One add request for files[from..]: as many as fit in a request line.
 * Returns the index of the first file left for the next one, or -1 when
 * the agent did not answer; counts what it queued and refused. */
static int add_batch(int fd, const struct cli *cli, int from, unsigned *queued, unsigned *already, unsigned *refused)
{
    struct buf request, line;
    buf_init(&request, 2 * PROTOCOL_LINE_MAX); /* room for one path past the line's limit, taken back */
    buf_init(&line, OUT_MAX);
    int next = add_request(cli, from, &request);
    struct json j = { 0 };
    bool answered = !request.overflowed && exchange(fd, request.data, &line, &j);
    if (!answered)
        fprintf(stderr, "vimeo-up: the agent did not answer\n");
    if (!answered || !count_added(&j, queued, already, refused, NULL))
        next = -1;
    json_free(&j);
    buf_free(&request);
    buf_free(&line);
    return next;
}

static int command_add(struct cli *cli, int fd)
{
    unsigned queued = 0, already = 0, refused = 0;
    int rc = refuse_options_it_keeps(cli);
    if (rc != EXIT_OK)
        return rc;
    for (int from = 0; from < cli->nfiles;) {
        if ((from = add_batch(fd, cli, from, &queued, &already, &refused)) < 0)
            return EXIT_CANNOT_START;
    }
    if (already)
        printf("%u queued in the agent, %u already queued or uploaded; 'vimeo-up status' shows them\n", queued,
               already);
    else
        printf("%u queued in the agent; 'vimeo-up status' shows them\n", queued);
    return refused || cli->unreadable ? EXIT_FAILED : EXIT_OK;
}

static void status_rows(const struct json *j)
{
    struct json_iter it;
    json_array_iter(j, json_find(j, "rows"), &it);
    for (int t; (t = json_iter_next(&it)) >= 0;) {
        uint64_t id = 0, size = 0, acked = 0, rate = 0;
        char state[32] = "", name[512] = "", message[800] = "", shown[1024], why[1600], sz[16], ak[16], rt[16];
        json_get_uint(j, json_find_in(j, t, "id"), &id);
        json_get_uint(j, json_find_in(j, t, "size"), &size);
        json_get_uint(j, json_find_in(j, t, "acked"), &acked);
        json_get_uint(j, json_find_in(j, t, "rate"), &rate);
        json_get_string(j, json_find_in(j, t, "state"), state, sizeof state);
        json_get_string(j, json_find_in(j, t, "name"), name, sizeof name);
        text_escape(name, shown, sizeof shown);
        /* A failed row says why, as the dashboard's does. */
        if (!strcmp(state, "failed") && json_get_string(j, json_find_in(j, t, "message"), message, sizeof message))
            text_escape(message, why, sizeof why);
        units_format_size(size, sz, sizeof sz);
        units_format_size(acked, ak, sizeof ak);
        units_format_size(rate, rt, sizeof rt);
        printf("%5" PRIu64 "  %-10s %10s %10s %8s/s  %s%s%s\n", id, state, sz, ak, rt, shown, message[0] ? ": " : "",
               message[0] ? why : "");
    }
}

/* The table comes in lines of rows (the last without "more"): --json
 * joins them into one object, {"rows":[...],"totals":...}. */
static int command_status(struct cli *cli, int fd)
{
    struct buf in, line;
    buf_init(&in, OUT_MAX);
    buf_init(&line, OUT_MAX);
    char request[64];
    snprintf(request, sizeof request, "{\"cmd\":\"snapshot\",\"protocol\":%d}", PROTOCOL_VERSION);
    bool ok = protocol_send(fd, request), more = true, first = true;
    if (ok && !cli->json)
        printf("%5s  %-10s %10s %10s %10s  %s\n", "ID", "STATE", "SIZE", "ACKED", "RATE", "FILE");
    while (ok && more) {
        struct json j = { 0 };
        int rows = -1;
        ok = protocol_read_line(fd, &in, &line) && json_parse(&j, line.data, line.len) &&
             json_type(&j, rows = json_find(&j, "rows")) == 'a';
        more = ok && json_find(&j, "more") >= 0;
        size_t len;
        const char *text = json_raw(&j, rows, &len);
        if (ok && cli->json) /* each line's rows without their brackets; only a table's one line is empty */
            printf("%s%.*s", first ? "{\"rows\":[" : ",", (int)(len - 2), text + 1);
        else if (ok)
            status_rows(&j);
        first = false;
        text = json_raw(&j, json_find(&j, "totals"), &len);
        if (ok && !more && cli->json)
            printf("],\"totals\":%.*s}\n", (int)len, text ? text : "{}");
        json_free(&j);
    }
    buf_free(&in);
    buf_free(&line);
    if (!ok)
        fprintf(stderr, "vimeo-up: the agent did not answer\n");
    return !ok ? EXIT_CANNOT_START : fflush(stdout) != 0 || ferror(stdout) ? EXIT_FAILED : EXIT_OK;
}

static int command_wait(int fd)
{
    struct buf line;
    buf_init(&line, OUT_MAX);
    struct json j = { 0 };
    char request[64];
    snprintf(request, sizeof request, "{\"cmd\":\"wait\",\"protocol\":%d}", PROTOCOL_VERSION);
    uint64_t done = 0, failed = 0, unfinished = 0;
    bool stopping = false;
    int rc;
    if (!exchange(fd, request, &line, &j)) {
        fprintf(stderr, "vimeo-up: the agent stopped before its uploads settled; 'vimeo-up resume' continues\n");
        rc = EXIT_UNFINISHED;
    } else {
        json_get_uint(&j, json_find(&j, "done"), &done);
        json_get_uint(&j, json_find(&j, "failed"), &failed);
        json_get_uint(&j, json_find(&j, "unfinished"), &unfinished);
        /* "stopping" is a literal, which the reader has no getter for. */
        stopping = strstr(line.data, "\"stopping\":true") != NULL;
        if (unfinished && stopping)
            fprintf(stderr, "vimeo-up: the agent stopped before its uploads settled (%" PRIu64 " of %" PRIu64
                    " unfinished); 'vimeo-up resume' continues\n", unfinished, done + failed + unfinished);
        else if (unfinished)
            fprintf(stderr, "vimeo-up: uploads unfinished (%" PRIu64 " of %" PRIu64 "), paused in the agent; "
                    "'vimeo-up attach' and R resumes them\n", unfinished, done + failed + unfinished);
        printf("%" PRIu64 " verified, %" PRIu64 " failed\n", done, failed);
        rc = failed ? EXIT_FAILED : unfinished ? EXIT_UNFINISHED : EXIT_OK;
    }
    json_free(&j);
    buf_free(&line);
    return rc;
}

/* The agent's process id, from its lock file; 0 when unknown. */
/* The agent is gone once its lock is free: it holds it until its process
 * ends. Not kill(pid, 0): an agent that exited is a zombie until init
 * reaps it, which can take seconds, or never in a container. */
static void wait_gone(const struct cli *cli)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/agent.lock", cli->state_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    for (double deadline = clock_mono() + 30; fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && clock_mono() < deadline;)
        usleep(20 * 1000);
    if (fd >= 0)
        close(fd); /* and the lock with it */
}

/* Stop: the agent answers, pauses, saves, and closes the connection last;
 * stop returns once its process is gone, so that a resume right after
 * finds the journal's rows free. */
static int command_stop(const struct cli *cli, int fd)
{
    struct buf line, in;
    buf_init(&line, OUT_MAX);
    buf_init(&in, OUT_MAX);
    bool ok = protocol_send(fd, "{\"cmd\":\"stop\"}") && protocol_read_line(fd, &in, &line);
    while (ok && protocol_read_line(fd, &in, &line))
        ;
    buf_free(&line);
    buf_free(&in);
    if (!ok)
        fprintf(stderr, "vimeo-up: the agent did not answer\n");
    if (ok)
        wait_gone(cli);
    return ok ? EXIT_OK : EXIT_CANNOT_START;
}

int agent_command(struct cli *cli)
{
    signal(SIGPIPE, SIG_IGN);
    int fd = connect_agent(cli, cli->command == CLI_ADD, cli->command == CLI_STOP);
    if (fd < 0)
        return EXIT_CANNOT_START;
    int rc;
    switch (cli->command) {
    case CLI_ADD: rc = command_add(cli, fd); break;
    case CLI_STATUS: rc = command_status(cli, fd); break;
    case CLI_WAIT: rc = command_wait(fd); break;
    default: rc = command_stop(cli, fd); break;
    }
    close(fd);
    fflush(stdout);
    return rc;
}

/* ---- attached ------------------------------------------------------------ */

/* Queue what the command line asks in the agent: its files, or (resume)
 * the journal's unfinished uploads. Refusals go to refusals, shown once
 * the dashboard has given the terminal back. */
static int queue_work(struct cli *cli, const struct source *src, struct buf *refusals, unsigned *refused)
{
    char err[4608], shown[4608];
    if (cli->command == CLI_RESUME) {
        char answer[4608];
        struct json j = { 0 };
        bool ok = source_agent_request(src, "{\"cmd\":\"add_unfinished\"}", answer, sizeof answer) &&
                  json_parse(&j, answer, strlen(answer));
        bool reason = ok && json_get_string(&j, json_find(&j, "reason"), err, sizeof err);
        json_free(&j);
        if (!ok || reason) {
            text_escape(ok ? err : "the agent did not answer", shown, sizeof shown);
            fprintf(stderr, "vimeo-up: %s\n", shown);
            return EXIT_CANNOT_START;
        }
        return EXIT_OK;
    }
    if (cli->command != CLI_UPLOAD)
        return EXIT_OK;
    int rc = refuse_options_it_keeps(cli);
    if (rc != EXIT_OK)
        return rc;
    struct buf request;
    buf_init(&request, 2 * PROTOCOL_LINE_MAX);
    char *answer = malloc(OUT_MAX);
    unsigned queued = 0, already = 0;
    rc = answer ? EXIT_OK : EXIT_CANNOT_START;
    for (int from = 0; rc == EXIT_OK && from < cli->nfiles;) {
        from = add_request(cli, from, &request);
        struct json j = { 0 };
        if (!request.overflowed && source_agent_request(src, request.data, answer, OUT_MAX) &&
            json_parse(&j, answer, strlen(answer))) {
            if (!count_added(&j, &queued, &already, refused, refusals))
                rc = EXIT_CANNOT_START;
        } else {
            rc = EXIT_CANNOT_START, fprintf(stderr, "vimeo-up: the agent did not answer\n");
        }
        json_free(&j);
    }
    free(answer);
    buf_free(&request);
    return rc;
}

/* The exit status of an attached run, and what to say about it. */
static int attached_end(struct cli *cli, const struct source *src, enum dashboard_end end, unsigned refused)
{
    unsigned done, failed, unfinished;
    count_outcome(src, cli->config.wait_transcode, &done, &failed, &unfinished);
    int sig = cli_signal_take();
    switch (end) {
    case DASHBOARD_HANGUP:
        return EXIT_UNFINISHED; /* a lost terminal detaches, silently */
    case DASHBOARD_SIGNAL:
        if (sig == SIGHUP)
            return EXIT_UNFINISHED;
        fprintf(stderr, "vimeo-up: detached on %s; the uploads go on in the agent ('vimeo-up attach')\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        return EXIT_INTERRUPTED;
    case DASHBOARD_DETACH:
        fprintf(stderr, "vimeo-up: detached; the uploads go on in the agent ('vimeo-up attach' brings the table "
                "back)\n");
        return EXIT_UNFINISHED;
    case DASHBOARD_GONE:
        if (!unfinished)
            break; /* every upload had ended: the run's outcome, as after q */
        fprintf(stderr, "vimeo-up: the agent stopped; 'vimeo-up resume' continues\n");
        return EXIT_UNFINISHED;
    case DASHBOARD_STOP: {
        char answer[256];
        source_agent_request(src, "{\"cmd\":\"stop\"}", answer, sizeof answer);
        while (!source_ended(src)) { /* its last act is closing the connection */
            struct pollfd p = { source_wakeup_fd(src), POLLIN, 0 };
            poll(&p, 1, 1000);
            source_wakeup_drain(src);
        }
        wait_gone(cli);
        fprintf(stderr, "vimeo-up: uploads unfinished, state saved (%u of %u); 'vimeo-up resume' continues\n",
                unfinished, done + failed + unfinished);
        return EXIT_UNFINISHED;
    }
    case DASHBOARD_QUIT:
        break;
    }
    if (!cli->json)
        printf("%u verified, %u failed\n", done, failed + refused);
    return failed || refused ? EXIT_FAILED : unfinished ? EXIT_UNFINISHED : EXIT_OK;
}

int agent_attach(struct cli *cli)
{
    signal(SIGPIPE, SIG_IGN);
    int fd = connect_agent(cli, cli->command != CLI_ATTACH, false);
    struct source src;
    if (fd < 0)
        return EXIT_CANNOT_START;
    if (!source_agent_open(&src, fd))
        return fprintf(stderr, "vimeo-up: the agent did not answer\n"), EXIT_CANNOT_START;
    struct buf refusals;
    buf_init(&refusals, 1 << 20);
    unsigned refused = 0;
    int rc = queue_work(cli, &src, &refusals, &refused);
    if (rc == EXIT_OK) {
        int signal_fd = cli_signal_pipe();
        dashboard_set_bell(cli->bell);
        headless_set_quiet(cli->quiet);
        enum dashboard_end end;
        if (!cli->json && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
            end = dashboard_run(&src, "the agent", signal_fd);
        else
            end = headless_run(&src, cli->json, false, signal_fd) ? DASHBOARD_SIGNAL
                  : source_ended(&src)                             ? DASHBOARD_GONE
                                                                   : DASHBOARD_QUIT;
        fputs(refusals.data ? refusals.data : "", stderr);
        rc = attached_end(cli, &src, end, refused);
    }
    buf_free(&refusals);
    source_agent_close(&src);
    fflush(stdout);
    return rc;
}
