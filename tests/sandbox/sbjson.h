/*
 * sbjson: the sandbox's own small JSON reader and writer.
 *
 * It shares nothing with core/ on purpose: if the client and the server were
 * built from one idea of JSON, a wrong idea would pass every test.
 *
 * Reader: sbjson_find() validates a whole document and locates the value at
 * a dotted path ("upload.size") in it, without allocating. Writer: an
 * append-only text buffer (sbjson_buf) that escapes strings; it grows on the
 * heap and aborts the process on out-of-memory (this is a test server).
 */
#ifndef SBJSON_H
#define SBJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sbjson_type { SBJSON_NONE, SBJSON_NULL, SBJSON_BOOL, SBJSON_NUMBER, SBJSON_STRING, SBJSON_ARRAY, SBJSON_OBJECT };

struct sbjson_value {
    enum sbjson_type type;
    const char *start; /* first byte of the value's text (a string includes its quotes) */
    size_t len;
};

/* Validate doc as one JSON value (RFC 8259). Returns false on any syntax error. */
bool sbjson_valid(const char *doc, size_t len);

/* Find path (dot-separated object keys or array indexes, "tags.0.name"; ""
 * is the root) in a valid document.
 * Returns false when the document is invalid or the path is absent. */
bool sbjson_find(const char *doc, size_t len, const char *path, struct sbjson_value *out);

/* Decode a string value into out (NUL-terminated UTF-8). False if not a string,
 * if it holds a NUL or an invalid escape, or if it does not fit. */
bool sbjson_string(const struct sbjson_value *v, char *out, size_t cap);

/* A non-negative integer from a number, or from a string of digits. */
bool sbjson_uint(const struct sbjson_value *v, uint64_t *out);

struct sbjson_buf {
    char *data;
    size_t len, cap;
};

void sbjson_buf_free(struct sbjson_buf *b);
void sbjson_append(struct sbjson_buf *b, const char *data, size_t n);
void sbjson_raw(struct sbjson_buf *b, const char *text);
void sbjson_printf(struct sbjson_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a quoted JSON string; NULL appends null. */
void sbjson_quote(struct sbjson_buf *b, const char *s);

#endif
