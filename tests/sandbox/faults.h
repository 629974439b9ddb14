/*
 * faults: what the sandbox does wrong on purpose, and when.
 *
 * A fault is written as one spec, the same on the command line (--fault SPEC)
 * and in the control endpoint (POST /_sandbox/faults with SPEC as the body):
 *
 *   KIND[=VALUE][,rate=FRACTION][,times=N][,on=api|upload|any][,method=M][,code=C][,after=BYTES]
 *
 *   cut=BYTES        close the connection after BYTES of a PATCH body (kept)
 *   error=CODE       answer CODE (500, 502 or 503) instead of the request
 *   throttle=SECS    answer 429 with Retry-After: SECS
 *   stall=SECS       stop reading a PATCH body for SECS seconds
 *   locked           answer 423 Locked to a PATCH
 *   conflict         answer 409 (offset mismatch) to a PATCH, as after a lost answer
 *   expire=ID|*      the upload ID (or, with *, every upload whose offset has
 *                    reached after=BYTES) answers code=404 (default), 410 or 403
 *                    from then on
 *   bandwidth=BPS    cap each connection at BPS bytes per second of PATCH body
 *   latency=MS       delay each request by MS milliseconds
 *   revoked          answer an API call as for a revoked token (401, 8003)
 *
 * Drawn once per POST /me/videos, for the video it makes:
 *   upload_status=error|in_progress[,for=SECS]
 *                    once all bytes are in, upload.status stays in_progress
 *                    for SECS (without for: forever), or turns error (after SECS)
 *   transcode_status=error|in_progress[,for=SECS]
 *                    the same for transcode.status, counted from upload complete
 *   create=no-link|not-tus|empty|error|timeout[,for=SECS]
 *                    the video is made but the answer is unusable: no
 *                    upload_link, approach "post", an empty 200 body, a 500
 *                    error, or an answer only after SECS (default 60)
 *   create=bare-uri  the answer gives /videos/{id} for a hashed video
 *                    (with --hash-uris), which GET shows with its :hash
 *   quota=4101|4102|3428   refuse the create with that quota error
 *
 * rate (default 1) is the seeded fraction of eligible requests the fault hits;
 * times (default unlimited) is how often it may hit in all; on narrows it to
 * API calls or to upload links, method to one HTTP method. Thread-safe: requests consult the table from
 * many connection threads.
 */
#ifndef FAULTS_H
#define FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbjson.h"

enum faults_scope { FAULTS_ON_ANY, FAULTS_ON_API, FAULTS_ON_UPLOAD };

/* What one request is to suffer; zero fields mean no fault of that kind. */
struct faults_plan {
    bool cut;
    uint64_t cut_after;
    int error_code;
    unsigned throttle_seconds;
    unsigned stall_seconds;
    bool locked;
    bool conflict;
    uint64_t bandwidth;
    unsigned latency_ms;
    bool revoked;
};

void faults_seed(uint64_t seed);

/* Parse and add one spec; on error writes a one-line reason and returns false. */
bool faults_add(const char *spec, char *err, size_t errlen);
void faults_clear(void);

/* Faults are drawn when they would take effect, so that times=N counts real
 * hits: FAULTS_AT_START for every request (latency, error, throttle);
 * FAULTS_AT_PATCH once a PATCH has passed the protocol checks (locked or
 * conflict, and, unless one of those fired, cut, stall and bandwidth). Fills only that phase's fields. */
enum faults_phase { FAULTS_AT_START, FAULTS_AT_PATCH };
void faults_plan(enum faults_scope scope, const char *method, enum faults_phase phase, struct faults_plan *out);

/* Does an expire fault claim this upload now? Sets *code (404, 410 or 403). */
bool faults_expires(const char *upload_id, uint64_t offset, int *code);

/* A quota fault for this create: its error code, or 0. */
int faults_quota(void);

enum faults_create_mode { FAULTS_CREATE_OK, FAULTS_CREATE_NO_LINK, FAULTS_CREATE_NOT_TUS, FAULTS_CREATE_EMPTY,
                          FAULTS_CREATE_ERROR, FAULTS_CREATE_TIMEOUT, FAULTS_CREATE_BARE_URI };
/* What a create that passed its checks is to suffer, and what its video's
 * statuses do once its bytes are in (delay negative: in_progress forever). */
struct faults_create_plan {
    enum faults_create_mode mode;
    double seconds;
    bool upload_error, transcode_error;
    double upload_delay, transcode_delay;
};
void faults_create(struct faults_create_plan *out);

/* The table as JSON, for GET /_sandbox/faults. */
void faults_json(struct sbjson_buf *out);

#endif
