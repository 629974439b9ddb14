/*
 * protocol: what the agent and its clients say to each other, shared by
 * both sides. JSON lines over a Unix socket: the agent greets with
 * {"agent":"vimeo-up","protocol":1,"version":"X"}; a client sends one
 * request per line ({"cmd":"add","files":[...]}) and reads the answers, or
 * after "subscribe" a stream of rows, totals and events. The man page's
 * PROTOCOL section is the reference for scripts.
 *
 * The socket lives in $XDG_RUNTIME_DIR/vimeo-up/ (else /tmp/vimeo-up-UID/),
 * a directory of the user's alone, named after the state directory: one
 * agent per state directory.
 */
#ifndef PROTOCOL_H
#define PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "util/buf.h"

enum {
    PROTOCOL_VERSION = 2,          /* 2: tables in lines of rows, "more" on all but the last */
    PROTOCOL_LINE_MAX = 64 * 1024, /* a request longer than this is refused */
};

/* The socket's path for state_dir, its directory made (0700) and checked:
 * a directory, the user's, no one else's to enter. False with one line in
 * err otherwise. */
bool protocol_socket_path(const char *state_dir, char *out, size_t cap, char *err, size_t errcap);

void protocol_greeting(struct buf *b);
/* A row's fields as a JSON object (texts only when row->texts). */
void protocol_row(struct buf *b, const struct engine_row *row);
void protocol_totals(struct buf *b, const struct engine_totals *t);
/* The answer for a request from a client of another protocol. */
void protocol_version_refusal(char *out, size_t cap);

/* Client side: connect to the agent at path and read its greeting. -1 with
 * errno ENOENT or ECONNREFUSED when no agent listens there; -1 with one line
 * in err for an agent of another protocol (unless any_version). */
int protocol_connect(const char *path, bool any_version, char *err, size_t cap);
/* A file a client names, by its full path: the agent runs in /, and
 * events name files so. One that is not there keeps its last part as
 * given after its directory resolved (or the working directory); the
 * agent, or the run, says what is wrong with it. */
void protocol_absolute_path(const char *name, char *out, size_t cap);
/* Send one line (the newline is added); false when the agent is gone. */
bool protocol_send(int fd, const char *line);
/* The next line from fd, blocking, into line (without its newline); in
 * keeps what was read past it. False at end of stream or on a line longer
 * than in's cap. */
bool protocol_read_line(int fd, struct buf *in, struct buf *line);

#endif
