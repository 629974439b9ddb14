#include "dashboard.h"

#include <curses.h>
#include <errno.h>
#include <glob.h>
#include <langinfo.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "runlog.h"
#include "text.h"
#include "util/clock.h"
#include "util/units.h"

enum { MIN_COLS = 50, MIN_LINES = 10, LOG_LINES = 6, DETAIL_LINES = 10, LOG_KEEP = 200, EVENT_BATCH = 64 };
enum { KEY_ESCAPE = 27 }; /* Esc as getch() gives it: cancels a prompt or an overlay */
static const double FRAME = 0.25; /* at most four frames a second while bytes move */
/* The overall rate is measured over this many seconds: per-upload rates
 * come and go with each small file, and an ETA from their sum jumps. */
static const double RATE_WINDOW = 5.0;
enum { RATE_SAMPLES = 128 };

/* Colour roles; each scheme maps them to attributes. */
enum role { ROLE_HEADER = 1, ROLE_TITLE, ROLE_SELECTED, ROLE_DONE, ROLE_FAILED, ROLE_PAUSED, ROLE_RETRYING,
            ROLE_ACKED, ROLE_SENT, ROLE_KEYBAR, ROLE_KEY, ROLE_MESSAGE, ROLE_COUNT };

enum mode { MODE_NORMAL, MODE_HELP, MODE_CONFIRM_QUIT, MODE_CONFIRM_REMOVE, MODE_CONFIRM_DELETE_VIDEO,
            MODE_PROMPT_ADD, MODE_PROMPT_FILTER, MODE_LOG_VIEW };

/* Row orders for s, in the order it steps through them. */
enum sort { SORT_QUEUE, SORT_STATE, SORT_NAME, SORT_PROGRESS, SORT_COUNT };
static const char *const sort_names[SORT_COUNT] = { "in queue order", "sorted by state", "sorted by name",
                                                    "sorted by progress" };

enum action { ACT_UP, ACT_DOWN, ACT_PAGE_UP, ACT_PAGE_DOWN, ACT_HOME, ACT_END, ACT_PAUSE, ACT_RESUME,
              ACT_PAUSE_ALL, ACT_RESUME_ALL, ACT_VERIFY, ACT_ADD, ACT_REMOVE, ACT_WORKERS_UP, ACT_WORKERS_DOWN,
              ACT_CAP_DOWN, ACT_CAP_UP, ACT_DETAILS, ACT_LOG, ACT_LOG_VIEW, ACT_FOLLOW, ACT_SORT, ACT_FILTER,
              ACT_REDRAW, ACT_HELP, ACT_QUIT };

/* The one key table: dispatch, the key bar and the help overlay all read it,
 * so they cannot disagree. */
static const struct binding {
    int keys[4];
    const char *label;   /* how the key is written */
    const char *bar;     /* short name in the key bar, NULL to leave it out */
    int rank;            /* order in the key bar: the bar fills up from rank 1 */
    const char *help;
    enum action action;
} bindings[] = {
    { { KEY_UP, 'k' }, "Up k", NULL, 0, "select the previous upload", ACT_UP },
    { { KEY_DOWN, 'j' }, "Down j", NULL, 0, "select the next upload", ACT_DOWN },
    { { KEY_PPAGE }, "PgUp", NULL, 0, "one page up", ACT_PAGE_UP },
    { { KEY_NPAGE }, "PgDn", NULL, 0, "one page down", ACT_PAGE_DOWN },
    { { KEY_HOME }, "Home", NULL, 0, "the first upload", ACT_HOME },
    { { KEY_END }, "End", NULL, 0, "the last upload", ACT_END },
    { { 'p', ' ' }, "p Space", "Pause", 3, "pause the selected upload", ACT_PAUSE },
    { { 'r' }, "r", "Resume", 4, "resume the selected upload", ACT_RESUME },
    { { 'P' }, "P", "PauseAll", 10, "pause every upload", ACT_PAUSE_ALL },
    { { 'R' }, "R", "ResumeAll", 11, "resume every upload", ACT_RESUME_ALL },
    { { 'v' }, "v", "Verify", 5, "re-verify the selected upload with HEAD now", ACT_VERIFY },
    { { 'a' }, "a", "Add", 6, "add files (Tab completes the path)", ACT_ADD },
    { { 'd' }, "d", "Remove", 7, "cancel and remove the selected upload (asks first)", ACT_REMOVE },
    { { '+' }, "+", NULL, 0, "one more worker", ACT_WORKERS_UP },
    { { '-' }, "-", NULL, 0, "one worker fewer", ACT_WORKERS_DOWN },
    { { '[' }, "[", NULL, 0, "lower the rate cap", ACT_CAP_DOWN },
    { { ']' }, "]", NULL, 0, "raise the rate cap", ACT_CAP_UP },
    { { '\n', KEY_ENTER, '\r' }, "Enter", "Details", 8, "show or hide the details of the selected upload", ACT_DETAILS },
    { { 'l' }, "l", "Log", 9, "show or hide the log of recent events", ACT_LOG },
    { { 'L' }, "L", NULL, 0, "the whole log (arrows, PgUp, PgDn, g, G scroll; Esc closes)", ACT_LOG_VIEW },
    { { 'f' }, "f", NULL, 0, "follow the active uploads (on at start, off when you move)", ACT_FOLLOW },
    { { 's' }, "s", NULL, 0, "sort by state, name, progress, or back to queue order", ACT_SORT },
    { { '/' }, "/", NULL, 0, "show only names containing a text (empty: all)", ACT_FILTER },
    { { 'L' & 0x1f }, "Ctrl-L", NULL, 0, "redraw the whole screen (after another program wrote on it)", ACT_REDRAW },
    { { '?' }, "?", "Help", 2, "this help", ACT_HELP },
    { { 'q' }, "q", "Quit", 1, "quit (asks while uploads are active; state is saved)", ACT_QUIT },
};

/* Rate cap steps for [ and ], bytes/s; 0 is no cap. */
static const uint64_t cap_steps[] = { 256 << 10, 512 << 10, 1 << 20, 2 << 20, 5 << 20, 10 << 20, 20 << 20,
                                      50 << 20, 100 << 20, 0 };

struct ui {
    const struct source *src;
    const char *endpoint;
    bool utf8, colour;
    enum mode mode;
    /* Every row, in the order shown; or, in queue order without a filter
     * (windowed()), the rows from position win_first on, around those
     * shown: 100,000 rows are not copied every frame. row_at() reads either. */
    struct engine_row *rows;   /* reused from frame to frame */
    size_t nrows, rows_cap;    /* nrows: rows in the table, the filter's only */
    size_t win_first, nwin;    /* rows[k] is the row at position win_first + k, k < nwin */
    size_t first_active;       /* windowed: the first active row's position; SIZE_MAX: none */
    struct engine_totals totals;
    unsigned selected_id;
    size_t selected, top;
    bool details, log;
    bool follow;               /* keep the selection on an active upload; off once the user moves */
    enum sort sort;
    char filter[256];          /* only rows whose shown name contains it (any case); "" for all */
    size_t all_rows;           /* rows before the filter */
    bool all_moving, all_active, all_finished; /* over every row, the filter aside */
    size_t log_scroll;         /* lines the full log view is scrolled up from the newest */
    char *log_lines[LOG_KEEP];
    size_t log_count;
    char message[512];
    char input[1024];
    size_t input_len;
    unsigned pending_verify;   /* the job whose verification result goes to the message line */
    struct rate_sample { double time; uint64_t moved; } samples[RATE_SAMPLES];
    size_t sample_first, sample_count;
    uint64_t moved, last_sent; /* bytes sent in all (never down), the engine's count at the last sample */
    double rate;               /* overall bytes/s over RATE_WINDOW; 0 when nothing moves */
    int names_width;           /* the widest name shown, for the layout */
    size_t names_measured;     /* the number of rows when it was measured */
    unsigned names_last_id;    /* the last row (in queue order) measured */
    bool dirty;
    bool more_news;             /* events left for want of time: the next frame takes more */
    enum dashboard_end end;    /* how a quit ends: QUIT, or the agent's DETACH or STOP */
    double last_draw;
    struct frame_stats { unsigned long frames; size_t rows; double cpu, cpu_first, cpu_max, wall, wall_max; } stats;
};

/* ---- colours ------------------------------------------------------------- */

static chtype role_attr[ROLE_COUNT];

static void colours_init(struct ui *ui)
{
    const char *no_colour = getenv("NO_COLOR");
    ui->colour = has_colors() && !(no_colour && *no_colour);
    if (ui->colour) {
        start_color();
        use_default_colors();
        static const short pairs[ROLE_COUNT][2] = {
            [ROLE_HEADER] = { COLOR_BLACK, COLOR_CYAN },  [ROLE_TITLE] = { COLOR_CYAN, -1 },
            [ROLE_SELECTED] = { COLOR_BLACK, COLOR_WHITE }, [ROLE_DONE] = { COLOR_GREEN, -1 },
            [ROLE_FAILED] = { COLOR_RED, -1 },            [ROLE_PAUSED] = { COLOR_YELLOW, -1 },
            [ROLE_RETRYING] = { COLOR_MAGENTA, -1 },      [ROLE_ACKED] = { COLOR_GREEN, -1 },
            [ROLE_SENT] = { COLOR_CYAN, -1 },             [ROLE_KEYBAR] = { COLOR_BLACK, COLOR_CYAN },
            [ROLE_KEY] = { COLOR_WHITE, COLOR_BLUE },     [ROLE_MESSAGE] = { COLOR_YELLOW, -1 },
        };
        for (int r = 1; r < ROLE_COUNT; r++) {
            init_pair((short)r, pairs[r][0], pairs[r][1]);
            role_attr[r] = COLOR_PAIR(r);
        }
        role_attr[ROLE_HEADER] |= A_BOLD;
        role_attr[ROLE_FAILED] |= A_BOLD;
    } else {
        /* Monochrome: attributes only. */
        role_attr[ROLE_HEADER] = A_REVERSE;
        role_attr[ROLE_TITLE] = A_BOLD;
        role_attr[ROLE_SELECTED] = A_REVERSE;
        role_attr[ROLE_FAILED] = A_BOLD;
        role_attr[ROLE_RETRYING] = A_BOLD;
        role_attr[ROLE_ACKED] = A_BOLD;
        role_attr[ROLE_KEYBAR] = A_REVERSE;
        role_attr[ROLE_KEY] = A_BOLD;
        role_attr[ROLE_MESSAGE] = A_BOLD;
    }
}

static chtype state_role(enum engine_state s)
{
    switch (s) {
    case ENGINE_DONE: return role_attr[ROLE_DONE];
    case ENGINE_FAILED: return role_attr[ROLE_FAILED];
    case ENGINE_PAUSED: return role_attr[ROLE_PAUSED];
    case ENGINE_RETRYING: return role_attr[ROLE_RETRYING];
    default: return A_NORMAL;
    }
}

/* ---- state ------------------------------------------------------------- */

static void log_add(struct ui *ui, const char *line)
{
    if (ui->log_count == LOG_KEEP) {
        free(ui->log_lines[0]);
        memmove(ui->log_lines, ui->log_lines + 1, (LOG_KEEP - 1) * sizeof ui->log_lines[0]);
        ui->log_count--;
    }
    ui->log_lines[ui->log_count] = strdup(line);
    if (ui->log_lines[ui->log_count]) {
        ui->log_count++;
        /* A scrolled log view stays on the lines being read. */
        if (ui->log_scroll)
            ui->log_scroll++;
    }
}

/* Bytes on their way: sent counts as soon as it is handed to the network
 * (as every peer shows it); done is the whole file. */
static uint64_t row_progress(const struct engine_row *r)
{
    if (r->state == ENGINE_DONE)
        return r->size;
    uint64_t p = r->sent > r->acked ? r->sent : r->acked;
    return p < r->size ? p : r->size;
}

/* Count the bytes that moved since the last frame into the window and
 * measure the overall rate over it. Finished files keep counting (their
 * bytes moved in the window); a sum that falls (a row removed, bytes sent
 * again after a cut) is not taken as negative progress. */
static void rate_sample(struct ui *ui, double now)
{
    /* Bytes sent, not offsets: those jump when a resume's HEAD finds what
     * the server had, and with a dashboard that just attached. */
    uint64_t progress = ui->totals.sent_bytes;
    if (ui->sample_count && progress > ui->last_sent)
        ui->moved += progress - ui->last_sent;
    ui->last_sent = progress;
    if (ui->sample_count == RATE_SAMPLES) {
        ui->sample_first = (ui->sample_first + 1) % RATE_SAMPLES;
        ui->sample_count--;
    }
    ui->samples[(ui->sample_first + ui->sample_count++) % RATE_SAMPLES] = (struct rate_sample){ now, ui->moved };
    while (ui->sample_count > 1 && ui->samples[ui->sample_first].time < now - RATE_WINDOW) {
        ui->sample_first = (ui->sample_first + 1) % RATE_SAMPLES;
        ui->sample_count--;
    }
    const struct rate_sample *oldest = &ui->samples[ui->sample_first];
    ui->rate = 0;
    if (!ui->totals.active)
        return;
    if (now - oldest->time >= FRAME)
        ui->rate = (double)(ui->moved - oldest->moved) / (now - oldest->time);
    else /* too soon to measure: the engine's own estimate */
        ui->rate = ui->totals.rate;
}

/* For the state order: what needs watching first, what is over last. */
static int state_rank(enum engine_state s)
{
    return engine_state_active(s) ? 0 : s == ENGINE_QUEUED ? 1 : s == ENGINE_PAUSED ? 2 : s == ENGINE_FAILED ? 3 : 4;
}

/* qsort_r's comparison; arg is the enum sort. Ties keep the queue order. */
static int row_compare(const void *pa, const void *pb, void *arg)
{
    const struct engine_row *a = pa, *b = pb;
    enum sort sort = *(const enum sort *)arg;
    int c = 0;
    if (sort == SORT_STATE)
        c = state_rank(a->state) - state_rank(b->state);
    else if (sort == SORT_NAME)
        c = strcmp(a->name, b->name);
    else if (sort == SORT_PROGRESS) {
        /* Furthest first. */
        double fa = a->size ? (double)row_progress(a) / (double)a->size : 1,
               fb = b->size ? (double)row_progress(b) / (double)b->size : 1;
        c = (fa < fb) - (fa > fb);
    }
    return c ? c : (a->id > b->id) - (a->id < b->id);
}

/* Keep the rows whose shown name contains the filter, in any case. */
static void filter_rows(struct ui *ui)
{
    if (!ui->filter[0])
        return;
    size_t kept = 0;
    for (size_t i = 0; i < ui->nrows; i++) {
        char name[512];
        text_escape_for(ui->rows[i].name, ui->utf8, name, sizeof name);
        if (strcasestr(name, ui->filter))
            ui->rows[kept++] = ui->rows[i];
    }
    ui->nrows = kept;
}

/* Queue order, no filter: the table is read a window at a time, around
 * the rows shown, with its totals; other orders and a filter need every
 * row, every frame. */
static bool windowed(const struct ui *ui)
{
    return ui->sort == SORT_QUEUE && !ui->filter[0];
}

/* Rows come without their texts unless a frame needs every name (a filter,
 * the name order, names to measure): fetch them for the rows shown. A
 * window's rows come whole. */
static void rows_need_texts(struct ui *ui, size_t first, size_t n)
{
    if (windowed(ui))
        return;
    size_t end = first + n < ui->nrows ? first + n : ui->nrows;
    for (size_t i = first; i < end; i++)
        if (!ui->rows[i].texts) {
            source_fill_texts(ui->src, &ui->rows[i], end - i);
            return;
        }
}

/* The first line below the table: the details and the log panes take the
 * lines above the message line and the key bar. */
static int pane_top(const struct ui *ui)
{
    int top = LINES - 2;
    if (ui->log)
        top -= LOG_LINES + 1;
    if (ui->details)
        top -= DETAIL_LINES;
    return top < 4 ? 4 : top;
}

/* Rows the table shows. */
static size_t table_rows(const struct ui *ui)
{
    return (size_t)(pane_top(ui) - 2);
}

/* Fill the table when it grows (a pane closed, a taller terminal), then
 * keep the selection in it. */
static void scroll_to_selection(struct ui *ui)
{
    size_t shown = table_rows(ui);
    if (ui->top + shown > ui->nrows)
        ui->top = ui->nrows > shown ? ui->nrows - shown : 0;
    if (ui->selected < ui->top)
        ui->top = ui->selected;
    if (ui->selected >= ui->top + shown)
        ui->top = ui->selected - shown + 1;
}

/* Read the window of three tables' worth of rows around position at (a
 * move of a page stays in it), with the totals; returns where the
 * selected upload is (SIZE_MAX: gone). Windowed only. */
static size_t read_window(struct ui *ui, size_t at)
{
    size_t shown = table_rows(ui), want = 3 * shown;
    if (ui->rows_cap < want || ui->rows_cap > 4 * want) {
        /* Back from an order that held every row: give that memory back. */
        free(ui->rows);
        ui->rows = malloc(want * sizeof *ui->rows);
        ui->rows_cap = ui->rows ? want : 0;
    }
    struct engine_window w = { .first = at > shown ? at - shown : 0, .max = ui->rows_cap, .find = ui->selected_id };
    ui->nwin = source_snapshot_window(ui->src, &w, ui->rows, &ui->totals);
    ui->win_first = w.first;
    ui->nrows = w.listed;
    ui->first_active = w.first_active;
    return w.found_at;
}

/* The row at position pos, read when it is not in the window; NULL past
 * the end of the table. */
static const struct engine_row *row_at(struct ui *ui, size_t pos)
{
    if (pos < ui->win_first || pos - ui->win_first >= ui->nwin) {
        if (!windowed(ui) || pos >= ui->nrows)
            return NULL;
        read_window(ui, pos);
        if (pos < ui->win_first || pos - ui->win_first >= ui->nwin)
            return NULL;
    }
    return &ui->rows[pos - ui->win_first];
}

/* Every row, filtered and sorted; returns where the selected upload is
 * (SIZE_MAX: gone). */
static size_t read_every_row(struct ui *ui)
{
    ui->nrows = source_snapshot_numbers(ui->src, &ui->rows, &ui->rows_cap, &ui->totals);
    if (ui->filter[0] || ui->sort == SORT_NAME || ui->names_measured != ui->nrows)
        ui->nrows = source_snapshot(ui->src, &ui->rows, &ui->rows_cap, &ui->totals);
    filter_rows(ui);
    if (ui->sort != SORT_QUEUE)
        qsort_r(ui->rows, ui->nrows, sizeof ui->rows[0], row_compare, &ui->sort);
    ui->win_first = 0;
    ui->nwin = ui->nrows;
    ui->first_active = SIZE_MAX;
    size_t found = SIZE_MAX;
    for (size_t i = 0; i < ui->nrows; i++) {
        if (ui->rows[i].id == ui->selected_id)
            found = i;
        if (ui->first_active == SIZE_MAX && engine_state_active(ui->rows[i].state))
            ui->first_active = i;
    }
    return found;
}

static void refresh_rows(struct ui *ui)
{
    size_t i = windowed(ui) ? read_window(ui, ui->top) : read_every_row(ui);
    rate_sample(ui, clock_mono());
    /* Over every row, a filter aside. */
    const struct engine_totals *t = &ui->totals;
    ui->all_rows = t->files;
    ui->all_moving = t->active > 0;
    ui->all_active = t->active + t->queued > 0;
    ui->all_finished = t->files > 0 && t->done + t->failed == t->files; /* a cancelled row is no row */
    /* Keep the selection on the same upload as rows come and go. */
    if (i == SIZE_MAX)
        i = ui->selected < ui->nrows ? ui->selected : ui->nrows ? ui->nrows - 1 : 0;
    /* Following: once the selected upload is over, go to the first active
     * one (a paused one stays: it may be resumed). */
    const struct engine_row *r = row_at(ui, i);
    if (ui->follow && r && (r->state == ENGINE_DONE || r->state == ENGINE_FAILED) && ui->first_active != SIZE_MAX)
        i = ui->first_active;
    ui->selected = i;
    r = row_at(ui, i);
    ui->selected_id = r ? r->id : 0;
    if (windowed(ui)) {
        /* The rows drawn must be in the window. */
        scroll_to_selection(ui);
        size_t last = ui->top + table_rows(ui);
        if (ui->top < ui->win_first || (last < ui->nrows ? last : ui->nrows) > ui->win_first + ui->nwin)
            read_window(ui, ui->top);
    }
}

static const struct engine_row *selected_row(struct ui *ui)
{
    if (!ui->nrows)
        return NULL;
    rows_need_texts(ui, ui->selected, 1);
    return row_at(ui, ui->selected);
}

/* Seconds of events (and the --on-done hooks they start) taken at once:
 * 20,000 done files with a hook each kept the first frame and every key
 * waiting for all of them. */
static const double TAKE_BUDGET = 0.1;

/* True when the budget ran out with events still waiting. */
static bool take_events(struct ui *ui)
{
    struct engine_event events[EVENT_BATCH];
    size_t n;
    double until = clock_mono() + TAKE_BUDGET;
    while ((n = source_events(ui->src, events, EVENT_BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct engine_details d;
            char name[256], message[512], line[900], stamp[16];
            if (!source_details(ui->src, events[i].job, &d))
                continue;
            text_escape_for(d.row.name, ui->utf8, name, sizeof name);
            text_escape_for(events[i].message, ui->utf8, message, sizeof message);
            time_t t = (time_t)events[i].time;
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
            snprintf(line, sizeof line, "%s %-8s %s%s%s", stamp, engine_event_name(events[i].kind), name,
                     message[0] ? ": " : "", message);
            log_add(ui, line);
            runlog_event(&events[i], d.row.name);
            if (ui->src->engine)
                hook_event(ui->src->engine, &events[i]);
            if (events[i].kind == ENGINE_EV_VERIFIED && events[i].job == ui->pending_verify) {
                snprintf(ui->message, sizeof ui->message, "verify %.100s: %.380s", name, message);
                ui->pending_verify = 0;
            }
        }
        if (clock_mono() >= until)
            return true;
    }
    return false;
}

/* Events and -v lines since the last call; true when the source has
 * ended (the agent went away). Events left over for want of time wait for
 * the next frame. */
static bool take_news(struct ui *ui)
{
    source_wakeup_drain(ui->src);
    if (take_events(ui))
        ui->more_news = true;
    char request[1200];
    while (runlog_take(request, sizeof request))
        log_add(ui, request); /* -v */
    return source_ended(ui->src);
}

/* ---- drawing ----------------------------------------------------------- */

static void put(int y, int x, chtype attr, const char *text)
{
    attron(attr);
    mvaddstr(y, x, text);
    attroff(attr);
}

static void fill_line(int y, chtype attr)
{
    mvhline(y, 0, ' ' | attr, COLS);
}

static void draw_header(struct ui *ui)
{
    char moved[16], total[16], rate[16], eta[16], cap[24], line[700];
    const struct engine_totals *t = &ui->totals;
    /* Bytes sent, as the rows' percent counts them: acknowledged bytes
     * stay at 0 through a whole chunk, however fast it goes. */
    units_format_size(t->moved, moved, sizeof moved);
    units_format_size(t->bytes, total, sizeof total);
    units_format_size((uint64_t)ui->rate, rate, sizeof rate);
    uint64_t left = t->bytes > t->moved ? t->bytes - t->moved : 0;
    units_format_duration(ui->rate > 0 ? (double)left / ui->rate : -1, eta, sizeof eta);
    if (t->rate_limit) {
        units_format_size(t->rate_limit, cap, sizeof cap);
        strcat(cap, "/s");
    } else {
        strcpy(cap, "none");
    }
    /* In the order shown, each with its rank: a narrow terminal leaves out
     * the highest ranks first, so done of all, the rate and the time left
     * stay longest; the endpoint goes first. */
    char parts[8][300];
    static const int ranks[8] = { 1, 5, 6, 4, 2, 3, 7, 8 };
    snprintf(parts[0], sizeof parts[0], " %u/%u done", t->done, t->files);
    snprintf(parts[1], sizeof parts[1], "  workers %u", t->workers);
    snprintf(parts[2], sizeof parts[2], "  cap %s", cap);
    snprintf(parts[3], sizeof parts[3], "  %s/%s", moved, total);
    snprintf(parts[4], sizeof parts[4], "  %s/s", rate);
    snprintf(parts[5], sizeof parts[5], "  ETA %s", eta);
    snprintf(parts[6], sizeof parts[6], "  vimeo-up");
    snprintf(parts[7], sizeof parts[7], "  %.200s", ui->endpoint);
    char failed[32] = "";
    if (t->failed)
        snprintf(failed, sizeof failed, " %u failed ", t->failed);
    int room = COLS - (int)strlen(failed); /* the failed count keeps its corner */
    int keep = 8, width = 0;
    for (int i = 0; i < 8; i++)
        width += text_width(parts[i]);
    while (keep > 1 && width > room) {
        for (int i = 0; i < 8; i++)
            if (ranks[i] == keep)
                width -= text_width(parts[i]);
        keep--;
    }
    line[0] = '\0';
    for (int i = 0; i < 8; i++)
        if (ranks[i] <= keep)
            strncat(line, parts[i], sizeof line - strlen(line) - 1);
    fill_line(0, role_attr[ROLE_HEADER]);
    mvaddnstr(0, 0, line, room > 0 ? room : COLS);
    if (failed[0] && room > 0)
        put(0, room, role_attr[ROLE_FAILED] | A_REVERSE, failed);
}

struct columns {
    int name, size, bar, pct, rate, eta, state, video;
    int transcode;             /* "transcoding", "available", "transcode error" of a done video */
};

enum { TRANSCODE_WIDTH = 15 };

static int name_width(const struct ui *ui, const struct engine_row *r)
{
    char name[512];
    text_escape_for(r->name, ui->utf8, name, sizeof name);
    return text_width(name);
}

/* Windowed: the widest name of the rows from position first on, read
 * 8,192 at a time (3 MB), not 100,000 rows' texts at once (37 MB). The first chunk
 * also says where the last row measured is now (*last_at). */
static void measure_names_from(struct ui *ui, size_t first, size_t *last_at)
{
    enum { CHUNK = 8192 };
    struct engine_row *chunk = malloc(CHUNK * sizeof *chunk);
    if (!chunk)
        return;
    struct engine_totals totals;
    size_t n;
    do {
        struct engine_window w = { .first = first, .max = CHUNK, .find = ui->names_last_id };
        n = source_snapshot_window(ui->src, &w, chunk, &totals);
        if (last_at) {
            *last_at = w.found_at;
            last_at = NULL;
        }
        for (size_t i = 0; i < n; i++) {
            int width = name_width(ui, &chunk[i]);
            ui->names_width = width > ui->names_width ? width : ui->names_width;
            ui->names_last_id = chunk[i].id;
        }
        first += n;
        ui->names_measured = first;
    } while (n == CHUNK);
    free(chunk);
}

/* The widest name as shown (escaped), measured again only when the rows
 * change in number: 10,000 names are not measured every frame. Windowed,
 * only the rows added at the end since are measured, unless rows went. */
static int names_width(struct ui *ui)
{
    if (ui->names_measured == ui->nrows)
        return ui->names_width;
    if (windowed(ui)) {
        size_t measured = ui->names_measured, last_at = SIZE_MAX;
        if (ui->names_last_id)
            measure_names_from(ui, measured, &last_at);
        if (!ui->names_last_id || last_at + 1 != measured) {
            ui->names_width = 0;
            ui->names_last_id = 0;
            measure_names_from(ui, 0, NULL);
        }
        return ui->names_width;
    }
    ui->names_width = 0;
    for (size_t i = 0; i < ui->nrows; i++) {
        int width = name_width(ui, &ui->rows[i]);
        ui->names_width = width > ui->names_width ? width : ui->names_width;
        ui->names_last_id = ui->rows[i].id > ui->names_last_id ? ui->rows[i].id : ui->names_last_id;
    }
    ui->names_measured = ui->nrows;
    return ui->names_width;
}

/* Names first: they tell the rows apart. When they do not fit, the ETA,
 * the rate, the bar and the size give way in that order (the header keeps
 * the totals); the bar takes what is left. */
static struct columns layout(struct ui *ui)
{
    struct columns c = { .size = 9, .bar = 6, .pct = 5, .rate = 10, .eta = 8, .state = 13,
                         .video = COLS >= 100 ? 19 : 0, .transcode = COLS >= 100 ? TRANSCODE_WIDTH : 0 };
    int want = names_width(ui);
    want = want < 4 ? 4 : want > 60 ? 60 : want;
    int *optional[] = { &c.transcode, &c.eta, &c.rate, &c.bar, &c.size };
    for (size_t drop = 0;; drop++) {
        int fixed = 0;
        const int widths[] = { c.size, c.bar, c.pct, c.rate, c.eta, c.state, c.transcode, c.video };
        for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
            fixed += widths[i] ? widths[i] + 1 : 0;
        c.name = COLS - fixed;
        if (c.name >= (want < 20 ? want : 20) || drop == sizeof optional / sizeof optional[0])
            break;
        *optional[drop] = 0;
    }
    if (!c.transcode && c.name > want + TRANSCODE_WIDTH) {
        /* Room to spare on a narrower terminal: the transcode column too. */
        c.transcode = TRANSCODE_WIDTH;
        c.name -= TRANSCODE_WIDTH + 1;
    }
    if (c.bar && c.name > want) {
        c.bar += c.name - want;
        c.name = want;
    }
    return c;
}

/* A run of n cells of one glyph in one call: a bar drawn a glyph at a time
 * made ncurses decode each UTF-8 glyph again, half of a frame's time. */
static void bar_run(const struct ui *ui, int y, int x, int n, wchar_t glyph, chtype ascii, chtype attr)
{
    if (n <= 0)
        return;
    if (ui->utf8) {
        cchar_t cell;
        setcchar(&cell, (wchar_t[]){ glyph, L'\0' }, attr & ~A_COLOR, (short)PAIR_NUMBER(attr), NULL);
        mvhline_set(y, x, &cell, n);
    } else
        mvhline(y, x, ascii | attr, n);
}

/* How far along bytes of r are, 0 to 1. An empty file (or a refused one,
 * whose size is unknown) is all there only once done. */
static double row_fraction(const struct engine_row *r, uint64_t bytes)
{
    return r->size ? (double)bytes / (double)r->size : r->state == ENGINE_DONE;
}

static void draw_bar(struct ui *ui, int y, int x, int width, const struct engine_row *r)
{
    int acked = (int)((double)width * row_fraction(r, r->acked));
    int sent = (int)((double)width * row_fraction(r, r->sent));
    if (sent < acked)
        sent = acked;
    bar_run(ui, y, x, acked, L'\u2588', '#', role_attr[ROLE_ACKED]);
    bar_run(ui, y, x + acked, sent - acked, L'\u2592', '=', role_attr[ROLE_SENT]);
    bar_run(ui, y, x + sent, width - sent, L'\u2591', '.', A_NORMAL);
    move(y, x + width);
}

static void state_text(const struct engine_row *r, char *out, size_t cap)
{
    if (r->state == ENGINE_RETRYING)
        snprintf(out, cap, "retrying %.0fs", ceil(r->retry_in));
    else
        snprintf(out, cap, "%s", engine_state_name(r->state));
}

/* One cell of a row or the title line at *x, then past it and its space;
 * nothing for a column left out (width 0). */
static void put_cell(int y, int *x, int width, bool right, chtype attr, const char *text)
{
    char cell[128];
    if (!width)
        return;
    snprintf(cell, sizeof cell, right ? "%*.*s" : "%-*.*s", width, width, text);
    put(y, *x, attr, cell);
    *x += width + 1;
}

static void draw_row(struct ui *ui, int y, const struct engine_row *r, bool selected, const struct columns *c)
{
    char name[256], fitted[1100], size[16], pct[8], rate[16] = "", eta[16], state[32];
    chtype base = selected ? role_attr[ROLE_SELECTED] : A_NORMAL;
    fill_line(y, base);
    text_escape_for(r->name, ui->utf8, name, sizeof name);
    text_fit(name, c->name, ui->utf8, TEXT_CUT_MIDDLE, fitted, sizeof fitted);
    put(y, 0, base, fitted);
    int x = c->name + 1;
    units_format_size(r->size, size, sizeof size);
    put_cell(y, &x, c->size, true, base, size);
    if (c->bar) {
        draw_bar(ui, y, x, c->bar, r);
        x += c->bar + 1;
    }
    /* Bytes sent, as the bar's lighter part shows; 100% only once the HEAD
     * proved it. */
    double percent = floor(100.0 * row_fraction(r, row_progress(r)));
    if (r->state != ENGINE_DONE && percent > 99)
        percent = 99;
    snprintf(pct, sizeof pct, "%3.0f%%", percent);
    put_cell(y, &x, c->pct, true, base, pct);
    if (r->rate > 0) {
        units_format_size((uint64_t)r->rate, rate, sizeof rate);
        strcat(rate, "/s");
    }
    put_cell(y, &x, c->rate, true, base, rate);
    units_format_duration(r->rate > 0 ? (double)(r->size - row_progress(r)) / r->rate : -1, eta, sizeof eta);
    put_cell(y, &x, c->eta, true, base, r->state == ENGINE_UPLOADING ? eta : "");
    state_text(r, state, sizeof state);
    put_cell(y, &x, c->state, false, selected ? base : state_role(r->state), state);
    put_cell(y, &x, c->transcode, false,
             !selected && r->transcode == ENGINE_TRANSCODE_ERROR ? role_attr[ROLE_FAILED] : base,
             engine_transcode_name(r->transcode));
    if (c->video && x < COLS)
        put_cell(y, &x, COLS - x < c->video ? COLS - x : c->video, false, base, r->video);
}

static void draw_text_line(struct ui *ui, int y, chtype attr, const char *text)
{
    char escaped[1024], fitted[4200];
    text_escape_for(text, ui->utf8, escaped, sizeof escaped);
    text_fit(escaped, COLS, ui->utf8, TEXT_CUT_END, fitted, sizeof fitted);
    put(y, 0, attr, fitted);
}

static void draw_details(struct ui *ui, int y)
{
    const struct engine_row *r = selected_row(ui);
    struct engine_details d;
    char sent[16], acked[16], size[16], started[32] = "-", finished[32] = "-";
    put(y, 0, role_attr[ROLE_TITLE] | A_BOLD, "Details");
    if (!r || !source_details(ui->src, r->id, &d))
        return;
    units_format_size(d.row.sent, sent, sizeof sent);
    units_format_size(d.row.acked, acked, sizeof acked);
    units_format_size(d.row.size, size, sizeof size);
    for (int k = 0; k < 2; k++) {
        double when = k ? d.row.finished : d.row.started;
        if (when > 0) {
            time_t t = (time_t)when;
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(k ? finished : started, sizeof started, "%Y-%m-%d %H:%M:%S", &tm);
        }
    }
    enum { N = DETAIL_LINES - 1 };
    char l[N][4200];
    snprintf(l[0], sizeof l[0], "path      %s", d.path);
    snprintf(l[1], sizeof l[1], "video     %s", d.row.video[0] ? d.row.video : "-");
    snprintf(l[2], sizeof l[2], "page      %s", d.page[0] ? d.page : "-");
    snprintf(l[3], sizeof l[3], "upload    %s", d.upload_link[0] ? d.upload_link : "-");
    snprintf(l[4], sizeof l[4], "offsets   sent %s (%llu), acknowledged %s (%llu) of %s; retries %u", sent,
             (unsigned long long)d.row.sent, acked, (unsigned long long)d.row.acked, size, d.row.retries);
    snprintf(l[5], sizeof l[5], "times     started %s, finished %s", started, finished);
    snprintf(l[6], sizeof l[6], "verified  %s", d.verified[0] ? d.verified : "-");
    /* A note ("already uploaded as ...", "confirming ...") is no error. */
    snprintf(l[7], sizeof l[7], "%s%s", !d.error[0] && d.note[0] ? "note      " : "error     ",
             d.error[0] ? d.error : d.note[0] ? d.note : "-");
    snprintf(l[8], sizeof l[8], "transcode %s", d.row.transcode ? engine_transcode_name(d.row.transcode) : "-");
    for (int i = 0; i < N && y + 1 + i < LINES - 2; i++)
        draw_text_line(ui, y + 1 + i, A_NORMAL, l[i]);
}

/* The log from y on, height lines with its title; scrolled up by
 * ui->log_scroll lines from the newest (the pane: 0). */
static void draw_log(struct ui *ui, int y, int height, size_t scroll, const char *title)
{
    put(y, 0, role_attr[ROLE_TITLE] | A_BOLD, title);
    size_t lines = (size_t)(height - 1);
    size_t end = ui->log_count > scroll ? ui->log_count - scroll : 0;
    size_t first = end > lines ? end - lines : 0;
    for (size_t i = first; i < end; i++)
        draw_text_line(ui, y + 1 + (int)(i - first), A_NORMAL, ui->log_lines[i]);
}

/* How far the full log view can scroll up: the oldest line at its top. */
static size_t log_scroll_max(const struct ui *ui)
{
    size_t lines = LINES > 4 ? (size_t)LINES - 4 : 1;
    return ui->log_count > lines ? ui->log_count - lines : 0;
}

static void draw_keybar(void)
{
    int y = LINES - 1, x = 0;
    fill_line(y, role_attr[ROLE_KEYBAR]);
    for (int rank = 1;; rank++) {
        const struct binding *b = NULL;
        for (size_t i = 0; i < sizeof bindings / sizeof bindings[0] && !b; i++)
            if (bindings[i].rank == rank)
                b = &bindings[i];
        if (!b)
            break;
        char key[8];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(b->label, " "), b->label);
        int need = (int)strlen(key) + (int)strlen(b->bar) + 1;
        if (x + need > COLS)
            break;
        put(y, x, role_attr[ROLE_KEY], key);
        put(y, x + (int)strlen(key), role_attr[ROLE_KEYBAR], b->bar);
        x += need;
    }
}

static void draw_message(struct ui *ui)
{
    int y = LINES - 2;
    char text[1200];
    switch (ui->mode) {
    case MODE_CONFIRM_QUIT:
        if (ui->src->remote)
            /* Short enough for 80 columns; leaving says how to come back. */
            snprintf(text, sizeof text, "Uploads active: d detach (they go on), s stop (saved for resume), Esc "
                     "cancels");
        else
            snprintf(text, sizeof text, "Uploads are active. Quit? Progress is saved; 'vimeo-up resume' continues. (y/n)");
        break;
    case MODE_CONFIRM_REMOVE: {
        const struct engine_row *r = selected_row(ui);
        char name[256];
        text_escape_for(r ? r->name : "", ui->utf8, name, sizeof name);
        snprintf(text, sizeof text, "Remove %s from the queue? (y/n)", name);
        break;
    }
    case MODE_CONFIRM_DELETE_VIDEO:
        snprintf(text, sizeof text, "Also delete its video on the server? (y/n)");
        break;
    case MODE_PROMPT_ADD:
    case MODE_PROMPT_FILTER: {
        char shown[1100];
        text_escape_for(ui->input, ui->utf8, shown, sizeof shown);
        snprintf(text, sizeof text, "%s: %s", ui->mode == MODE_PROMPT_ADD ? "Add file" : "Filter", shown);
        break;
    }
    default:
        if (ui->all_finished) {
            /* Otherwise the run ends with an open dashboard and no word. */
            const char *dash = ui->utf8 ? "\xe2\x80\x94" : "-";
            /* Done videos Vimeo is still transcoding: "all done" alone
             * would read as if they could be watched already. */
            size_t busy = ui->totals.transcoding;
            char still[64] = "";
            if (busy)
                snprintf(still, sizeof still, ", %zu still transcoding on Vimeo", busy);
            snprintf(text, sizeof text, "%s%sall done%s %s q quits", ui->message, ui->message[0] ? "; " : "", still,
                     dash);
        } else {
            snprintf(text, sizeof text, "%s", ui->message);
        }
        if (ui->filter[0]) {
            size_t n = strlen(text);
            snprintf(text + n, sizeof text - n, "%sfilter: %s (%zu of %zu)", n ? "; " : "", ui->filter, ui->nrows,
                     ui->all_rows);
        }
        break;
    }
    fill_line(y, A_NORMAL);
    char fitted[5000];
    text_fit(text, COLS, ui->utf8, TEXT_CUT_END, fitted, sizeof fitted);
    put(y, 0, role_attr[ROLE_MESSAGE], fitted);
    if (ui->mode == MODE_PROMPT_ADD || ui->mode == MODE_PROMPT_FILTER) {
        curs_set(1);
        move(y, text_width(text) < COLS ? text_width(text) : COLS - 1);
    } else {
        curs_set(0);
    }
}

static void draw_help(struct ui *ui)
{
    /* One column when it fits the height, else two side by side (texts cut):
     * every key stays on screen on a 24-line terminal. */
    int keys = (int)(sizeof bindings / sizeof bindings[0]);
    int columns = keys + 4 <= LINES || COLS < 60 ? 1 : 2;
    int per_column = (keys + columns - 1) / columns, rows = per_column + 4;
    int width = columns == 1 ? (76 < COLS ? 76 : COLS) : COLS;
    int column_width = (width - 4) / columns;
    int top = LINES > rows ? (LINES - rows) / 2 : 0, left = (COLS - width) / 2;
    for (int y = 0; y < rows && top + y < LINES; y++) {
        attron(A_REVERSE);
        mvhline(top + y, left, ' ', width);
        attroff(A_REVERSE);
    }
    put(top + 1, left + 2, A_REVERSE | A_BOLD, "Keys");
    for (int i = 0; i < keys && top + 2 + i % per_column < LINES; i++) {
        char line[160], fitted[700];
        snprintf(line, sizeof line, "%-10s %s", bindings[i].label, bindings[i].help);
        text_fit(line, column_width - 2, ui->utf8, TEXT_CUT_END, fitted, sizeof fitted);
        put(top + 2 + i % per_column, left + 2 + i / per_column * column_width, A_REVERSE, fitted);
    }
    if (top + rows - 1 < LINES)
        put(top + rows - 1, left + 2, A_REVERSE, "any key closes this help");
}

static void draw(struct ui *ui)
{
    erase();
    if (COLS < MIN_COLS || LINES < MIN_LINES) {
        /* The longest of these that fits, never a cut one. */
        char texts[3][96];
        snprintf(texts[0], sizeof texts[0], "terminal too small: %dx%d, need %dx%d", COLS, LINES, MIN_COLS,
                 MIN_LINES);
        snprintf(texts[1], sizeof texts[1], "too small: %dx%d", COLS, LINES);
        snprintf(texts[2], sizeof texts[2], "too small");
        for (int i = 0; i < 3; i++) {
            if ((int)strlen(texts[i]) <= COLS || i == 2) {
                mvaddnstr(0, 0, texts[i], COLS);
                break;
            }
        }
        refresh();
        return;
    }
    draw_header(ui);
    if (ui->mode == MODE_LOG_VIEW) {
        char title[160];
        if (ui->log_scroll > log_scroll_max(ui))
            ui->log_scroll = log_scroll_max(ui);
        snprintf(title, sizeof title, "Log: %zu lines%s; Up Down PgUp PgDn Home End g G scroll, Esc closes",
                 ui->log_count, ui->log_scroll ? "" : " (newest at the bottom)");
        draw_log(ui, 1, LINES - 3, ui->log_scroll, title);
        draw_message(ui);
        draw_keybar();
        refresh();
        return;
    }
    struct columns c = layout(ui);
    /* Cell by cell as draw_row() places them, so each title stands over its column. */
    chtype title = role_attr[ROLE_TITLE] | A_BOLD;
    int x = 0;
    fill_line(1, A_NORMAL);
    put_cell(1, &x, c.name, false, title, "NAME");
    put_cell(1, &x, c.size, true, title, "SIZE");
    put_cell(1, &x, c.bar, false, title, "PROGRESS");
    put_cell(1, &x, c.pct, true, title, "%");
    put_cell(1, &x, c.rate, true, title, "RATE");
    put_cell(1, &x, c.eta, false, title, "ETA");
    put_cell(1, &x, c.state, false, title, "STATE");
    put_cell(1, &x, c.transcode, false, title, "TRANSCODE");
    if (c.video && x < COLS)
        put_cell(1, &x, COLS - x < c.video ? COLS - x : c.video, false, title, "VIDEO");

    int bottom = LINES - 2; /* message line, then key bar */
    size_t shown = table_rows(ui);
    scroll_to_selection(ui);
    rows_need_texts(ui, ui->top, shown);
    for (size_t i = 0; i < shown; i++) {
        const struct engine_row *r = row_at(ui, ui->top + i);
        if (!r)
            break;
        draw_row(ui, 2 + (int)i, r, ui->top + i == ui->selected, &c);
    }
    if (ui->nrows == 0)
        mvaddstr(2, 0, ui->all_rows ? "no upload matches the filter: / then Enter shows all"
                                    : "no uploads: press a to add files");
    int y = pane_top(ui);
    if (ui->details && y < bottom) {
        draw_details(ui, y);
        y += DETAIL_LINES;
    }
    if (ui->log && y < bottom)
        draw_log(ui, y, bottom - y, 0, "Log");
    draw_message(ui);
    draw_keybar();
    if (ui->mode == MODE_HELP)
        draw_help(ui);
    refresh();
}

/* ---- keys ---------------------------------------------------------------- */

static void step_cap(struct ui *ui, int direction)
{
    uint64_t cap = ui->totals.rate_limit;
    size_t none = sizeof cap_steps / sizeof cap_steps[0] - 1, i = none;
    /* i: the first step at or above the current cap; "none" is the top. */
    if (cap)
        for (i = 0; i < none && cap_steps[i] < cap; i++)
            ;
    if (direction > 0 && cap && i < none && cap_steps[i] == cap)
        i++;
    else if (direction < 0 && i > 0)
        i--;
    source_set_rate_limit(ui->src, cap_steps[i]);
    char text[32] = "none";
    if (cap_steps[i]) {
        units_format_size(cap_steps[i], text, sizeof text);
        strcat(text, "/s");
    }
    snprintf(ui->message, sizeof ui->message, "rate cap: %s", text);
}

static void complete_path(struct ui *ui)
{
    char pattern[1100];
    snprintf(pattern, sizeof pattern, "%s*", ui->input);
    glob_t g;
    if (glob(pattern, GLOB_MARK | GLOB_TILDE, NULL, &g) != 0) {
        snprintf(ui->message, sizeof ui->message, "no match");
        return;
    }
    /* The longest common prefix of the matches. */
    size_t common = strlen(g.gl_pathv[0]);
    for (size_t i = 1; i < g.gl_pathc; i++) {
        size_t k = 0;
        while (k < common && g.gl_pathv[i][k] == g.gl_pathv[0][k])
            k++;
        common = k;
    }
    if (common >= strlen(ui->input) && common < sizeof ui->input) {
        memcpy(ui->input, g.gl_pathv[0], common);
        ui->input[common] = '\0';
        ui->input_len = common;
    }
    if (g.gl_pathc > 1)
        snprintf(ui->message, sizeof ui->message, "%zu matches", g.gl_pathc);
    globfree(&g);
}

static void add_input_files(struct ui *ui)
{
    glob_t g;
    char err[600];
    if (glob(ui->input, GLOB_TILDE | GLOB_NOCHECK, NULL, &g) != 0) {
        snprintf(ui->message, sizeof ui->message, "cannot read that path");
        return;
    }
    unsigned added = 0, known = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        bool is_new;
        if (source_add(ui->src, g.gl_pathv[i], &is_new, err, sizeof err))
            is_new ? added++ : known++;
        else
            text_escape_for(err, ui->utf8, ui->message, sizeof ui->message);
    }
    if (added || known)
        snprintf(ui->message, sizeof ui->message, "added %u file%s%s%.0u%s", added, added == 1 ? "" : "s",
                 known ? "; " : "", known, known ? " already queued" : "");
    globfree(&g);
}

/* A command that did nothing says why, naming the row. */
static void say_why_not(struct ui *ui, const struct engine_row *r, const char *why)
{
    if (!why)
        return;
    char name[256];
    text_escape_for(r->name, ui->utf8, name, sizeof name);
    snprintf(ui->message, sizeof ui->message, "%s: %s", name, why);
}

/* A key typed at a prompt: a character, or Backspace. */
static void edit_input(struct ui *ui, int ch)
{
    if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && ui->input_len) {
        ui->input[--ui->input_len] = '\0';
    } else if (ch >= 0x20 && ch < 0x100 && ch != 127 && ui->input_len + 1 < sizeof ui->input) {
        ui->input[ui->input_len++] = (char)ch;
        ui->input[ui->input_len] = '\0';
    }
}

/* Returns true when the dashboard should end (quit). */
static bool handle_prompt_key(struct ui *ui, int ch)
{
    switch (ui->mode) {
    case MODE_CONFIRM_QUIT:
        if (ui->src->remote) {
            if (ch == 'd' || ch == 's' || ch == KEY_ESCAPE)
                ui->mode = MODE_NORMAL;
            if (ch == 'd' || ch == 's')
                ui->end = ch == 'd' ? DASHBOARD_DETACH : DASHBOARD_STOP;
            return ch == 'd' || ch == 's';
        }
        ui->mode = MODE_NORMAL;
        return ch == 'y' || ch == 'Y';
    case MODE_CONFIRM_REMOVE:
        ui->mode = ch == 'y' || ch == 'Y' ? MODE_CONFIRM_DELETE_VIDEO : MODE_NORMAL;
        return false;
    case MODE_CONFIRM_DELETE_VIDEO: {
        const struct engine_row *r = selected_row(ui);
        if (r && (ch == 'y' || ch == 'Y' || ch == 'n' || ch == 'N')) {
            source_cancel(ui->src, r->id, ch == 'y' || ch == 'Y');
            snprintf(ui->message, sizeof ui->message, "removed%s", ch == 'y' || ch == 'Y' ? "; video deleted" : "");
            ui->mode = MODE_NORMAL;
        } else if (ch == KEY_ESCAPE) {
            ui->mode = MODE_NORMAL;
        }
        return false;
    }
    case MODE_PROMPT_ADD:
    case MODE_PROMPT_FILTER:
        if (ch == KEY_ESCAPE) {
            ui->mode = MODE_NORMAL;
        } else if ((ch == '\n' || ch == '\r' || ch == KEY_ENTER) && ui->mode == MODE_PROMPT_ADD) {
            ui->mode = MODE_NORMAL;
            if (ui->input_len)
                add_input_files(ui);
        } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
            ui->mode = MODE_NORMAL;
            snprintf(ui->filter, sizeof ui->filter, "%.*s", (int)sizeof ui->filter - 1, ui->input);
            refresh_rows(ui);
        } else if (ch == '\t' && ui->mode == MODE_PROMPT_ADD) {
            complete_path(ui);
        } else {
            edit_input(ui, ch);
        }
        return false;
    case MODE_LOG_VIEW: {
        size_t page = LINES > 6 ? (size_t)LINES - 6 : 1, top = log_scroll_max(ui);
        if (ch == KEY_UP || ch == 'k')
            ui->log_scroll = ui->log_scroll < top ? ui->log_scroll + 1 : top;
        else if (ch == KEY_DOWN || ch == 'j')
            ui->log_scroll = ui->log_scroll ? ui->log_scroll - 1 : 0;
        else if (ch == KEY_PPAGE)
            ui->log_scroll = ui->log_scroll + page < top ? ui->log_scroll + page : top;
        else if (ch == KEY_NPAGE)
            ui->log_scroll = ui->log_scroll > page ? ui->log_scroll - page : 0;
        else if (ch == KEY_HOME || ch == 'g')
            ui->log_scroll = top;
        else if (ch == KEY_END || ch == 'G')
            ui->log_scroll = 0;
        else if (ch == KEY_ESCAPE || ch == 'L' || ch == 'q')
            ui->mode = MODE_NORMAL;
        return false;
    }
    case MODE_HELP:
        ui->mode = MODE_NORMAL;
        return false;
    default:
        return false;
    }
}

static bool handle_key(struct ui *ui, int ch)
{
    ui->dirty = true;
    if (ch == KEY_RESIZE)
        return false; /* ncurses' resizeterm() already repaints everything */
    if (ui->mode != MODE_NORMAL)
        return handle_prompt_key(ui, ch);
    const struct binding *b = NULL;
    for (size_t i = 0; i < sizeof bindings / sizeof bindings[0] && !b; i++)
        for (int k = 0; k < 4; k++)
            if (bindings[i].keys[k] && bindings[i].keys[k] == ch)
                b = &bindings[i];
    if (!b)
        return false;
    const struct engine_row *r = selected_row(ui);
    int page = LINES > 6 ? LINES - 6 : 1;
    ui->message[0] = '\0';
    if (b->action <= ACT_END)
        ui->follow = false; /* the user chose a row: stay there */
    switch (b->action) {
    case ACT_UP: if (ui->selected > 0) ui->selected--; break;
    case ACT_LOG_VIEW: ui->mode = MODE_LOG_VIEW; ui->log_scroll = 0; break;
    case ACT_FOLLOW:
        ui->follow = !ui->follow;
        snprintf(ui->message, sizeof ui->message, "follow %s", ui->follow ? "on" : "off");
        break;
    case ACT_SORT:
        ui->sort = (ui->sort + 1) % SORT_COUNT;
        snprintf(ui->message, sizeof ui->message, "%s", sort_names[ui->sort]);
        break;
    case ACT_FILTER:
        ui->mode = MODE_PROMPT_FILTER; /* as in less: a new text each time, empty for all */
        ui->input[0] = '\0';
        ui->input_len = 0;
        break;
    case ACT_DOWN: if (ui->selected + 1 < ui->nrows) ui->selected++; break;
    case ACT_PAGE_UP: ui->selected = ui->selected > (size_t)page ? ui->selected - (size_t)page : 0; break;
    case ACT_PAGE_DOWN:
        ui->selected = ui->nrows ? (ui->selected + (size_t)page < ui->nrows ? ui->selected + (size_t)page
                                                                           : ui->nrows - 1) : 0;
        break;
    case ACT_HOME: ui->selected = 0; break;
    case ACT_END: ui->selected = ui->nrows ? ui->nrows - 1 : 0; break;
    case ACT_PAUSE: if (r) say_why_not(ui, r, source_pause(ui->src, r->id)); break;
    case ACT_RESUME: if (r) say_why_not(ui, r, source_resume(ui->src, r->id)); break;
    case ACT_PAUSE_ALL: source_pause_all(ui->src); break;
    case ACT_RESUME_ALL: source_resume_all(ui->src); break;
    case ACT_VERIFY:
        if (r) {
            ui->pending_verify = r->id;
            source_verify(ui->src, r->id);
            snprintf(ui->message, sizeof ui->message, "verifying...");
        }
        break;
    case ACT_ADD:
        ui->mode = MODE_PROMPT_ADD;
        ui->input[0] = '\0';
        ui->input_len = 0;
        break;
    case ACT_REMOVE: if (r) ui->mode = MODE_CONFIRM_REMOVE; break;
    case ACT_WORKERS_UP: source_set_workers(ui->src, ui->totals.workers + 1); break;
    case ACT_WORKERS_DOWN: source_set_workers(ui->src, ui->totals.workers > 1 ? ui->totals.workers - 1 : 1); break;
    case ACT_CAP_DOWN: step_cap(ui, -1); break;
    case ACT_CAP_UP: step_cap(ui, +1); break;
    case ACT_DETAILS: ui->details = !ui->details; break;
    case ACT_LOG: ui->log = !ui->log; break;
    case ACT_REDRAW: clearok(curscr, TRUE); break;
    case ACT_HELP: ui->mode = MODE_HELP; break;
    case ACT_QUIT:
        if (!ui->all_active)
            return true;
        ui->mode = MODE_CONFIRM_QUIT;
        break;
    }
    const struct engine_row *now = row_at(ui, ui->selected);
    if (now)
        ui->selected_id = now->id;
    return false;
}

/* ---- the loop ------------------------------------------------------------ */

/* What a frame costs, for bench/run: it reads these from the file named by
 * VIMEO_UP_FRAME_STATS when the dashboard ends (one JSON line, appended).
 * The first frame, which measures every name and paints the whole screen,
 * is reported on its own and left out of the maximum. */
static void frame_stats_add(struct frame_stats *st, size_t rows, double cpu, double wall)
{
    if (!st->frames++)
        st->cpu_first = cpu;
    else
        st->cpu_max = cpu > st->cpu_max ? cpu : st->cpu_max;
    st->rows = rows > st->rows ? rows : st->rows;
    st->cpu += cpu;
    st->wall += wall;
    st->wall_max = wall > st->wall_max ? wall : st->wall_max;
}

static void frame_stats_write(const struct frame_stats *st)
{
    const char *path = getenv("VIMEO_UP_FRAME_STATS");
    FILE *f = path && st->frames ? fopen(path, "a") : NULL;
    if (!f)
        return;
    fprintf(f,
            "{\"frames\":%lu,\"rows\":%zu,\"cpu_ms_mean\":%.3f,\"cpu_ms_first\":%.3f,\"cpu_ms_max\":%.3f,"
            "\"wall_ms_mean\":%.3f,\"wall_ms_max\":%.3f}\n",
            st->frames, st->rows, st->cpu * 1e3 / (double)st->frames, st->cpu_first * 1e3, st->cpu_max * 1e3,
            st->wall * 1e3 / (double)st->frames, st->wall_max * 1e3);
    fclose(f);
}

/* Ctrl-Z. ncurses would otherwise install its own handler, which calls
 * curses inside the signal and clobbers errno (a failing poll() could then
 * read as a dead terminal). Ours only raises a flag; SIGTSTP stays blocked
 * except inside ppoll(), so the flag is never missed between check and sleep. */
static volatile sig_atomic_t suspend_asked;

static void on_suspend(int sig)
{
    (void)sig;
    suspend_asked = 1;
}

/* SIGTSTP goes to handler; the disposition before goes to old unless NULL. */
static void tstp_handle(void (*handler)(int), struct sigaction *old)
{
    struct sigaction sa = { .sa_handler = handler };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTSTP, &sa, old);
}

/* Block or unblock SIGTSTP on this thread; the mask before goes to old unless NULL. */
static void tstp_mask(int how, sigset_t *old)
{
    sigset_t tstp;
    sigemptyset(&tstp);
    sigaddset(&tstp, SIGTSTP);
    pthread_sigmask(how, &tstp, old);
}

/* Put the screen away, stop as the terminal asked, and take it back on fg. */
static void suspend(struct ui *ui)
{
    suspend_asked = 0;
    endwin();
    tstp_handle(SIG_DFL, NULL);
    raise(SIGTSTP); /* pending: it stops us as soon as it is unblocked */
    tstp_mask(SIG_UNBLOCK, NULL);
    tstp_mask(SIG_BLOCK, NULL);
    tstp_handle(on_suspend, NULL);
    clearok(curscr, TRUE);
    ui->dirty = true;
    ui->last_draw = 0;
}

static bool bell, rang; /* --bell, and whether it rang */

void dashboard_set_bell(bool on)
{
    bell = on;
}

/* Once, when every row has ended (a pause is no end): the user may be in
 * another window. */
static void ring_when_done(struct ui *ui)
{
    /* all_finished is over every row, a filter aside */
    if (!bell || rang || !ui->all_finished || !source_settled(ui->src))
        return;
    beep();
    rang = true;
}

enum dashboard_end dashboard_run(const struct source *src, const char *endpoint, int signal_fd)
{
    struct ui ui = { .src = src, .endpoint = endpoint, .details = false, .dirty = true, .follow = true,
                     .end = DASHBOARD_QUIT };
    ui.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    struct sigaction old_tstp;
    sigset_t old_mask;
    tstp_mask(SIG_BLOCK, &old_mask);
    sigset_t sleep_mask = old_mask;
    sigdelset(&sleep_mask, SIGTSTP);
    tstp_handle(on_suspend, &old_tstp); /* before initscr(), so ncurses keeps out */
    if (!initscr()) {
        sigaction(SIGTSTP, &old_tstp, NULL);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        return DASHBOARD_HANGUP;
    }
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    colours_init(&ui);
    refresh_rows(&ui);

    enum dashboard_end end = DASHBOARD_QUIT;
    int idle_errors = 0;
    for (;;) {
        double now = clock_mono();
        if (ui.dirty && now - ui.last_draw >= FRAME) {
            if (take_news(&ui)) {
                end = DASHBOARD_GONE;
                break;
            }
            now = clock_mono(); /* the frame is what follows: its news was taken between frames before */
            double cpu = clock_thread_cpu();
            refresh_rows(&ui);
            draw(&ui);
            ring_when_done(&ui);
            frame_stats_add(&ui.stats, ui.nrows, clock_thread_cpu() - cpu, clock_mono() - now);
            ui.last_draw = now;
            ui.dirty = ui.more_news;
            ui.more_news = false;
        }
        /* Sleep forever when idle; while something moves, until the next frame
         * (a retry countdown needs a frame a second at least). */
        struct timespec until_frame, *timeout = NULL;
        if (ui.dirty || ui.all_moving) {
            until_frame = units_timespec(ui.last_draw + (ui.dirty ? FRAME : 1.0) - now);
            timeout = &until_frame;
        }
        /* With a frame due anyway, the engine's news waits for it: each
         * job's every step wakes us, and on many small files that was
         * thousands of wake-ups a second, each taking the engine's lock
         * from its workers. An agent's is read as it comes, or the agent
         * drops a stream that falls behind and sends the table again. */
        bool news_waits = ui.dirty && !src->remote;
        struct pollfd fds[3] = { { STDIN_FILENO, POLLIN, 0 }, { news_waits ? -1 : source_wakeup_fd(src), POLLIN, 0 },
                                 { signal_fd, POLLIN, 0 } };
        int rc = ppoll(fds, signal_fd >= 0 ? 3 : 2, timeout, &sleep_mask);
        if (suspend_asked) {
            suspend(&ui);
            continue;
        }
        if (rc < 0 && errno != EINTR) {
            end = DASHBOARD_HANGUP;
            break;
        }
        if (rc > 0 && (fds[2].revents & POLLIN)) {
            end = DASHBOARD_SIGNAL;
            break;
        }
        if (rc > 0 && (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL))) {
            end = DASHBOARD_HANGUP;
            break;
        }
        if (rc > 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
            ui.dirty = true;
            if (take_news(&ui)) {
                end = DASHBOARD_GONE;
                break;
            }
        }
        /* Keys (and KEY_RESIZE after SIGWINCH, which also interrupts poll). */
        bool quit = false, got_key = false;
        int ch;
        while ((ch = getch()) != ERR) {
            got_key = true;
            refresh_rows(&ui);
            if (handle_key(&ui, ch))
                quit = true;
        }
        if (quit) {
            end = ui.end;
            break;
        }
        if (got_key) {
            idle_errors = 0;
            ui.last_draw = 0; /* answer a key at once */
        } else if (rc > 0 && (fds[0].revents & POLLIN)) {
            /* Readable but nothing to read: end of file on a dead terminal.
             * Leaving here is what keeps us from spinning at 100% CPU. */
            if (++idle_errors >= 3) {
                end = DASHBOARD_HANGUP;
                break;
            }
        }
    }
    endwin();
    sigaction(SIGTSTP, &old_tstp, NULL);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    frame_stats_write(&ui.stats);
    free(ui.rows);
    for (size_t i = 0; i < ui.log_count; i++)
        free(ui.log_lines[i]);
    return end;
}
