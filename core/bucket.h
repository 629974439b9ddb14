/*
 * bucket: one token bucket shared by all workers, so the total upload rate
 * stays under a cap that can change while uploads run. A rate of 0 means no
 * cap. Thread-safe.
 */
#ifndef BUCKET_H
#define BUCKET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bucket {
    pthread_mutex_t lock;
    uint64_t rate;      /* bytes per second; 0: unlimited */
    double tokens;      /* may go negative: a debt the next takers wait out */
    double last;        /* monotonic seconds of the last refill */
};

void bucket_init(struct bucket *b, uint64_t rate);
void bucket_destroy(struct bucket *b);
void bucket_set_rate(struct bucket *b, uint64_t rate);
uint64_t bucket_rate(struct bucket *b);

/* Take up to want bytes, sleeping as the cap requires, in slices of at most
 * 100 ms so that stop() is honoured quickly. Returns the bytes granted, or 0
 * when stop(ctx) said to give up. */
size_t bucket_take(struct bucket *b, size_t want, bool (*stop)(void *ctx), void *ctx);

#endif
