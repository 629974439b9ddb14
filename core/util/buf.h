/*
 * buf: a growable byte buffer with a size cap fixed at creation, so nothing
 * read from the network can grow without bound. The data is always
 * NUL-terminated (the NUL is not counted in len).
 */
#ifndef BUF_H
#define BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len, cap;
    size_t max;       /* the cap on len; appends that would pass it fail */
    bool overflowed;  /* set once an append was refused */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Append n bytes; false (and overflowed set) if it would pass max or memory ran out. */
bool buf_append(struct buf *b, const void *data, size_t n);
bool buf_puts(struct buf *b, const char *s);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
