/*
 * manifest: --manifest FILE, JSON lines with each file's own metadata
 * (path and any of name, description, privacy, password_file, folder,
 * replace, tags), as a studio hands over 300 deliverables with their own titles.
 * The whole file is read and checked before anything is uploaded: a bad
 * line is one error naming its line number and field.
 */
#ifndef MANIFEST_H
#define MANIFEST_H

#include <stddef.h>

#include "engine.h"

struct manifest_entry {
    char *path;
    struct engine_file_meta meta;   /* its strings owned by the entry */
    char *tags[ENGINE_MANIFEST_MAX_TAGS];
    char *password;                 /* read from password_file; wiped when freed */
};

struct manifest {
    struct manifest_entry *entries;
    size_t count;
};

/* Check a field's value as its option would (privacy, tag); read a
 * password file (mode 600) into out. EXIT_OK, or an exit status with one
 * line in err. */
struct manifest_checks {
    int (*check)(void *ctx, const char *field, const char *value, char *err, size_t cap);
    int (*read_password)(void *ctx, const char *path, char *out, size_t cap, char *err, size_t err_cap);
    void *ctx;
    const char *run_privacy;        /* --privacy, NULL if none */
    bool run_has_password;          /* --password-file given */
};

/* Read and check path; an exit status after one line on stderr
 * ("--manifest FILE:LINE: FIELD: what is wrong"). */
int manifest_load(const char *path, const struct manifest_checks *checks, struct manifest *out);
void manifest_free(struct manifest *m);

#endif
