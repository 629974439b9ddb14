/*
 * json: read Vimeo's answers (with jsmn) and write request bodies.
 *
 * Reading: json_parse() tokenizes a whole document (strict, one root value);
 * json_find() locates a dotted path of object keys ("upload.upload_link") and
 * returns a token index, or -1. Getters convert a token and fail on a wrong
 * type instead of guessing.
 *
 * Writing: json_append_string() appends a quoted, escaped string to a buf and
 * refuses invalid UTF-8, so a bad file name is an error, not garbage sent.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct json {
    const char *doc;
    size_t len;
    struct json_token *tokens;
    int count;
};

bool json_parse(struct json *j, const char *doc, size_t len);
void json_free(struct json *j);
int json_find(const struct json *j, const char *path);
/* The same, starting from the object at token from (an array item, say). */
int json_find_in(const struct json *j, int from, const char *path);
/* The index'th element of an array token, or -1. */
int json_array_item(const struct json *j, int array, int index);
bool json_get_string(const struct json *j, int token, char *out, size_t cap);
/* A non-negative integer, from a number or a string of digits (Vimeo sends both). */
bool json_get_uint(const struct json *j, int token, uint64_t *out);
bool json_is_null(const struct json *j, int token);
/* The token's type letter: 'o'bject, 'a'rray, 's'tring, 'p'rimitive, or 0 for -1. */
char json_type(const struct json *j, int token);

/* Is s valid UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF)? */
bool json_utf8_valid(const char *s);
bool json_append_string(struct buf *b, const char *s);
/* For output (file names are bytes, not always UTF-8): invalid sequences
 * become U+FFFD instead of failing. */
bool json_append_string_lossy(struct buf *b, const char *s);
/* The same, or null for an empty string (a video or error not there yet). */
bool json_append_string_or_null(struct buf *b, const char *s);

#endif
