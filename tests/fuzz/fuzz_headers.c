/* Response header lines: tus (Upload-Offset, Upload-Length, Location),
 * Retry-After and Vimeo's X-RateLimit-* as a hostile server may send them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "vimeo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_result res = { .retry_after = -1, .ratelimit_remaining = -1 };
    /* One header line per "\n", as curl hands them over (with the "\r\n"). */
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        http_parse_header(p, len, &res);
        p += len;
    }
    http_outcome_of(&res);
    vimeo_reset_in(res.ratelimit_reset);
    http_header_value_safe(res.location);
    return 0;
}
