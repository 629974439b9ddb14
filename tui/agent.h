/*
 * agent: the engine in a background process that outlives the terminal,
 * one per state directory, and the commands that talk to it (add, status,
 * wait, stop). The wire format is protocol.h's.
 */
#ifndef AGENT_H
#define AGENT_H

#include "cli.h"

#define AGENT_DEFAULT_IDLE_EXIT 600 /* seconds with nothing to do and no client (a macro: --help spells it) */

/* `vimeo-up agent`: start the agent for cli's state directory in the
 * background and return once it listens (or says why it cannot). */
int agent_start(struct cli *cli);
/* `vimeo-up add|status|wait|stop`: one exchange with the agent; add starts
 * one when none runs. Returns the exit status. */
int agent_command(struct cli *cli);
/* `vimeo-up attach`, and on a terminal `vimeo-up FILE...` and `vimeo-up
 * resume`: queue the work in the agent (starting it), then the dashboard
 * (or with --json the events) for it. Returns the exit status: 4 for a
 * detach, silent for a lost terminal. */
int agent_attach(struct cli *cli);

#endif
