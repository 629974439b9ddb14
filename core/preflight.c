/* Before any work: is the API there, does it take the token, may the
 * token upload? */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "upload.h"
#include "util/units.h"

enum {
    PREFLIGHT_TRIES = 3,        /* answers that failed for a while (5xx) */
    PREFLIGHT_RATE_WAIT = 300,  /* seconds of 429s, which never count as tries, before giving up */
};

/* Does the space-separated list hold word? */
static bool has_scope(const char *scopes, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = scopes; (p = strstr(p, word)); p += n)
        if ((p == scopes || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* GET /oauth/verify: the token's scopes and user. */
static bool verify_token(struct engine *e, struct http *http, struct api_answer *answer, struct vimeo_result *r)
{
    struct api_request req = { .op = API_SCOPES };
    *answer = (struct api_answer){ .scope = "" };
    api_call(&e->api, http, &req, answer, r, NULL, NULL);
    return r->outcome == HTTP_OK;
}

bool engine_token_info(struct engine *e, char *user, size_t user_cap, char *scope, size_t scope_cap, char *err,
                       size_t cap)
{
    struct http *http = http_new(&e->http_options);
    if (!http)
        return snprintf(err, cap, "out of memory"), false;
    struct api_answer answer;
    struct vimeo_result r;
    bool ok = verify_token(e, http, &answer, &r);
    http_free(http);
    if (!ok)
        return snprintf(err, cap, "%s", r.error), false;
    snprintf(user, user_cap, "%s", answer.user_name);
    snprintf(scope, scope_cap, "%s", answer.scope);
    return true;
}

/* The token's scopes, asked up front: without upload nothing can work;
 * without delete, cleaning up after a cancel or an expired link cannot. */
static bool check_scopes(struct engine *e, struct http *http, char *err, size_t cap)
{
    struct api_answer answer;
    struct vimeo_result r;
    if (!verify_token(e, http, &answer, &r) || !answer.scope[0])
        return true; /* not said: the calls themselves will tell */
    if (!has_scope(answer.scope, "upload"))
        return snprintf(err, cap, "the token lacks the upload scope; make one with upload at "
                        "developer.vimeo.com/apps"), false;
    if (!has_scope(answer.scope, "delete"))
        snprintf(err, cap, "the token lacks the delete scope: a cancelled upload's video and a stale one "
                 "after an expired link will be left on Vimeo");
    return true;
}

/* --folder as Vimeo's folder_uri, /users/{uid}/projects/{pid} (Vimeo staff,
 * vimeo.php issue 289): given as that URI, as the folder's ID, or as the
 * vimeo.com/manage/folders/ID address a browser shows. */
static bool resolve_folder(struct engine *e, const char *user_uri, char *err, size_t cap)
{
    const char *folder = e->folder, *id = folder;
    if (!folder)
        return true;
    const char *url = strstr(folder, "vimeo.com/manage/folders/");
    if (url)
        id = url + strlen("vimeo.com/manage/folders/");
    size_t digits = strspn(id, "0123456789");
    bool is_id = digits && (id[digits] == '\0' || (url && strchr("/?#", id[digits])));
    char resolved[sizeof e->folder_uri];
    if (!strncmp(folder, "/users/", 7))
        snprintf(resolved, sizeof resolved, "%s", folder);
    else if (is_id && user_uri[0])
        snprintf(resolved, sizeof resolved, "%s/projects/%.*s", user_uri, (int)digits, id);
    else
        return snprintf(err, cap, "--folder %s: not a folder URI (/users/N/projects/M), a folder ID or a "
                        "vimeo.com/manage/folders/ID address", folder), false;
    pthread_mutex_lock(&e->lock);
    snprintf(e->folder_uri, sizeof e->folder_uri, "%s", resolved);
    pthread_mutex_unlock(&e->lock);
    return true;
}

bool engine_check_api(struct engine *e, char *err, size_t cap)
{
    err[0] = '\0';
    if (e->tus_endpoint)
        return true;
    struct http *http = http_new(&e->http_options);
    if (!http)
        return snprintf(err, cap, "out of memory"), false;
    struct api_request req = { .op = API_QUOTA };
    struct api_answer answer = { .free_bytes = -1, .user_uri = "" };
    struct vimeo_result r;
    unsigned rng = (unsigned)time(NULL);
    /* A passing 5xx should not stop a run before it starts, nor should
     * Vimeo's rate limit, spent by another client of the same token: a 429
     * says when to ask again, and is no failure until that adds up to
     * minutes. */
    double rate_waited = 0;
    for (int attempt = 1;; attempt++) {
        api_call(&e->api, http, &req, &answer, &r, NULL, NULL);
        bool limited = r.status == 429;
        if (r.outcome != HTTP_RETRY || r.status == 0 || (!limited && attempt >= PREFLIGHT_TRIES) ||
            (limited && rate_waited >= PREFLIGHT_RATE_WAIT))
            break;
        double wait = upload_backoff((unsigned)attempt, r.retry_after, limited, &rng);
        if (limited) {
            attempt--;
            rate_waited += wait;
            if (e->cfg.on_rate_wait)
                e->cfg.on_rate_wait(e->cfg.on_request_ctx, wait);
        }
        struct timespec ts = units_timespec(wait);
        nanosleep(&ts, NULL);
    }
    bool ok = r.outcome == HTTP_OK ? resolve_folder(e, answer.user_uri, err, cap) && check_scopes(e, http, err, cap)
                                   : (snprintf(err, cap, "%s", r.error), false);
    http_free(http);
    if (!ok)
        return false;
    pthread_mutex_lock(&e->lock);
    e->quota_known = true;
    e->quota_free = answer.free_bytes;
    pthread_mutex_unlock(&e->lock);
    return true;
}


int64_t engine_quota_free(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    int64_t free_bytes = e->quota_known ? e->quota_free : -1;
    pthread_mutex_unlock(&e->lock);
    return free_bytes;
}
