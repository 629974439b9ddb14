#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "text.h"

enum { CONFIG_MAX_BYTES = 1 << 20 };

/* The file's text, cut into keys and values in place: the values are kept
 * by the options they set for the whole run. */
static char *loaded;

bool config_dir(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    /* A relative XDG path is to be ignored (XDG Base Directory spec). */
    if (xdg && xdg[0] == '/')
        n = snprintf(out, cap, "%s/vimeo-up", xdg);
    else if (home && home[0])
        n = snprintf(out, cap, "%s/.config/vimeo-up", home);
    else
        return false;
    return n > 0 && (size_t)n < cap;
}

int config_make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && strchr(" \t\r", s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* One line: 0 when taken (or blank, or a comment), else the exit status
 * with the reason in err. */
static int config_line(char *line, config_apply_fn apply, void *ctx, char *err, size_t cap)
{
    line = trim(line);
    if (!line[0] || line[0] == '#')
        return EXIT_OK;
    char *eq = strchr(line, '=');
    if (!eq)
        return snprintf(err, cap, "not key = value: %.80s", line), EXIT_USAGE;
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    size_t len = strlen(value);
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
        value[len - 1] = '\0';
        value++;
    }
    /* Others may read a config file (it is no secret), so it never holds one. */
    if (!strcmp(key, "token"))
        return snprintf(err, cap, "no token in a config file: use 'vimeo-up login' or token-file"), EXIT_USAGE;
    return apply(ctx, key, value, err, cap);
}

int config_load(const char *path, bool must_exist, config_apply_fn apply, void *ctx)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        int saved = errno;
        struct stat st;
        /* No default file, or one in a home this user cannot enter (run
         * under setpriv or sudo with another's HOME): nothing to read. A
         * file there that cannot be read is said. */
        if (!must_exist && (saved == ENOENT || saved == ENOTDIR || (saved == EACCES && stat(path, &st) != 0)))
            return EXIT_OK;
        fprintf(stderr, "vimeo-up: config: %s: %s\n", path, strerror(saved));
        return EXIT_USAGE;
    }
    free(loaded);
    loaded = malloc(CONFIG_MAX_BYTES + 1);
    size_t got = loaded ? fread(loaded, 1, CONFIG_MAX_BYTES + 1, f) : 0;
    bool failed = !loaded || ferror(f) || got > CONFIG_MAX_BYTES;
    fclose(f);
    if (failed) {
        fprintf(stderr, "vimeo-up: config: %s: %s\n", path, loaded && got > CONFIG_MAX_BYTES ? "larger than 1 MiB"
                : "cannot be read");
        return EXIT_USAGE;
    }
    loaded[got] = '\0';
    char *line = loaded, err[512], shown[2048];
    for (unsigned number = 1; line; number++) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        int rc = config_line(line, apply, ctx, err, sizeof err);
        if (rc != EXIT_OK) {
            text_escape(err, shown, sizeof shown);
            fprintf(stderr, "vimeo-up: config: %s:%u: %s\n", path, number, shown);
            return rc;
        }
        line = next;
    }
    return EXIT_OK;
}
