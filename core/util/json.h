/*
 * json: read Vimeo's answers (with jsmn).
 *
 * Reading: json_parse() tokenizes a whole document (strict, one root value,
 * at most JSON_DEPTH_MAX deep and JSON_TOKENS_MAX values);
 * json_find() locates a dotted path of object keys ("upload.upload_link") and
 * returns a token index, or -1. Getters convert a token and fail on a wrong
 * type instead of guessing. Writing is util/json_write.h.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on what json_parse takes: the nesting depth (Vimeo's answers are a
 * few levels deep) and the number of values, so parsing stays linear and its
 * memory bounded (a token is about 30 bytes with its bookkeeping) whatever a
 * server sends. */
enum { JSON_DEPTH_MAX = 64, JSON_TOKENS_MAX = 1 << 19 };

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
/* The elements of an array token, each once, in order: json_iter_next
 * gives the next element's token, or -1 after the last (or when array is
 * not an array). The whole walk is linear in the array's size. */
struct json_iter {
    const struct json *json;
    int next, left;
};
void json_array_iter(const struct json *j, int array, struct json_iter *it);
int json_iter_next(struct json_iter *it);
bool json_get_string(const struct json *j, int token, char *out, size_t cap);
/* A non-negative integer, from a number or a string of digits (Vimeo sends both). */
bool json_get_uint(const struct json *j, int token, uint64_t *out);
bool json_is_null(const struct json *j, int token);
/* The token's type letter: 'o'bject, 'a'rray, 's'tring, 'p'rimitive, or 0 for -1. */
char json_type(const struct json *j, int token);
/* The token's text as it is in the document (a string's without its
 * quotes); NULL and *len 0 for -1. */
const char *json_raw(const struct json *j, int token, size_t *len);

#endif
