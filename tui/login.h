/*
 * login: `vimeo-up login` and `logout`, as gh's `auth login --with-token`:
 * the token is read without echo (or from standard input when it is not a
 * terminal), checked against the API, and kept in a file only its user can
 * read, never in argv, never shown, never logged.
 */
#ifndef LOGIN_H
#define LOGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* Where login keeps the token: $XDG_CONFIG_HOME/vimeo-up/token (else
 * ~/.config/vimeo-up/token). False when no variable says where. */
bool login_token_path(char *out, size_t cap);

/* Read a token, check it with GET /oauth/verify (cli->config says where:
 * API, CA file, journal), show its user and scopes, store it. An exit status. */
int login_run(struct cli *cli);

/* Remove the stored token. An exit status. */
int logout_run(void);

#endif
