#include "batch.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "text.h"

enum { FILES_FROM_MAX = 64 << 20 };

bool batch_glob_match(const char *pattern, const char *rel)
{
    int flags = strstr(pattern, "**") ? 0 : FNM_PATHNAME;
    if (pattern[0] == '/')
        return fnmatch(pattern + 1, rel, flags) == 0;
    for (const char *p = rel; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
        if (fnmatch(pattern, p, flags) == 0)
            return true;
    return false;
}

/* Taken unless an --exclude matches, and then only if it matches an
 * --include when there is one. */
static bool wanted(const struct batch_options *o, const char *rel)
{
    for (size_t i = 0; i < o->nexclude; i++)
        if (batch_glob_match(o->exclude[i], rel))
            return false;
    for (size_t i = 0; i < o->ninclude; i++)
        if (batch_glob_match(o->include[i], rel))
            return true;
    return o->ninclude == 0;
}

static bool add_path(struct batch *b, const char *path)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char **grown = realloc(b->paths, cap * sizeof *grown);
        if (!grown)
            return false;
        b->paths = grown;
        b->cap = cap;
    }
    if (!(b->paths[b->count] = strdup(path)))
        return false;
    b->count++;
    return true;
}

static void say_error(struct batch *b, const char *path)
{
    char shown[PATH_MAX * 4];
    text_escape(path, shown, sizeof shown);
    fprintf(stderr, "vimeo-up: %s: %s\n", shown, strerror(errno));
    b->errors++;
}

static bool walk(const struct batch_options *o, struct batch *b, char *path, size_t root);

/* One entry of a directory walked: path (a buffer of PATH_MAX) is the
 * directory, len its length. False when out of memory. */
static bool walk_entry(const struct batch_options *o, struct batch *b, char *path, size_t len, size_t root,
                       const char *name)
{
    struct stat st;
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return true;
    if (name[0] == '.')
        return b->hidden++, true;
    if (len + 1 + strlen(name) >= PATH_MAX)
        return errno = ENAMETOOLONG, say_error(b, name), true;
    snprintf(path + len, PATH_MAX - len, "/%s", name);
    if (lstat(path, &st) != 0)
        return say_error(b, path), true;
    if (S_ISDIR(st.st_mode))
        return walk(o, b, path, root);
    /* A link to a file is taken; one to a directory is not followed: no loops. */
    if (!S_ISREG(st.st_mode) && !(S_ISLNK(st.st_mode) && stat(path, &st) == 0 && S_ISREG(st.st_mode)))
        return b->not_regular++, true;
    if (!wanted(o, path + root + 1))
        return b->filtered++, true;
    return add_path(b, path);
}

/* Every regular file below path (a buffer of PATH_MAX), in name order;
 * root is the length of the named directory's part. False when out of memory. */
static bool walk(const struct batch_options *o, struct batch *b, char *path, size_t root)
{
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0)
        return say_error(b, path), true;
    size_t len = strlen(path);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        ok = ok && walk_entry(o, b, path, len, root, names[i]->d_name);
        path[len] = '\0';
        free(names[i]);
    }
    free(names);
    return ok;
}

/* One name from the command line or --files-from. */
static bool take(const struct batch_options *o, struct batch *b, const char *name)
{
    struct stat st;
    if (o->recursive && stat(name, &st) == 0 && S_ISDIR(st.st_mode)) {
        char path[PATH_MAX];
        size_t len = strlen(name);
        while (len > 1 && name[len - 1] == '/')
            len--;
        if (len >= sizeof path)
            return errno = ENAMETOOLONG, say_error(b, name), true;
        snprintf(path, sizeof path, "%.*s", (int)len, name);
        return walk(o, b, path, len);
    }
    /* A file named is uploaded even when hidden; without -R a directory
     * is refused later, as before. */
    if (!wanted(o, name))
        return b->filtered++, true;
    return add_path(b, name);
}

/* The names in --files-from: lines, blank ones and those starting with #
 * or ; skipped and spaces around each dropped (as rclone's --files-from),
 * or with -0 every NUL-separated name as it is. */
static int read_names(const struct batch_options *o, struct batch *b)
{
    bool stdin_named = !strcmp(o->files_from, "-");
    FILE *f = stdin_named ? stdin : fopen(o->files_from, "re");
    if (!f) {
        fprintf(stderr, "vimeo-up: --files-from %s: %s\n", o->files_from, strerror(errno));
        return EXIT_USAGE;
    }
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t len;
    bool ok = true;
    while (ok && (len = getdelim(&line, &cap, o->null_separated ? '\0' : '\n', f)) > 0) {
        total += (size_t)len;
        char *name = line;
        if (name[len - 1] == (o->null_separated ? '\0' : '\n'))
            name[--len] = '\0';
        if (!o->null_separated) {
            name += strspn(name, " \t");
            len = (ssize_t)strlen(name);
            while (len && strchr(" \t\r", name[len - 1]))
                name[--len] = '\0';
            if (name[0] == '#' || name[0] == ';')
                continue;
        }
        if (name[0])
            ok = total <= FILES_FROM_MAX && take(o, b, name);
    }
    bool failed = ferror(f);
    free(line);
    if (!stdin_named)
        fclose(f);
    if (failed || !ok) {
        fprintf(stderr, "vimeo-up: --files-from %s: %s\n", o->files_from,
                failed ? "cannot be read" : total > FILES_FROM_MAX ? "more than 64 MiB of names" : "out of memory");
        return EXIT_CANNOT_START;
    }
    return EXIT_OK;
}

int batch_collect(const struct batch_options *options, char *const *named, size_t nnamed, struct batch *out)
{
    *out = (struct batch){ 0 };
    for (size_t i = 0; i < nnamed; i++)
        if (!take(options, out, named[i]))
            return fprintf(stderr, "vimeo-up: out of memory\n"), EXIT_CANNOT_START;
    return options->files_from ? read_names(options, out) : EXIT_OK;
}

void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->count; i++)
        free(b->paths[i]);
    free(b->paths);
    *b = (struct batch){ 0 };
}
