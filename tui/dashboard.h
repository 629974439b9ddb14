/*
 * dashboard: the live ncurses view of the engine, and the keys to steer it.
 *
 * Runs on the calling (UI) thread, the only one that touches curses. It
 * sleeps in ppoll() on the terminal, the engine's wake-up fd and the signal
 * pipe: with no timeout when nothing moves, and redrawing at most four
 * times a second while bytes move. A hang-up (SIGHUP, or EOF/EIO/POLLHUP on
 * the terminal) ends it at once; the caller then saves state. SIGTSTP
 * (Ctrl-Z) is its own: it puts the screen away, stops the process and
 * redraws on SIGCONT; the calling thread's signal mask and SIGTSTP's
 * disposition are as before when it returns.
 */
#ifndef DASHBOARD_H
#define DASHBOARD_H

#include <stdbool.h>

#include "source.h"

enum dashboard_end {
    DASHBOARD_QUIT,      /* the user pressed q (and confirmed) */
    DASHBOARD_SIGNAL,    /* SIGINT, SIGTERM or SIGHUP */
    DASHBOARD_HANGUP,    /* the terminal went away */
    DASHBOARD_DETACH,    /* the agent's: d, the uploads go on */
    DASHBOARD_STOP,      /* the agent's: s, pause and save */
    DASHBOARD_GONE,      /* the agent's: it stopped */
};

/* --bell: ring the terminal's bell once, when every upload has ended. */
void dashboard_set_bell(bool on);

/* endpoint: shown in the header. */
enum dashboard_end dashboard_run(const struct source *src, const char *endpoint, int signal_fd);

#endif
