#include "manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "text.h"

/* The values Vimeo would refuse or the options would: checked here, with
 * the options' own checks, so that nothing is uploaded from a bad manifest. */
static int check_line(const struct manifest_checks *c, const struct engine_manifest_line *l, char *password,
                      size_t password_cap, char *err, size_t cap)
{
    int rc = EXIT_OK;
    if (l->present & ENGINE_MANIFEST_PRIVACY)
        rc = c->check(c->ctx, "privacy", l->privacy, err, cap);
    for (size_t i = 0; rc == EXIT_OK && i < l->ntags; i++)
        rc = c->check(c->ctx, "tag", l->tags[i], err, cap);
    if (rc != EXIT_OK)
        return rc;
    if ((l->present & ENGINE_MANIFEST_FOLDER) &&
        (strncmp(l->folder, "/users/", 7) || !strstr(l->folder, "/projects/")))
        return snprintf(err, cap, "folder: a folder URI (/users/N/projects/M), not %.100s", l->folder), EXIT_USAGE;
    const char *privacy = l->present & ENGINE_MANIFEST_PRIVACY ? l->privacy : c->run_privacy;
    bool wants = privacy && !strcmp(privacy, "password");
    bool has_file = l->present & ENGINE_MANIFEST_PASSWORD_FILE;
    if (has_file && !wants)
        return snprintf(err, cap, "password_file: goes with privacy password"), EXIT_USAGE;
    if (wants && !has_file && !(c->run_has_password && !(l->present & ENGINE_MANIFEST_PRIVACY)))
        return snprintf(err, cap, "privacy: password needs password_file"), EXIT_USAGE;
    if (has_file)
        return c->read_password(c->ctx, l->password_file, password, password_cap, err, cap);
    return EXIT_OK;
}

/* replace: the video, spelled as engine_parse_video spells it. */
static int normalize_replace(struct engine_manifest_line *l, char *err, size_t cap)
{
    char video[sizeof l->replace];
    if (!(l->present & ENGINE_MANIFEST_REPLACE))
        return EXIT_OK;
    if (!engine_parse_video(l->replace, video, sizeof video))
        return snprintf(err, cap, "replace: not a video (/videos/N, /videos/N:HASH, N or https://vimeo.com/N[/HASH]): "
                        "%.100s", l->replace), EXIT_USAGE;
    memcpy(l->replace, video, sizeof video);
    return EXIT_OK;
}

/* A copy of s into *out when the line has the field; false when out of memory. */
static bool dup_field(unsigned present, unsigned bit, const char *s, const char **out)
{
    if (!(present & bit))
        return true;
    return (*out = strdup(s)) != NULL;
}

/* The entry's own copies of the line's strings; false when out of memory. */
static bool take_line(const struct engine_manifest_line *l, const char *password, struct manifest_entry *e)
{
    unsigned p = l->present;
    memset(e, 0, sizeof *e);
    bool ok = (e->path = strdup(l->path)) != NULL && dup_field(p, ENGINE_MANIFEST_NAME, l->name, &e->meta.name) &&
              dup_field(p, ENGINE_MANIFEST_DESCRIPTION, l->description, &e->meta.description) &&
              dup_field(p, ENGINE_MANIFEST_PRIVACY, l->privacy, &e->meta.privacy) &&
              dup_field(p, ENGINE_MANIFEST_FOLDER, l->folder, &e->meta.folder) &&
              dup_field(p, ENGINE_MANIFEST_REPLACE, l->replace, &e->meta.replace) &&
              dup_field(p, ENGINE_MANIFEST_PASSWORD_FILE, password, &e->meta.password);
    e->password = (char *)e->meta.password;
    e->meta.has_tags = p & ENGINE_MANIFEST_TAGS;
    for (size_t i = 0; ok && i < l->ntags; i++)
        ok = (e->tags[e->meta.ntags++] = strdup(l->tags[i])) != NULL;
    return ok; /* meta.tags is pointed at tags once the entries stop moving (manifest_load) */
}

static void entry_free(struct manifest_entry *e)
{
    free(e->path);
    free((char *)e->meta.name);
    free((char *)e->meta.description);
    free((char *)e->meta.privacy);
    free((char *)e->meta.folder);
    free((char *)e->meta.replace);
    if (e->password)
        memset(e->password, 0, strlen(e->password));
    free(e->password);
    for (size_t i = 0; i < e->meta.ntags; i++)
        free(e->tags[i]);
}

/* One line, into a new entry of out; EXIT_OK or an exit status with err. */
static int load_line(const struct manifest_checks *c, const char *text, size_t len, struct manifest *out, char *err,
                     size_t cap)
{
    struct engine_manifest_line *l = malloc(sizeof *l);
    char password[1024] = "";
    int rc = EXIT_CANNOT_START;
    if (!l)
        return snprintf(err, cap, "out of memory"), rc;
    if (!engine_manifest_parse(text, len, l, err, cap))
        rc = EXIT_USAGE;
    else if ((rc = normalize_replace(l, err, cap)) == EXIT_OK &&
             (rc = check_line(c, l, password, sizeof password, err, cap)) == EXIT_OK) {
        struct manifest_entry *grown = realloc(out->entries, (out->count + 1) * sizeof *grown);
        if (grown)
            out->entries = grown;
        if (!grown || !take_line(l, password, &out->entries[out->count++]))
            rc = EXIT_CANNOT_START, snprintf(err, cap, "out of memory");
    }
    memset(password, 0, sizeof password);
    free(l);
    return rc;
}

int manifest_load(const char *path, const struct manifest_checks *checks, struct manifest *out)
{
    *out = (struct manifest){ 0 };
    FILE *f = fopen(path, "re");
    if (!f)
        return fprintf(stderr, "vimeo-up: --manifest %s: %s\n", path, strerror(errno)), EXIT_USAGE;
    char *line = NULL, err[600], shown[2400];
    size_t cap = 0;
    ssize_t len;
    int rc = EXIT_OK;
    for (unsigned number = 1; rc == EXIT_OK && (len = getline(&line, &cap, f)) > 0; number++) {
        while (len && strchr("\r\n \t", line[len - 1]))
            line[--len] = '\0';
        if (!line[strspn(line, " \t")])
            continue; /* blank lines between objects are fine */
        if ((rc = load_line(checks, line, (size_t)len, out, err, sizeof err)) != EXIT_OK) {
            text_escape(err, shown, sizeof shown);
            fprintf(stderr, "vimeo-up: --manifest %s:%u: %s\n", path, number, shown);
        }
    }
    if (rc == EXIT_OK && ferror(f))
        rc = EXIT_CANNOT_START, fprintf(stderr, "vimeo-up: --manifest %s: cannot be read\n", path);
    free(line);
    fclose(f);
    if (rc != EXIT_OK)
        manifest_free(out);
    for (size_t i = 0; i < out->count; i++)
        out->entries[i].meta.tags = (const char *const *)out->entries[i].tags;
    return rc;
}

void manifest_free(struct manifest *m)
{
    for (size_t i = 0; i < m->count; i++)
        entry_free(&m->entries[i]);
    free(m->entries);
    *m = (struct manifest){ 0 };
}
