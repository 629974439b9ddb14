#include "units.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool units_parse_size(const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t whole = 0, frac = 0, frac_scale = 1;
    bool digits = false;
    while (isdigit((unsigned char)*p)) {
        if (whole > (UINT64_MAX - 9) / 10)
            return false;
        whole = whole * 10 + (uint64_t)(*p++ - '0');
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (frac_scale < 1000000000) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_scale *= 10;
            }
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    uint64_t mult = 1;
    switch (toupper((unsigned char)*p)) {
    case 'K': mult = 1ULL << 10; p++; break;
    case 'M': mult = 1ULL << 20; p++; break;
    case 'G': mult = 1ULL << 30; p++; break;
    case 'T': mult = 1ULL << 40; p++; break;
    default: break;
    }
    if (mult > 1 && strcasecmp(p, "iB") == 0)
        p += 2;
    else if (toupper((unsigned char)*p) == 'B')
        p++;
    if (*p != '\0' || (frac && mult == 1))
        return false; /* a fraction of a byte means nothing */
    if (whole > UINT64_MAX / mult)
        return false;
    *out = whole * mult + frac * mult / frac_scale;
    return true;
}

void units_format_size(uint64_t bytes, char *out, size_t cap)
{
    static const char *const names[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (bytes < 1024) {
        snprintf(out, cap, "%u B", (unsigned)bytes);
        return;
    }
    double v = (double)bytes / 1024;
    size_t i = 0;
    while (v >= 1024 && i + 1 < sizeof names / sizeof names[0]) {
        v /= 1024;
        i++;
    }
    snprintf(out, cap, v < 100 ? "%.1f %s" : "%.0f %s", v, names[i]);
}

void units_format_duration(double seconds, char *out, size_t cap)
{
    if (seconds < 0 || seconds > 359999) {
        snprintf(out, cap, "-");
        return;
    }
    unsigned s = (unsigned)(seconds + 0.5);
    if (s < 60)
        snprintf(out, cap, "%us", s);
    else if (s < 3600)
        snprintf(out, cap, "%um%02us", s / 60, s % 60);
    else
        snprintf(out, cap, "%uh%02um", s / 3600, s / 60 % 60);
}

struct timespec units_timespec(double seconds)
{
    if (!(seconds > 0))
        return (struct timespec){ 0, 0 };
    time_t whole = (time_t)seconds;
    return (struct timespec){ whole, (long)((seconds - (double)whole) * 1e9) };
}
