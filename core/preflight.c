/* Before any work: is the API there, does it take the token, may the
 * token upload? */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "upload.h"
#include "util/units.h"

enum { PREFLIGHT_TRIES = 3 };

/* Does the space-separated list hold word? */
static bool has_scope(const char *scopes, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = scopes; (p = strstr(p, word)); p += n)
        if ((p == scopes || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* The token's scopes, asked up front: without upload nothing can work;
 * without delete, cleaning up after a cancel or an expired link cannot. */
static bool check_scopes(struct engine *e, struct http *http, char *err, size_t cap)
{
    struct api_request req = { .op = API_SCOPES };
    struct api_answer answer = { .scope = "" };
    struct vimeo_result r;
    api_call(&e->api, http, &req, &answer, &r, NULL, NULL);
    if (r.outcome != HTTP_OK || !answer.scope[0])
        return true; /* not said: the calls themselves will tell */
    if (!has_scope(answer.scope, "upload"))
        return snprintf(err, cap, "the token lacks the upload scope; make one with upload at "
                        "developer.vimeo.com/apps"), false;
    if (!has_scope(answer.scope, "delete"))
        snprintf(err, cap, "the token lacks the delete scope: a cancelled upload's video and a stale one "
                 "after an expired link will be left on Vimeo");
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
    struct api_answer answer = { .free_bytes = -1 };
    struct vimeo_result r;
    unsigned rng = (unsigned)time(NULL);
    /* A passing 5xx or 429 should not stop a run before it starts. */
    for (int attempt = 1;; attempt++) {
        api_call(&e->api, http, &req, &answer, &r, NULL, NULL);
        if (r.outcome != HTTP_RETRY || r.status == 0 || attempt == PREFLIGHT_TRIES)
            break;
        struct timespec ts = units_timespec(upload_backoff((unsigned)attempt, r.retry_after, false, &rng));
        nanosleep(&ts, NULL);
    }
    bool ok = r.outcome == HTTP_OK ? check_scopes(e, http, err, cap) : (snprintf(err, cap, "%s", r.error), false);
    http_free(http);
    if (!ok)
        return false;
    pthread_mutex_lock(&e->lock);
    e->quota_known = true;
    e->quota_free = answer.free_bytes;
    pthread_mutex_unlock(&e->lock);
    return true;
}

