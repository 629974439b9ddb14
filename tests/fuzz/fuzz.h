/*
 * fuzz: what the libFuzzer harnesses share. Each harness is one file,
 * fuzz_NAME.c, with its seed corpus in tests/fuzz/fuzz_NAME/ and the inputs
 * that once crashed it in tests/fuzz/regressions/fuzz_NAME/ (tests/fuzz/run).
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input as a C string (it may hold NUL bytes: the string ends at the
 * first); NULL when out of memory. The caller frees it. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

#endif
