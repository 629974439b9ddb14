/*
 * batch: the files of a run, from the command line, --files-from (one
 * name a line, or NUL-separated with -0, as find -print0 writes them) and
 * directories walked with -R, filtered with --include and --exclude as
 * rclone filters: a pattern is matched against the path below the named
 * directory. Hidden files and anything that is not a regular file found
 * while walking are skipped and counted.
 */
#ifndef BATCH_H
#define BATCH_H

#include <stdbool.h>
#include <stddef.h>

#define BATCH_MAX_PATTERNS 64 /* a macro, so that messages can spell it */

struct batch_options {
    const char *files_from;     /* a file of names, "-" for standard input; NULL: none */
    bool null_separated;        /* -0: NUL between names, taken as they are */
    bool recursive;             /* -R: walk directories */
    const char *include[BATCH_MAX_PATTERNS], *exclude[BATCH_MAX_PATTERNS];
    size_t ninclude, nexclude;
};

struct batch {
    char **paths;               /* what to upload, in order */
    size_t count, cap;
    unsigned hidden;            /* skipped while walking: names starting with a dot */
    unsigned not_regular;       /* skipped while walking: not a regular file (or a link to one) */
    unsigned filtered;          /* left out by --include/--exclude */
    unsigned errors;            /* a directory or --files-from that could not be read (said on stderr) */
};

/* The files named (nnamed of them) and those the options add. An exit
 * status: EXIT_OK, or EXIT_USAGE/EXIT_CANNOT_START after one line on
 * stderr (a --files-from that cannot be read, out of memory). */
int batch_collect(const struct batch_options *options, char *const *named, size_t nnamed, struct batch *out);
void batch_free(struct batch *b);

/* Whether rel (a path below the named directory) matches pattern, as
 * rclone matches: a pattern that starts with / from the top, any other at
 * the end of the path on a name's boundary; * stays within a name unless
 * the pattern has **. */
bool batch_glob_match(const char *pattern, const char *rel);

#endif
