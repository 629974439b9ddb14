#include "bucket.h"

#include <time.h>

#include "util/clock.h"
#include "util/units.h"

void bucket_init(struct bucket *b, uint64_t rate)
{
    pthread_mutex_init(&b->lock, NULL);
    b->rate = rate;
    b->tokens = 0;
    b->last = clock_mono();
}

void bucket_destroy(struct bucket *b)
{
    pthread_mutex_destroy(&b->lock);
}

void bucket_set_rate(struct bucket *b, uint64_t rate)
{
    pthread_mutex_lock(&b->lock);
    b->rate = rate;
    if (b->tokens > 0)
        b->tokens = 0; /* a new cap starts from now, with no saved-up burst */
    pthread_mutex_unlock(&b->lock);
}

uint64_t bucket_rate(struct bucket *b)
{
    pthread_mutex_lock(&b->lock);
    uint64_t r = b->rate;
    pthread_mutex_unlock(&b->lock);
    return r;
}

size_t bucket_take(struct bucket *b, size_t want, bool (*stop)(void *ctx), void *ctx)
{
    for (;;) {
        if (stop && stop(ctx))
            return 0;
        pthread_mutex_lock(&b->lock);
        double now = clock_mono();
        if (!b->rate) {
            b->last = now;
            pthread_mutex_unlock(&b->lock);
            return want;
        }
        /* Burst: a tenth of a second's worth, so pieces stay small and smooth. */
        double burst = (double)b->rate / 10;
        if (burst < 4096)
            burst = 4096;
        b->tokens += (now - b->last) * (double)b->rate;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last = now;
        if (b->tokens > 0) {
            size_t grant = want;
            if ((double)grant > burst)
                grant = (size_t)burst;
            b->tokens -= (double)grant;
            pthread_mutex_unlock(&b->lock);
            return grant;
        }
        double wait = -b->tokens / (double)b->rate + 0.001;
        pthread_mutex_unlock(&b->lock);
        if (wait > 0.1)
            wait = 0.1;
        struct timespec ts = units_timespec(wait);
        nanosleep(&ts, NULL);
    }
}
