#include "login.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "text.h"

enum { TOKEN_MAX = 4096 };

bool login_token_path(char *out, size_t cap)
{
    char dir[PATH_MAX];
    if (!config_dir(dir, sizeof dir))
        return false;
    int n = snprintf(out, cap, "%s/token", dir);
    return n > 0 && (size_t)n < cap;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = sig;
}

/* Read up to a newline (if line) or the end into out; the length, or -1
 * (too long, an error, or a signal). */
static ssize_t read_input(int fd, bool line, char *out, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t got = read(fd, out + len, cap - 1 - len);
        if (got < 0 || interrupted)
            return -1;
        if (got == 0)
            break;
        len += (size_t)got;
        if (line && memchr(out + len - (size_t)got, '\n', (size_t)got))
            break;
    }
    out[len] = '\0';
    return len < cap - 1 ? (ssize_t)len : -1;
}

/* From a terminal, with echo off, and back on however the read ends (a
 * Ctrl-C must not leave the terminal silent). */
static ssize_t read_hidden(char *out, size_t cap)
{
    struct termios saved, quiet;
    if (tcgetattr(STDIN_FILENO, &saved) != 0)
        return -1;
    struct sigaction sa = { .sa_handler = on_interrupt }, old_int, old_term, old_hup;
    sigemptyset(&sa.sa_mask); /* no SA_RESTART: a signal ends the read */
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    fputs("Paste a Vimeo access token (it is not shown): ", stderr);
    ssize_t len = read_input(STDIN_FILENO, true, out, cap);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fputc('\n', stderr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    return len;
}

/* The token alone: spaces and the newline around it dropped; one word. */
static int read_token_input(char *token, size_t cap)
{
    char raw[TOKEN_MAX + 2];
    bool tty = isatty(STDIN_FILENO);
    ssize_t len = tty ? read_hidden(raw, sizeof raw) : read_input(STDIN_FILENO, false, raw, sizeof raw);
    int rc = EXIT_OK;
    if (interrupted)
        rc = EXIT_INTERRUPTED;
    else if (len < 0)
        rc = (fprintf(stderr, "vimeo-up: login: cannot read the token (longer than %d bytes?)\n", TOKEN_MAX),
              EXIT_CANNOT_START);
    char *start = raw + strspn(raw, " \t\r\n");
    size_t n = strcspn(start, " \t\r\n");
    if (rc == EXIT_OK && !n)
        rc = (fprintf(stderr, "vimeo-up: login: no token given\n"), EXIT_USAGE);
    else if (rc == EXIT_OK && start[n + strspn(start + n, " \t\r\n")])
        rc = (fprintf(stderr, "vimeo-up: login: a token is one word; this has spaces or several lines\n"),
              EXIT_USAGE);
    else if (rc == EXIT_OK)
        snprintf(token, cap, "%.*s", (int)n, start);
    memset(raw, 0, sizeof raw);
    return rc;
}

/* Write the token to path through a temporary file in the same 0700
 * directory, so that a crash leaves the old token or the new, whole. */
static int store_token(const char *path, const char *token)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    struct stat st;
    if (config_make_dirs(dir) != 0 || stat(dir, &st) != 0 || ((st.st_mode & 077) && chmod(dir, 0700) != 0)) {
        fprintf(stderr, "vimeo-up: login: cannot make %s private: %s\n", dir, strerror(errno));
        return EXIT_CANNOT_START;
    }
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp); /* mode 0600 */
    size_t len = strlen(token);
    bool ok = fd >= 0 && write(fd, token, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok)
        ok = false, saved = errno;
    if (ok && rename(tmp, path) != 0)
        ok = false, saved = errno;
    if (!ok) {
        if (fd >= 0)
            unlink(tmp);
        fprintf(stderr, "vimeo-up: login: cannot store the token in %s: %s\n", path, strerror(saved));
        return EXIT_CANNOT_START;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return EXIT_OK;
}

static int check_and_store(struct cli *cli, const char *path, char *token)
{
    char err[4608], user[256], scope[600], shown_user[1024], shown_scope[2400];
    cli->config.token = token;
    cli->config.read_only = true; /* a token check: no state, no journal (not even with --state) */
    cli->config.state_dir = NULL;
    struct engine *e = engine_new(&cli->config, err, sizeof err);
    if (!e)
        return fprintf(stderr, "vimeo-up: %s\n", err), EXIT_CANNOT_START;
    bool ok = engine_token_info(e, user, sizeof user, scope, sizeof scope, err, sizeof err);
    engine_free(e);
    cli->config.token = NULL;
    if (!ok) {
        text_escape(err, shown_user, sizeof shown_user);
        fprintf(stderr, "vimeo-up: login: the token was not accepted: %s\n", shown_user);
        return EXIT_CANNOT_START;
    }
    text_escape(user[0] ? user : "(no name)", shown_user, sizeof shown_user);
    text_escape(scope[0] ? scope : "(not said)", shown_scope, sizeof shown_scope);
    printf("logged in as %s\nscopes: %s\n", shown_user, shown_scope);
    int rc = store_token(path, token);
    if (rc == EXIT_OK)
        printf("token stored in %s\n", path);
    return rc;
}

int login_run(struct cli *cli)
{
    char path[PATH_MAX], token[TOKEN_MAX + 1];
    if (!login_token_path(path, sizeof path))
        return fprintf(stderr, "vimeo-up: login: no HOME or XDG_CONFIG_HOME to keep the token in\n"),
               EXIT_CANNOT_START;
    int rc = read_token_input(token, sizeof token);
    if (rc == EXIT_OK)
        rc = check_and_store(cli, path, token);
    memset(token, 0, sizeof token);
    return rc;
}

int logout_run(void)
{
    char path[PATH_MAX];
    if (!login_token_path(path, sizeof path))
        return fprintf(stderr, "vimeo-up: logout: no HOME or XDG_CONFIG_HOME\n"), EXIT_CANNOT_START;
    if (unlink(path) == 0)
        return printf("removed %s\n", path), EXIT_OK;
    if (errno == ENOENT)
        return printf("not logged in: no %s\n", path), EXIT_OK;
    fprintf(stderr, "vimeo-up: logout: %s: %s\n", path, strerror(errno));
    return EXIT_CANNOT_START;
}
