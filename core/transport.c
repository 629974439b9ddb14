#include "transport.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "tus.h"

enum { NAME_MAX_BYTES = 1024 };

static void from_tus(const struct tus_result *t, struct transport_result *res)
{
    *res = (struct transport_result){ .outcome = t->outcome, .status = t->status, .retry_after = t->retry_after,
                                      .offset = t->offset, .length = t->length };
    snprintf(res->error, sizeof res->error, "%s", t->error);
}

static void from_vimeo(const struct vimeo_result *v, struct transport_result *res)
{
    *res = (struct transport_result){ .outcome = v->outcome, .status = v->status, .retry_after = v->retry_after };
    snprintf(res->error, sizeof res->error, "%s", v->error);
}

static bool net_stopped(void *ctx)
{
    const struct net *net = ctx;
    return atomic_load(&net->e->stopping) || (net->job && atomic_load(&net->job->interrupt));
}

/* A wait for Vimeo's rate limit is news: the row and the log say so. */
static void note_rate_wait(struct net *net, double seconds)
{
    struct engine *e = net->e;
    pthread_mutex_lock(&e->lock);
    job_set_textf(&net->job->error, "rate limit, resets in %.0f s", seconds);
    engine_emit(e, ENGINE_EV_WAITING, net->job, "Vimeo's rate limit; it resets in %.0f s", seconds);
    pthread_mutex_unlock(&e->lock);
}

static void net_api_result(struct net *net, const struct api_request *req, struct api_answer *answer,
                           struct transport_result *res, struct vimeo_result *v)
{
    double wait = api_wait_seconds(&net->e->api);
    if (wait > 0 && net->job)
        note_rate_wait(net, wait);
    api_call(&net->e->api, net->http, req, answer, v, net_stopped, net);
    from_vimeo(v, res);
}

static void net_api(struct net *net, const struct api_request *req, struct api_answer *answer,
                    struct transport_result *res)
{
    struct vimeo_result v;
    net_api_result(net, req, answer, res, &v);
}

/* Ask Vimeo for the free upload space, and remember it. */
static void refresh_quota(struct net *net, struct transport_result *res)
{
    struct engine *e = net->e;
    struct api_answer answer = { .free_bytes = -1 };
    struct api_request req = { .op = API_QUOTA };
    net_api(net, &req, &answer, res);
    if (res->outcome != HTTP_OK)
        return;
    pthread_mutex_lock(&e->lock);
    e->quota_known = true;
    e->quota_free = answer.free_bytes;
    pthread_mutex_unlock(&e->lock);
}

/* A file larger than the free space Vimeo last told us of: ask again (space
 * comes back as videos are deleted, and goes as other uploads land), and
 * refuse it only if it still does not fit. Nothing is counted here: the
 * create itself enforces the quota (4101, 4102, 3428), and its error says so. */
static bool net_quota_allows(struct net *net, const struct job *job, struct transport_result *res)
{
    struct engine *e = net->e;
    pthread_mutex_lock(&e->lock);
    bool fits = e->quota_known && (e->quota_free < 0 || job->size <= (uint64_t)e->quota_free);
    pthread_mutex_unlock(&e->lock);
    if (fits)
        return true;
    refresh_quota(net, res);
    if (res->outcome != HTTP_OK)
        return true; /* no fresh word: the create will say */
    pthread_mutex_lock(&e->lock);
    int64_t quota_free = e->quota_free;
    fits = !e->quota_known || quota_free < 0 || job->size <= (uint64_t)quota_free;
    pthread_mutex_unlock(&e->lock);
    if (!fits) {
        *res = (struct transport_result){ .outcome = HTTP_FATAL, .retry_after = -1 };
        snprintf(res->error, sizeof res->error,
                 "%s (%" PRIu64 " bytes) is larger than the free upload quota (%" PRId64 " bytes)", job->path,
                 job->size, quota_free);
    }
    return fits;
}

/* The create made a video but its answer cannot be used (no link, not
 * tus): delete it, so that a failed file leaves nothing behind. */
static void drop_unusable(struct net *net, const char *uri, struct transport_result *res)
{
    struct api_request req = { .op = API_DELETE, .uri = uri };
    struct api_answer answer;
    struct transport_result gone;
    net_api(net, &req, &answer, &gone);
    size_t n = strlen(res->error);
    if (gone.outcome == HTTP_OK || gone.outcome == HTTP_GONE)
        snprintf(res->error + n, sizeof res->error - n, "; the video it made, %s, was deleted", uri);
    else
        snprintf(res->error + n, sizeof res->error - n, "; the video it made, %s, could not be deleted: %.120s", uri,
                 gone.error);
}

/* A video's name from the --name template: {name} the file's name, {stem}
 * the same without its extension, {n} its number in the run; anything
 * else as written. Several files never share one name by accident. */
static void name_expand(const char *template, const struct job *job, char *out, size_t cap)
{
    const char *dot = strrchr(job->name, '.');
    int stem = dot && dot != job->name ? (int)(dot - job->name) : (int)strlen(job->name);
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = template; *p && n + 1 < cap; n = strlen(out)) {
        if (!strncmp(p, "{name}", 6))
            snprintf(out + n, cap - n, "%s", job->name), p += 6;
        else if (!strncmp(p, "{stem}", 6))
            snprintf(out + n, cap - n, "%.*s", stem, job->name), p += 6;
        else if (!strncmp(p, "{n}", 3))
            snprintf(out + n, cap - n, "%u", job->id), p += 3;
        else
            snprintf(out + n, cap - n, "%c", *p++);
    }
}

/* What a create or a version POST made: its video, upload link and page. */
static void take_created(const struct vimeo_result *v, const struct api_answer *answer, char video[VIDEO_MAX],
                         char link[HTTP_URL_MAX], struct transport_result *res)
{
    /* Creates are not idempotent (no SDK retries one), nor are versions: a
     * 5xx, a cut, an empty 2xx or a stop after the request went out may
     * have made one. A 429 is Vimeo's word that it did nothing. */
    res->maybe_done = (res->outcome == HTTP_RETRY || res->outcome == HTTP_ABORTED) && v->sent && v->status != 429;
    if (res->outcome == HTTP_OK) {
        snprintf(video, VIDEO_MAX, "%s", answer->upload.uri);
        snprintf(link, HTTP_URL_MAX, "%s", answer->upload.upload_link);
        snprintf(res->page, sizeof res->page, "%s", answer->upload.page);
    }
}

/* A new version of the video the job replaces (POST /videos/{id}/versions):
 * 201 and a version object whose upload link takes the file; the video is
 * the one replaced, as the answer names only the version. */
static void net_version(struct net *net, const struct job *job, char video[VIDEO_MAX], char link[HTTP_URL_MAX],
                        struct transport_result *res)
{
    struct api_request req = { .op = API_REPLACE, .uri = job->replaces, .size = job->size, .file_name = job->name };
    struct api_answer answer = { .upload.uri = "" };
    struct vimeo_result v;
    net_api_result(net, &req, &answer, res, &v);
    take_created(&v, &answer, video, link, res);
}

/* The video's metadata: the file's own (--manifest) where it has it, else
 * the run's. A password goes only with the privacy it was given for. */
static struct vimeo_video_meta video_meta(struct engine *e, const struct job *job, const char *name,
                                          const char *folder)
{
    const struct job_meta *m = job->meta;
    struct vimeo_video_meta meta = { .name = name, .description = e->description, .privacy = e->privacy,
                                     .folder = folder[0] ? folder : NULL, .password = e->password };
    if (!m)
        return meta;
    if (m->description)
        meta.description = m->description;
    if (m->privacy)
        meta.privacy = m->privacy, meta.password = m->password;
    else if (m->password)
        meta.password = m->password;
    if (m->folder)
        meta.folder = m->folder;
    return meta;
}

static void create_now(void *ctx, const struct job *job, char video[VIDEO_MAX], char link[HTTP_URL_MAX],
                       struct transport_result *res)
{
    struct net *net = ctx;
    struct engine *e = net->e;
    char name[NAME_MAX_BYTES];
    const char *pattern = job->meta && job->meta->name ? job->meta->name : e->name;
    name_expand(pattern ? pattern : "{name}", job, name, sizeof name);
    video[0] = link[0] = '\0';
    if (e->tus_endpoint) {
        struct tus_result t;
        tus_create(net->http, e->tus_endpoint, job->size, name, link, HTTP_URL_MAX, &t);
        from_tus(&t, res);
        return;
    }
    if (job->replaces) {
        net_version(net, job, video, link, res);
        return;
    }
    char folder[sizeof e->folder_uri];
    pthread_mutex_lock(&e->lock);
    snprintf(folder, sizeof folder, "%s", e->folder_uri);
    pthread_mutex_unlock(&e->lock);
    struct vimeo_video_meta meta = video_meta(e, job, name, folder);
    struct api_request req = { .op = API_CREATE, .size = job->size, .meta = &meta };
    struct api_answer answer = { .upload.uri = "" };
    struct vimeo_result v;
    net_api_result(net, &req, &answer, res, &v);
    if (res->outcome == HTTP_FATAL && answer.upload.uri[0])
        drop_unusable(net, answer.upload.uri, res);
    take_created(&v, &answer, video, link, res);
}

/* A pause or a cancel waits for the create's answer (a moment): cut off,
 * it could leave a video on the account that no journal row names, and a
 * resume would make another. The upload then stops as soon as the video
 * is recorded (or deleted, for a cancel). A stop waits for it too, for a
 * while only (pool_stop): then it is cut off. */
static void net_create(void *ctx, const struct job *job, char video[VIDEO_MAX], char link[HTTP_URL_MAX],
                       struct transport_result *res)
{
    struct net *net = ctx;
    struct engine *e = net->e;
    if (!e->tus_endpoint && !net_quota_allows(net, job, res)) /* makes nothing: a stop cuts it off */
        return;
    pthread_mutex_lock(&e->lock);
    e->creates_in_flight++;
    pthread_mutex_unlock(&e->lock);
    const atomic_bool *was = http_watch(net->http, &e->cut_creates);
    create_now(ctx, job, video, link, res);
    http_watch(net->http, was);
    pthread_mutex_lock(&e->lock);
    e->creates_in_flight--;
    pthread_cond_broadcast(&e->tasks_done);
    pthread_mutex_unlock(&e->lock);
}

static void net_head(void *ctx, const char *link, long timeout, struct transport_result *res)
{
    struct net *net = ctx;
    struct tus_result t;
    tus_head(net->http, link, timeout, &t);
    from_tus(&t, res);
}

static void net_patch(void *ctx, const char *link, int fd, uint64_t offset, uint64_t length,
                      const struct patch_hooks *hooks, struct transport_result *res)
{
    struct net *net = ctx;
    struct engine *e = net->e;
    /* Under a rate cap each worker's share may lie below the stall floor:
     * slow on purpose is not stalled. */
    pthread_mutex_lock(&e->lock);
    uint64_t share = bucket_rate(&e->bucket) / (e->target_workers ? e->target_workers : 1);
    pthread_mutex_unlock(&e->lock);
    long floor = e->http_options.low_speed_limit;
    http_set_low_speed(net->http, share && share / 2 < (uint64_t)floor ? (long)(share / 2) + 1 : 0);
    struct tus_result t;
    tus_patch(net->http, link, fd, offset, length, hooks->progress, hooks->throttle, hooks->ctx, &t);
    from_tus(&t, res);
}

static void net_status(void *ctx, const char *video, char *upload_status, size_t cap, struct transport_result *res)
{
    struct net *net = ctx;
    upload_status[0] = '\0';
    if (net->e->tus_endpoint || !video[0]) {
        *res = (struct transport_result){ .outcome = HTTP_FATAL, .retry_after = -1 };
        snprintf(res->error, sizeof res->error, "no Vimeo video to ask");
        return;
    }
    struct api_request req = { .op = API_STATUS, .uri = video };
    struct api_answer answer = { .upload_status = "" };
    net_api(net, &req, &answer, res);
    snprintf(upload_status, cap, "%s", answer.upload_status);
    snprintf(res->page, sizeof res->page, "%s", answer.upload.page);
    snprintf(res->transcode, sizeof res->transcode, "%s", answer.transcode_status);
}

static void net_list(void *ctx, unsigned page, struct vimeo_video_status *out, size_t cap, size_t *n, bool *more,
                     struct transport_result *res)
{
    struct net *net = ctx;
    *n = 0;
    *more = false;
    if (net->e->tus_endpoint) {
        *res = (struct transport_result){ .outcome = HTTP_FATAL, .retry_after = -1 };
        snprintf(res->error, sizeof res->error, "no Vimeo videos to list");
        return;
    }
    struct api_request req = { .op = API_LIST, .page = page, .videos = out, .videos_cap = cap };
    struct api_answer answer = { .nvideos = 0 };
    net_api(net, &req, &answer, res);
    *n = answer.nvideos;
    *more = answer.more;
}

static void net_remove(void *ctx, const char *video, const char *link, struct transport_result *res)
{
    struct net *net = ctx;
    if (!net->e->tus_endpoint && video[0]) {
        struct api_request req = { .op = API_DELETE, .uri = video };
        struct api_answer answer;
        net_api(net, &req, &answer, res);
    } else if (link[0]) {
        struct tus_result t;
        tus_delete(net->http, link, &t);
        from_tus(&t, res);
    } else {
        *res = (struct transport_result){ .outcome = HTTP_OK, .retry_after = -1 };
    }
}

static void net_tag(void *ctx, const struct job *job, const char *video, struct transport_result *res)
{
    struct net *net = ctx;
    *res = (struct transport_result){ .outcome = HTTP_OK, .retry_after = -1 };
    /* The job's meta and replaces are fixed before it runs: no lock. */
    const struct job_meta *own = job->meta && job->meta->has_tags ? job->meta : NULL;
    char *const *tags = own ? own->tags : job->replaces ? NULL : net->e->tags;
    size_t ntags = own ? own->ntags : job->replaces ? 0 : net->e->ntags;
    if (net->e->tus_endpoint || !ntags || !video[0])
        return;
    struct api_request req = { .op = API_TAGS, .uri = video, .tags = (const char *const *)tags, .ntags = ntags };
    struct api_answer answer;
    net_api(net, &req, &answer, res);
}

static const struct transport_ops net_ops = {
    .create = net_create, .head = net_head, .patch = net_patch, .status = net_status, .remove = net_remove,
    .tag = net_tag, .list = net_list,
};

struct transport net_transport(struct net *net)
{
    return (struct transport){ .ops = &net_ops, .ctx = net };
}

struct transport net_transport_engine(struct net *net, struct engine *e)
{
    *net = (struct net){ .e = e, .http = http_new(&e->http_options) };
    if (net->http)
        http_watch(net->http, &e->stopping);
    return net_transport(net);
}
