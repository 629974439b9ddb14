/*
 * clock: the one clock everybody reads. clock_mono() measures intervals and
 * deadlines (CLOCK_MONOTONIC: never jumps); clock_wall() stamps what users
 * see (Unix time, seconds).
 */
#ifndef CLOCK_H
#define CLOCK_H

double clock_mono(void);
double clock_wall(void);
/* CPU seconds the calling thread has used, for frame costs. */
double clock_thread_cpu(void);

#endif
