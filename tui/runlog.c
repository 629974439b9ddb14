#include "runlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "headless.h"
#include "text.h"
#include "util/clock.h"

enum { QUEUE_LINES = 256, LINE_MAX_BYTES = 1200 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;                       /* under lock */
static bool to_dashboard, verbose;            /* set before the engine starts */
static void (*diverted)(const char *text);    /* set before the engine starts */
static char queue[QUEUE_LINES][LINE_MAX_BYTES]; /* under lock: a ring of request lines */
static size_t queue_head, queue_count;

int runlog_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st;
    /* An old log others can read is made private, as the journal is. */
    if (fd < 0 || fstat(fd, &st) != 0 || ((st.st_mode & 077) && fchmod(fd, 0600) != 0)) {
        fprintf(stderr, "vimeo-up: --log-file %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_CANNOT_START;
    }
    pthread_mutex_lock(&lock);
    log_fd = fd;
    pthread_mutex_unlock(&lock);
    return EXIT_OK;
}

void runlog_close(void)
{
    pthread_mutex_lock(&lock);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    pthread_mutex_unlock(&lock);
}

void runlog_setup(bool dashboard, bool verbose_on)
{
    to_dashboard = dashboard;
    verbose = verbose_on;
}

void runlog_divert(void (*line)(const char *text))
{
    diverted = line;
}

/* One line with its time into the log file; one write, so lines from
 * several threads never mix. */
static void write_line(double when, const char *text)
{
    char stamp[40], line[LINE_MAX_BYTES + 48];
    headless_iso_time(when, stamp, sizeof stamp);
    int n = snprintf(line, sizeof line, "%s %s\n", stamp, text);
    if (n > (int)sizeof line - 1)
        line[sizeof line - 2] = '\n', n = (int)sizeof line - 1;
    pthread_mutex_lock(&lock);
    if (log_fd >= 0) {
        ssize_t rc = write(log_fd, line, (size_t)n); /* a log that cannot be written stops no upload */
        (void)rc;
    }
    pthread_mutex_unlock(&lock);
}

void runlog_line(const char *text)
{
    char shown[LINE_MAX_BYTES];
    text_escape(text, shown, sizeof shown);
    write_line(clock_wall(), shown);
}

void runlog_event(const struct engine_event *ev, const char *file_name)
{
    char name[256], message[800], line[LINE_MAX_BYTES];
    text_escape(file_name, name, sizeof name);
    text_escape(ev->message, message, sizeof message);
    snprintf(line, sizeof line, "%-9s %s%s%s", engine_event_name(ev->kind), name, message[0] ? "  " : "", message);
    write_line(ev->time, line);
}

/* To the log file, and to stderr, the dashboard's queue or where diverted. */
static void tell(const char *line, const char *prefix)
{
    write_line(clock_wall(), line);
    if (diverted) {
        diverted(line);
        return;
    }
    if (!to_dashboard) {
        fprintf(stderr, "%s%s\n", prefix, line); /* one call: stdio locks the stream around it */
        return;
    }
    pthread_mutex_lock(&lock);
    if (queue_count == QUEUE_LINES) /* the dashboard is behind: drop the oldest */
        queue_head = (queue_head + 1) % QUEUE_LINES, queue_count--;
    snprintf(queue[(queue_head + queue_count++) % QUEUE_LINES], LINE_MAX_BYTES, "%s", line);
    pthread_mutex_unlock(&lock);
}

void runlog_note(const char *text)
{
    char shown[LINE_MAX_BYTES];
    text_escape(text, shown, sizeof shown);
    tell(shown, "vimeo-up: ");
}

void runlog_rate_wait(void *ctx, double seconds)
{
    (void)ctx;
    char line[120];
    snprintf(line, sizeof line, "Vimeo's rate limit is spent (another client of this token?); asking again in %.0f s",
             ceil(seconds));
    runlog_note(line);
}

void runlog_request(void *ctx, const char *method, const char *url, long status, double seconds)
{
    (void)ctx;
    if (!verbose)
        return;
    char shown[LINE_MAX_BYTES - 64], line[LINE_MAX_BYTES];
    text_escape(url, shown, sizeof shown);
    if (status)
        snprintf(line, sizeof line, "%-9s %s %s %ld %.3fs", "request", method, shown, status, seconds);
    else
        snprintf(line, sizeof line, "%-9s %s %s (no answer) %.3fs", "request", method, shown, seconds);
    tell(line, "");
}

bool runlog_take(char *out, size_t cap)
{
    pthread_mutex_lock(&lock);
    bool any = queue_count > 0;
    if (any) {
        snprintf(out, cap, "%s", queue[queue_head]);
        queue_head = (queue_head + 1) % QUEUE_LINES;
        queue_count--;
    }
    pthread_mutex_unlock(&lock);
    return any;
}
