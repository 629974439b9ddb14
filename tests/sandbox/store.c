#include "store.h"

#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

struct store_upload {
    pthread_mutex_t lock;
    char id[32];
    uint64_t video;
    char name[512];
    char metadata[1024];
    uint64_t length, offset, received;
    EVP_MD_CTX *sha;    /* STORE_SHA256 */
    XXH3_state_t *xxh3; /* STORE_XXH3 */
    int fd;
    bool busy, deleted;
    int expired_code;
    long long created;
    struct timespec completed; /* when the last byte arrived (monotonic) */
    unsigned long requests[STORE_METHODS];
    unsigned long authorized;
};

struct video {
    struct store_video_info info;
};

/* Video numbers start high, like Vimeo's, so a client cannot mistake one for an index. */
enum { VIDEO_BASE = 100000000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_upload **uploads;
static size_t upload_count, upload_cap;
static struct video *videos;
static size_t video_count, video_cap;
static char *store_dir;
static enum store_check check;

bool store_open(const char *dir, enum store_check how)
{
    check = how;
    store_dir = dir ? strdup(dir) : NULL;
    return !dir || store_dir;
}

void store_close(void)
{
    for (size_t i = 0; i < upload_count; i++) {
        struct store_upload *u = uploads[i];
        if (u->fd >= 0)
            close(u->fd);
        if (store_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", store_dir, u->id);
            unlink(path);
        }
        EVP_MD_CTX_free(u->sha);
        XXH3_freeState(u->xxh3);
        pthread_mutex_destroy(&u->lock);
        free(u);
    }
    free(uploads);
    free(videos);
    free(store_dir);
    uploads = NULL;
    videos = NULL;
    store_dir = NULL;
    upload_count = upload_cap = video_count = video_cap = 0;
}

static void *grow(void *array, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 64;
    void *p = realloc(array, n * size);
    if (!p)
        abort();
    *cap = n;
    return p;
}

struct store_upload *store_upload_create(uint64_t length, const char *name, const char *metadata, uint64_t video)
{
    struct store_upload *u = calloc(1, sizeof *u);
    if (!u)
        abort();
    pthread_mutex_init(&u->lock, NULL);
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce)
        nonce = (uint64_t)time(NULL) * 2654435761u;
    u->length = length;
    u->video = video;
    u->created = (long long)time(NULL);
    u->fd = -1;
    if (length == 0)
        clock_gettime(CLOCK_MONOTONIC, &u->completed);
    snprintf(u->name, sizeof u->name, "%s", name ? name : "");
    snprintf(u->metadata, sizeof u->metadata, "%s", metadata ? metadata : "");
    if (check == STORE_XXH3) {
        u->xxh3 = XXH3_createState();
        if (!u->xxh3 || XXH3_64bits_reset(u->xxh3) != XXH_OK)
            abort();
    } else {
        u->sha = EVP_MD_CTX_new();
        if (!u->sha || !EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL))
            abort();
    }

    pthread_mutex_lock(&lock);
    if (upload_count == upload_cap)
        uploads = grow(uploads, &upload_cap, sizeof *uploads);
    /* The index leads the id so lookups are O(1); the nonce makes links unguessable. */
    snprintf(u->id, sizeof u->id, "%08zx%016" PRIx64, upload_count, nonce);
    uploads[upload_count++] = u;
    pthread_mutex_unlock(&lock);

    if (store_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", store_dir, u->id);
        u->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (u->fd < 0)
            perror(path);
    }
    return u;
}

struct store_upload *store_upload_find(const char *id)
{
    char head[9];
    if (strlen(id) != 24)
        return NULL;
    memcpy(head, id, 8);
    head[8] = '\0';
    char *end;
    size_t index = strtoul(head, &end, 16);
    struct store_upload *u = NULL;
    pthread_mutex_lock(&lock);
    if (*end == '\0' && index < upload_count && strcmp(uploads[index]->id, id) == 0)
        u = uploads[index];
    pthread_mutex_unlock(&lock);
    return u;
}

const char *store_upload_id(const struct store_upload *u)
{
    return u->id;
}

void store_upload_state(struct store_upload *u, struct store_upload_state *out)
{
    pthread_mutex_lock(&u->lock);
    out->length = u->length;
    out->offset = u->offset;
    out->deleted = u->deleted;
    out->expired_code = u->expired_code;
    out->created = u->created;
    memcpy(out->metadata, u->metadata, sizeof out->metadata);
    pthread_mutex_unlock(&u->lock);
}

void store_upload_count(struct store_upload *u, enum store_method m, bool authorized)
{
    pthread_mutex_lock(&u->lock);
    u->requests[m]++;
    u->authorized += authorized;
    pthread_mutex_unlock(&u->lock);
}

void store_upload_expire(struct store_upload *u, int code)
{
    pthread_mutex_lock(&u->lock);
    u->expired_code = code;
    pthread_mutex_unlock(&u->lock);
}

void store_upload_delete(struct store_upload *u)
{
    pthread_mutex_lock(&u->lock);
    u->deleted = true;
    pthread_mutex_unlock(&u->lock);
}

bool store_upload_claim(struct store_upload *u)
{
    pthread_mutex_lock(&u->lock);
    bool ok = !u->busy;
    u->busy = true;
    pthread_mutex_unlock(&u->lock);
    return ok;
}

void store_upload_release(struct store_upload *u)
{
    pthread_mutex_lock(&u->lock);
    u->busy = false;
    pthread_mutex_unlock(&u->lock);
}

long long store_upload_append(struct store_upload *u, const void *data, size_t n)
{
    /* Only the claim holder appends, so offset is stable outside the lock
     * while the bytes are written; the lock publishes it with the digest. */
    pthread_mutex_lock(&u->lock);
    uint64_t offset = u->offset, room = u->length - u->offset;
    pthread_mutex_unlock(&u->lock);
    if (n > room)
        n = (size_t)room;
    if (u->fd >= 0) {
        const char *p = data;
        size_t left = n;
        while (left) {
            ssize_t w = pwrite(u->fd, p, left, (off_t)(offset + (n - left)));
            if (w < 0)
                return -1;
            p += w;
            left -= (size_t)w;
        }
    }
    pthread_mutex_lock(&u->lock);
    if (u->xxh3)
        XXH3_64bits_update(u->xxh3, data, n);
    else
        EVP_DigestUpdate(u->sha, data, n);
    u->offset += n;
    u->received += n;
    if (n && u->offset == u->length)
        clock_gettime(CLOCK_MONOTONIC, &u->completed);
    pthread_mutex_unlock(&u->lock);
    return (long long)n;
}

double store_upload_complete_for(struct store_upload *u)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&u->lock);
    bool done = u->offset == u->length;
    struct timespec t = u->completed;
    pthread_mutex_unlock(&u->lock);
    if (!done)
        return -1;
    return (double)(now.tv_sec - t.tv_sec) + (double)(now.tv_nsec - t.tv_nsec) / 1e9;
}

uint64_t store_video_create(const struct store_video_info *info)
{
    pthread_mutex_lock(&lock);
    if (video_count == video_cap)
        videos = grow(videos, &video_cap, sizeof *videos);
    struct video *v = &videos[video_count];
    v->info = *info;
    v->info.number = VIDEO_BASE + video_count++;
    v->info.upload = NULL;
    v->info.versions = 0;
    v->info.deleted = false;
    uint64_t number = v->info.number, size = info->size;
    pthread_mutex_unlock(&lock);
    /* Outside the lock: creating an upload takes it too. */
    struct store_upload *u = size ? store_upload_create(size, info->name, NULL, number) : NULL;
    pthread_mutex_lock(&lock);
    videos[number - VIDEO_BASE].info.upload = u;
    pthread_mutex_unlock(&lock);
    return number;
}

static struct video *video_at(uint64_t number)
{
    if (number < VIDEO_BASE || number - VIDEO_BASE >= video_count)
        return NULL;
    return &videos[number - VIDEO_BASE];
}

bool store_video_get(uint64_t number, struct store_video_info *out)
{
    pthread_mutex_lock(&lock);
    struct video *v = video_at(number);
    bool ok = v && !v->info.deleted;
    if (ok)
        *out = v->info;
    pthread_mutex_unlock(&lock);
    return ok;
}

uint64_t store_video_replace(uint64_t number, uint64_t size, const char *name)
{
    struct store_video_info info;
    if (!store_video_get(number, &info))
        return 0;
    struct store_upload *u = store_upload_create(size, name, NULL, number);
    pthread_mutex_lock(&lock);
    struct video *v = video_at(number);
    v->info.upload = u;
    v->info.size = size;
    uint64_t version = ++v->info.versions;
    pthread_mutex_unlock(&lock);
    return version;
}

size_t store_video_list(uint64_t *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = video_count; i-- > 0;)
        if (!videos[i].info.deleted) {
            if (n < cap)
                out[n] = videos[i].info.number;
            n++;
        }
    pthread_mutex_unlock(&lock);
    return n;
}

bool store_video_tags(uint64_t number, const char *tags, bool add)
{
    pthread_mutex_lock(&lock);
    struct video *v = video_at(number);
    bool ok = v && !v->info.deleted;
    if (ok) {
        char *have = v->info.tags;
        size_t len = add ? strlen(have) : 0;
        ok = len + strlen(tags) < sizeof v->info.tags;
        if (ok)
            strcpy(have + len, tags);
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

size_t store_videos_live(void)
{
    size_t n = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < video_count; i++)
        n += !videos[i].info.deleted;
    pthread_mutex_unlock(&lock);
    return n;
}

/* Deleting a video ends every upload of it, each version's too: Vimeo has
 * nothing left for an old link to reach. Marked after the store's lock is
 * let go, as elsewhere an upload's lock is never taken under it. */
bool store_video_delete(uint64_t number)
{
    pthread_mutex_lock(&lock);
    struct video *v = video_at(number);
    bool ok = v && !v->info.deleted;
    struct store_upload **gone = ok ? calloc(upload_count ? upload_count : 1, sizeof *gone) : NULL;
    size_t n = 0;
    if (ok) {
        if (!gone)
            abort();
        v->info.deleted = true;
        for (size_t i = 0; i < upload_count; i++)
            if (uploads[i]->video == number)
                gone[n++] = uploads[i];
    }
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        store_upload_delete(gone[i]);
    free(gone);
    return ok;
}

uint64_t store_bytes_used(void)
{
    uint64_t used = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < video_count; i++)
        if (!videos[i].info.deleted)
            used += videos[i].info.size;
    pthread_mutex_unlock(&lock);
    return used;
}

/* The digest so far, in hex, as sha256sum and xxhsum -H3 print it; the
 * running state goes on. */
static void digest_hex(const struct store_upload *u, char out[65])
{
    if (u->xxh3) {
        snprintf(out, 65, "%016llx", (unsigned long long)XXH3_64bits_digest(u->xxh3));
        return;
    }
    EVP_MD_CTX *running = u->sha;
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    if (!copy || !EVP_MD_CTX_copy_ex(copy, running) || !EVP_DigestFinal_ex(copy, digest, &len))
        abort();
    EVP_MD_CTX_free(copy);
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", digest[i]);
}

/* The video's URI, folder and tags, as the upload listing shows them. */
static void upload_video_json(struct sbjson_buf *out, uint64_t number)
{
    struct store_video_info *info = malloc(sizeof *info);
    if (!info)
        abort();
    pthread_mutex_lock(&lock);
    struct video *v = video_at(number);
    if (v)
        *info = v->info;
    pthread_mutex_unlock(&lock);
    if (!v) {
        sbjson_raw(out, ",\"video\":null");
        free(info);
        return;
    }
    sbjson_printf(out, ",\"video\":\"/videos/%" PRIu64 "%s%s\",\"folder\":", number, info->hash[0] ? ":" : "",
                  info->hash);
    sbjson_quote(out, info->folder[0] ? info->folder : NULL);
    sbjson_raw(out, ",\"tags\":[");
    const char *t = info->tags;
    for (bool first = true; *t; first = false) {
        const char *nl = strchr(t, '\n');
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(nl - t), t);
        if (!first)
            sbjson_raw(out, ",");
        sbjson_quote(out, name);
        t = nl + 1;
    }
    sbjson_raw(out, "]");
    free(info);
}

static void upload_json(struct sbjson_buf *out, struct store_upload *u)
{
    char hex[65];
    const char *name = check == STORE_XXH3 ? "xxh3" : "sha256";
    sbjson_raw(out, "{\"id\":");
    sbjson_quote(out, u->id);
    upload_video_json(out, u->video);
    pthread_mutex_lock(&u->lock);
    digest_hex(u, hex);
    sbjson_raw(out, ",\"name\":");
    sbjson_quote(out, u->name);
    sbjson_printf(out,
                  ",\"size\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"received\":%" PRIu64
                  ",\"%s\":\"%s\",\"complete\":%s,\"deleted\":%s,\"expired\":%s"
                  ",\"requests\":{\"HEAD\":%lu,\"PATCH\":%lu,\"OPTIONS\":%lu,\"DELETE\":%lu,\"POST\":%lu}"
                  ",\"authorization_seen\":%lu}",
                  u->length, u->offset, u->received, name, hex, u->offset == u->length ? "true" : "false",
                  u->deleted ? "true" : "false", u->expired_code ? "true" : "false", u->requests[STORE_HEAD],
                  u->requests[STORE_PATCH], u->requests[STORE_OPTIONS], u->requests[STORE_DELETE],
                  u->requests[STORE_POST], u->authorized);
    pthread_mutex_unlock(&u->lock);
}

void store_uploads_json(struct sbjson_buf *out)
{
    pthread_mutex_lock(&lock);
    size_t n = upload_count;
    pthread_mutex_unlock(&lock);
    sbjson_raw(out, "[");
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&lock);
        struct store_upload *u = uploads[i];
        pthread_mutex_unlock(&lock);
        if (i)
            sbjson_raw(out, ",");
        upload_json(out, u);
    }
    sbjson_raw(out, "]");
}
