#include "wakeup.h"

#include <fcntl.h>
#include <unistd.h>

bool wakeup_init(struct wakeup *w)
{
    atomic_init(&w->pending, false);
    if (pipe2(w->fd, O_CLOEXEC | O_NONBLOCK) == 0)
        return true;
    w->fd[0] = w->fd[1] = -1;
    return false;
}

void wakeup_close(struct wakeup *w)
{
    for (int i = 0; i < 2; i++) {
        if (w->fd[i] >= 0)
            close(w->fd[i]);
        w->fd[i] = -1;
    }
}

int wakeup_fd(const struct wakeup *w)
{
    return w->fd[0];
}

void wakeup_signal(struct wakeup *w)
{
    if (!atomic_exchange(&w->pending, true)) {
        ssize_t rc = write(w->fd[1], "x", 1);
        (void)rc; /* a full pipe already wakes the reader */
    }
}

void wakeup_drain(struct wakeup *w)
{
    /* Empty the pipe first, then clear the flag. The other order loses
     * wake-ups: a signal between clearing and reading leaves the flag set
     * over an empty pipe, and every later signal then writes nothing. */
    char sink[64];
    while (read(w->fd[0], sink, sizeof sink) > 0)
        ;
    atomic_store(&w->pending, false);
}
