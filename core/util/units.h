/*
 * units: byte counts and rates as users type them ("128M", "1.5G", "0") and
 * as the program shows them ("1.5 GiB"). Suffixes K, M, G, T are powers of
 * 1024, case-insensitive, with an optional trailing "B" or "iB".
 */
#ifndef UNITS_H
#define UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parse a size; false on anything else (signs, junk, overflow). */
bool units_parse_size(const char *text, uint64_t *out);

/* "0 B", "999 B", "1.0 KiB", "12.3 MiB", "1.5 GiB": at most 10 characters. */
void units_format_size(uint64_t bytes, char *out, size_t cap);

/* A duration in seconds as "59s", "12m03s", "3h07m"; "-" when unknown (< 0). */
void units_format_duration(double seconds, char *out, size_t cap);

/* Seconds as a timespec for the sleeping calls; zero when not above zero. */
struct timespec units_timespec(double seconds);

#endif
