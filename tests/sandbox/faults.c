#include "faults.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fault_kind {
    CUT, ERROR, THROTTLE, STALL, LOCKED, EXPIRE, BANDWIDTH, LATENCY, CONFLICT, REVOKED,
    UPLOAD_STATUS, TRANSCODE_STATUS, CREATE, QUOTA,
};

static const struct {
    const char *name;
    bool needs_value;
} kinds[] = {
    [CUT] = { "cut", true },           [ERROR] = { "error", true },
    [THROTTLE] = { "throttle", true }, [STALL] = { "stall", true },
    [LOCKED] = { "locked", false },    [EXPIRE] = { "expire", true },
    [BANDWIDTH] = { "bandwidth", true }, [LATENCY] = { "latency", true },
    [CONFLICT] = { "conflict", false }, [REVOKED] = { "revoked", false },
    [UPLOAD_STATUS] = { "upload_status", true }, [TRANSCODE_STATUS] = { "transcode_status", true },
    [CREATE] = { "create", true },     [QUOTA] = { "quota", true },
};

/* The words a create fault takes, in the order of enum faults_create. */
static const char *const create_modes[] = { "", "no-link", "not-tus", "empty", "error", "timeout", "bare-uri" };

struct fault {
    enum fault_kind kind;
    uint64_t value;
    char target[64]; /* expire: an upload id, or "*"; status and create: the word */
    double seconds;  /* for=SECS; negative when not given */
    uint64_t after;
    int code;
    double rate;
    long times; /* hits left; -1: unlimited */
    unsigned long hits;
    enum faults_scope on;
    char method[16]; /* "" for any */
    char spec[160];
};

enum { MAX_FAULTS = 32 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault table[MAX_FAULTS];
static size_t count;
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

void faults_seed(uint64_t seed)
{
    pthread_mutex_lock(&lock);
    rng_state = seed ? seed : 0x9E3779B97F4A7C15u;
    pthread_mutex_unlock(&lock);
}

/* xorshift64*: reproducible from --seed, which is all a test needs. */
static double next_fraction(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Du) >> 11) / 9007199254740992.0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k') mult = 1024, end++;
    else if (*end == 'M' || *end == 'm') mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g') mult = 1024 * 1024 * 1024, end++;
    if (errno || *end || v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

static bool parse_option(struct fault *f, const char *key, const char *val, char *err, size_t errlen)
{
    uint64_t n;
    if (!strcmp(key, "rate")) {
        char *end;
        f->rate = strtod(val, &end);
        if (*end || !(f->rate >= 0 && f->rate <= 1))
            return snprintf(err, errlen, "rate must be a fraction from 0 to 1: %s", val), false;
    } else if (!strcmp(key, "times")) {
        if (!parse_u64(val, &n))
            return snprintf(err, errlen, "times must be a count: %s", val), false;
        f->times = (long)n;
    } else if (!strcmp(key, "on")) {
        if (!strcmp(val, "api")) f->on = FAULTS_ON_API;
        else if (!strcmp(val, "upload")) f->on = FAULTS_ON_UPLOAD;
        else if (!strcmp(val, "any")) f->on = FAULTS_ON_ANY;
        else return snprintf(err, errlen, "on must be api, upload or any: %s", val), false;
    } else if (!strcmp(key, "method")) {
        if (strlen(val) >= sizeof f->method)
            return snprintf(err, errlen, "method too long: %s", val), false;
        strcpy(f->method, val);
    } else if (!strcmp(key, "code")) {
        if (!parse_u64(val, &n) || (n != 404 && n != 410 && n != 403))
            return snprintf(err, errlen, "code must be 404, 410 or 403: %s", val), false;
        f->code = (int)n;
    } else if (!strcmp(key, "for")) {
        char *end;
        f->seconds = strtod(val, &end);
        if (*end || !*val || !(f->seconds >= 0 && f->seconds < 1e6))
            return snprintf(err, errlen, "for must be a number of seconds: %s", val), false;
    } else if (!strcmp(key, "after")) {
        if (!parse_u64(val, &f->after))
            return snprintf(err, errlen, "after must be a byte count: %s", val), false;
    } else {
        return snprintf(err, errlen, "unknown fault option: %s", key), false;
    }
    return true;
}

static bool parse_spec(const char *spec, struct fault *f, char *err, size_t errlen)
{
    char copy[160];
    if (strlen(spec) >= sizeof copy)
        return snprintf(err, errlen, "fault spec too long"), false;
    strcpy(copy, spec);
    copy[strcspn(copy, "\r\n")] = '\0';
    *f = (struct fault){ .rate = 1, .times = -1, .code = 404, .seconds = -1 };
    snprintf(f->spec, sizeof f->spec, "%s", copy);

    char *save, *item = strtok_r(copy, ",", &save);
    if (!item)
        return snprintf(err, errlen, "empty fault spec"), false;
    char *val = strchr(item, '=');
    if (val)
        *val++ = '\0';
    size_t k;
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (!strcmp(item, kinds[k].name))
            break;
    if (k == sizeof kinds / sizeof kinds[0])
        return snprintf(err, errlen, "unknown fault: %s", item), false;
    f->kind = (enum fault_kind)k;
    if (kinds[k].needs_value && !val)
        return snprintf(err, errlen, "fault %s needs a value", item), false;
    if (f->kind == EXPIRE || f->kind == UPLOAD_STATUS || f->kind == TRANSCODE_STATUS || f->kind == CREATE) {
        snprintf(f->target, sizeof f->target, "%s", val);
    } else if (val && !parse_u64(val, &f->value)) {
        return snprintf(err, errlen, "fault %s: not a number: %s", item, val), false;
    }
    if (f->kind == ERROR && f->value != 500 && f->value != 502 && f->value != 503)
        return snprintf(err, errlen, "error must be 500, 502 or 503"), false;
    if ((f->kind == UPLOAD_STATUS || f->kind == TRANSCODE_STATUS) && strcmp(val, "error") && strcmp(val, "in_progress"))
        return snprintf(err, errlen, "%s must be error or in_progress: %s", item, val), false;
    if (f->kind == QUOTA && f->value != 4101 && f->value != 4102 && f->value != 3428)
        return snprintf(err, errlen, "quota must be 4101, 4102 or 3428"), false;
    if (f->kind == CREATE) {
        size_t m;
        for (m = 1; m < sizeof create_modes / sizeof create_modes[0]; m++)
            if (!strcmp(val, create_modes[m]))
                break;
        if (m == sizeof create_modes / sizeof create_modes[0])
            return snprintf(err, errlen, "create must be no-link, not-tus, empty, error, timeout or bare-uri: %s", val), false;
        f->value = m;
    }

    while ((item = strtok_r(NULL, ",", &save))) {
        val = strchr(item, '=');
        if (!val)
            return snprintf(err, errlen, "fault option needs a value: %s", item), false;
        *val++ = '\0';
        if (!parse_option(f, item, val, err, errlen))
            return false;
    }
    return true;
}

bool faults_add(const char *spec, char *err, size_t errlen)
{
    struct fault f;
    if (!parse_spec(spec, &f, err, errlen))
        return false;
    pthread_mutex_lock(&lock);
    bool ok = count < MAX_FAULTS;
    if (ok)
        table[count++] = f;
    pthread_mutex_unlock(&lock);
    if (!ok)
        snprintf(err, errlen, "too many faults (at most %d)", MAX_FAULTS);
    return ok;
}

void faults_clear(void)
{
    pthread_mutex_lock(&lock);
    count = 0;
    pthread_mutex_unlock(&lock);
}

/* Caller holds the lock. Counts the hit when the fault fires. */
static bool fires(struct fault *f, enum faults_scope scope, const char *method)
{
    if (f->times == 0 || (f->on != FAULTS_ON_ANY && f->on != scope) || (f->method[0] && strcmp(f->method, method)))
        return false;
    if (f->rate < 1 && next_fraction() >= f->rate)
        return false;
    if (f->times > 0)
        f->times--;
    f->hits++;
    return true;
}

static bool in_phase(enum fault_kind kind, enum faults_phase phase)
{
    bool at_patch = kind == CUT || kind == STALL || kind == LOCKED || kind == BANDWIDTH || kind == CONFLICT;
    bool elsewhere = kind == EXPIRE || kind == UPLOAD_STATUS || kind == TRANSCODE_STATUS || kind == CREATE ||
                     kind == QUOTA;
    return !elsewhere && at_patch == (phase == FAULTS_AT_PATCH);
}

void faults_plan(enum faults_scope scope, const char *method, enum faults_phase phase, struct faults_plan *out)
{
    pthread_mutex_lock(&lock);
    /* A PATCH refused with 423 or 409 reads no body, so no body fault may
     * spend a hit on it. */
    for (size_t i = 0; i < count && phase == FAULTS_AT_PATCH; i++)
        if ((table[i].kind == LOCKED || table[i].kind == CONFLICT) && fires(&table[i], scope, method)) {
            out->locked = table[i].kind == LOCKED;
            out->conflict = table[i].kind == CONFLICT;
            pthread_mutex_unlock(&lock);
            return;
        }
    for (size_t i = 0; i < count; i++) {
        struct fault *f = &table[i];
        if (f->kind == LOCKED || f->kind == CONFLICT || !in_phase(f->kind, phase) || !fires(f, scope, method))
            continue;
        switch (f->kind) {
        case CUT: out->cut = true; out->cut_after = f->value; break;
        case ERROR: out->error_code = (int)f->value; break;
        case THROTTLE: out->throttle_seconds = (unsigned)f->value; break;
        case STALL: out->stall_seconds = (unsigned)f->value; break;
        case BANDWIDTH: out->bandwidth = f->value; break;
        case LATENCY: out->latency_ms = (unsigned)f->value; break;
        case REVOKED: out->revoked = true; break;
        default: break;
        }
    }
    pthread_mutex_unlock(&lock);
}

int faults_quota(void)
{
    int code = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count && !code; i++)
        if (table[i].kind == QUOTA && fires(&table[i], FAULTS_ON_API, "POST"))
            code = (int)table[i].value;
    pthread_mutex_unlock(&lock);
    return code;
}

void faults_create(struct faults_create_plan *out)
{
    *out = (struct faults_create_plan){ .upload_delay = 0, .transcode_delay = 0 };
    bool upload_set = false, transcode_set = false;
    pthread_mutex_lock(&lock);
    /* One fault of each kind per video: the first that fires. */
    for (size_t i = 0; i < count; i++) {
        struct fault *f = &table[i];
        bool *set = f->kind == UPLOAD_STATUS ? &upload_set : &transcode_set;
        if (f->kind == CREATE && !out->mode && fires(f, FAULTS_ON_API, "POST")) {
            out->mode = (enum faults_create_mode)f->value;
            out->seconds = f->seconds < 0 ? 60 : f->seconds;
        } else if ((f->kind == UPLOAD_STATUS || f->kind == TRANSCODE_STATUS) && !*set &&
                   fires(f, FAULTS_ON_API, "POST")) {
            *set = true;
            bool error = !strcmp(f->target, "error");
            /* in_progress without for= never ends; error without for= is at once. */
            double delay = f->seconds < 0 ? (error ? 0 : -1) : f->seconds;
            if (f->kind == UPLOAD_STATUS)
                out->upload_error = error, out->upload_delay = delay;
            else
                out->transcode_error = error, out->transcode_delay = delay;
        }
    }
    pthread_mutex_unlock(&lock);
}

bool faults_expires(const char *upload_id, uint64_t offset, int *code)
{
    bool hit = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count && !hit; i++) {
        struct fault *f = &table[i];
        if (f->kind != EXPIRE)
            continue;
        bool named = strcmp(f->target, upload_id) == 0;
        bool any = strcmp(f->target, "*") == 0 && offset >= f->after;
        if ((named || any) && fires(f, FAULTS_ON_UPLOAD, "")) {
            *code = f->code;
            hit = true;
        }
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

void faults_json(struct sbjson_buf *out)
{
    pthread_mutex_lock(&lock);
    sbjson_raw(out, "{\"faults\":[");
    for (size_t i = 0; i < count; i++) {
        sbjson_raw(out, i ? ",{\"spec\":" : "{\"spec\":");
        sbjson_quote(out, table[i].spec);
        sbjson_printf(out, ",\"hits\":%lu,\"times_left\":%ld}", table[i].hits, table[i].times);
    }
    sbjson_raw(out, "]}\n");
    pthread_mutex_unlock(&lock);
}
