/*
 * text: turning bytes from outside (file names, server messages) into text
 * that is safe to show on a terminal or in a log line.
 */
#ifndef TEXT_H
#define TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Copy s into out (always NUL-terminated): control characters, DEL, C1
 * controls and bytes that are not valid UTF-8 become \xHH, so an escape
 * sequence in a file name is shown, never sent to the terminal. Never cuts
 * inside a character or an escape. */
void text_escape(const char *s, char *out, size_t cap);

/* text_escape for a terminal that is UTF-8 or not: when not, every byte
 * outside ASCII becomes \xHH too, one cell per character on any terminal. */
void text_escape_for(const char *s, bool utf8, char *out, size_t cap);

/* The display width of UTF-8 text in terminal cells (what wcwidth says). */
int text_width(const char *s);

/* Where text_fit cuts: in the middle (names: the start and the extension
 * both matter) or at the end (sentences). */
enum text_cut { TEXT_CUT_MIDDLE, TEXT_CUT_END };

/* Fit s (already escaped) into width cells: cut with an ellipsis ("…" when
 * utf8, "~" otherwise) when too wide, padded with spaces to exactly width
 * cells. out must hold at least 4 * width + 1 bytes. */
void text_fit(const char *s, int width, bool utf8, enum text_cut where, char *out, size_t cap);

#endif
