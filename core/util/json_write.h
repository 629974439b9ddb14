/*
 * json_write: JSON strings into a buf, for request bodies and event lines.
 * json_append_string() refuses invalid UTF-8, so a bad file name is an
 * error, not garbage sent; the lossy form, for output, shows U+FFFD.
 */
#ifndef JSON_WRITE_H
#define JSON_WRITE_H

#include <stdbool.h>

#include "buf.h"

/* Is s valid UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF)? */
bool json_utf8_valid(const char *s);
bool json_append_string(struct buf *b, const char *s);
/* For output (file names are bytes, not always UTF-8): invalid sequences
 * become U+FFFD instead of failing. */
bool json_append_string_lossy(struct buf *b, const char *s);
/* The same, or null for an empty string (a video or error not there yet). */
bool json_append_string_or_null(struct buf *b, const char *s);

#endif
