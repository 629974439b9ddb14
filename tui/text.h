/*
 * text: turning bytes from outside (file names, server messages) into text
 * that is safe to show on a terminal or in a log line.
 */
#ifndef TEXT_H
#define TEXT_H

#include <stddef.h>

/* Copy s into out (always NUL-terminated): control characters, DEL, C1
 * controls and bytes that are not valid UTF-8 become \xHH, so an escape
 * sequence in a file name is shown, never sent to the terminal. Never cuts
 * inside a character or an escape. */
void text_escape(const char *s, char *out, size_t cap);

#endif
