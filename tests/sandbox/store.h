/*
 * store: the sandbox's videos and tus uploads, in memory, with each upload's
 * bytes in a file under the store directory (or discarded in sink mode) and a
 * running digest of everything accepted, so tests can compare digests:
 * SHA-256, or XXH3-64 where SHA-256 would cost more than the client measured
 * (the benchmarks).
 *
 * Uploads and videos are never freed before store_close(): a deleted one is
 * only marked, so a pointer handed out stays valid for the whole run. Bytes
 * are accepted strictly in offset order; a PATCH claims its upload with
 * store_claim() so two requests never append at once (the loser gets 423).
 * All functions are thread-safe.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbjson.h"

enum store_method { STORE_HEAD, STORE_PATCH, STORE_OPTIONS, STORE_DELETE, STORE_POST, STORE_METHODS };

struct store_upload;

enum store_check { STORE_SHA256, STORE_XXH3 };

/* dir: where upload files go, NULL to discard bytes (sink mode); how: the
 * digest kept of each upload (and named so in store_uploads_json). */
bool store_open(const char *dir, enum store_check how);
void store_close(void);

/* A new upload of length bytes; video is a video number or 0. metadata is
 * the raw Upload-Metadata header to echo back, or NULL. */
struct store_upload *store_upload_create(uint64_t length, const char *name, const char *metadata, uint64_t video);
struct store_upload *store_upload_find(const char *id);
const char *store_upload_id(const struct store_upload *u);

struct store_upload_state {
    uint64_t length, offset;
    bool deleted;
    int expired_code; /* 0 while the link is alive */
    char metadata[1024];
    long long created;
};
void store_upload_state(struct store_upload *u, struct store_upload_state *out);
void store_upload_count(struct store_upload *u, enum store_method m, bool authorized);
void store_upload_expire(struct store_upload *u, int code);
void store_upload_delete(struct store_upload *u);

/* Claim for appending: false when another request holds it. */
bool store_upload_claim(struct store_upload *u);
void store_upload_release(struct store_upload *u);
/* Append at the current offset (caller holds the claim). Never writes past the
 * length; returns the bytes taken, or -1 on a storage error. */
long long store_upload_append(struct store_upload *u, const void *data, size_t n);

/* What Vimeo says of a video once all its bytes are in: in_progress for
 * delay seconds (negative: forever), then complete, or error when error. */
struct store_status_plan {
    bool error;
    double delay;
};

struct store_video_info {
    uint64_t number;
    char hash[16];  /* "" unless the video's URI is /videos/{id}:{hash} */
    char name[512];
    char description[1024];
    char privacy[32];
    char folder[128]; /* folder_uri from the create body, "" for none */
    char tags[2048];  /* tag names, each ended by '\n' */
    uint64_t size;
    struct store_status_plan upload_plan, transcode_plan;
    struct store_upload *upload; /* current upload (a version replaces it) */
    uint64_t versions;           /* versions made by POST /videos/{id}/versions */
    bool deleted;
};
/* A video with its first upload, from the caller's filled-in info (number,
 * upload and versions are the store's); returns its number. */
uint64_t store_video_create(const struct store_video_info *info);
bool store_video_get(uint64_t number, struct store_video_info *out);
/* Every video number not deleted, newest first, into out (at most cap);
 * returns how many there are in all. */
size_t store_video_list(uint64_t *out, size_t cap);
/* A new version: a fresh upload replaces the current one. Returns the
 * version's number, 0 when the video does not exist. */
uint64_t store_video_replace(uint64_t number, uint64_t size, const char *name);
bool store_video_delete(uint64_t number);
/* Replace the video's tags (names each ended by '\n'), or add one when add. */
bool store_video_tags(uint64_t number, const char *tags, bool add);
/* Sum of the sizes of videos not deleted, for the quota; count of them. */
uint64_t store_bytes_used(void);
size_t store_videos_live(void);

/* Seconds since the upload's last byte arrived; negative while incomplete. */
double store_upload_complete_for(struct store_upload *u);

/* Every upload, a JSON array, for GET /_sandbox/uploads. */
void store_uploads_json(struct sbjson_buf *out);

#endif
