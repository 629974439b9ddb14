/*
 * wakeup: a self-pipe that lets any thread wake the front end's poll().
 *
 * Wake-ups coalesce: at most one byte waits in the pipe however many threads
 * call wakeup_signal(). The contract that makes coalescing safe: whatever a
 * thread changed before wakeup_signal() is visible to the reader once the
 * reader's wakeup_drain() has returned, or the fd is readable again.
 */
#ifndef WAKEUP_H
#define WAKEUP_H

#include <stdatomic.h>
#include <stdbool.h>

struct wakeup {
    int fd[2];              /* read end, write end; -1 when closed */
    atomic_bool pending;    /* a byte is in the pipe, or about to be */
};

/* False (errno set) when no pipe can be made. */
bool wakeup_init(struct wakeup *w);
void wakeup_close(struct wakeup *w);
int wakeup_fd(const struct wakeup *w);
void wakeup_signal(struct wakeup *w);
void wakeup_drain(struct wakeup *w);

#endif
