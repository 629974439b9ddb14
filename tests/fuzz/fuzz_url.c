/* URLs from the server (upload links, Location headers) and from the user
 * (--api, --tus-endpoint): the policy check and relative resolution. Input:
 * a base URL, a newline, a location. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    if (!text)
        return 0;
    char *location = strchr(text, '\n');
    if (location)
        *location++ = '\0';
    char why[96], resolved[HTTP_URL_MAX];
    http_url_allowed(text, why, sizeof why);
    http_header_value_safe(text);
    if (location && http_resolve(text, location, resolved, sizeof resolved))
        http_url_allowed(resolved, why, sizeof why);
    free(text);
    return 0;
}
