/*
 * utf8: the one UTF-8 decoder, for JSON escaping and for escaping text
 * before it reaches a terminal.
 */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence at p (1 to 4), with its code point
 * in *cp; 0 for an invalid, overlong, surrogate or truncated sequence. p must
 * be NUL-terminated (a NUL stops a sequence). */
size_t utf8_decode(const unsigned char *p, unsigned *cp);

#endif
