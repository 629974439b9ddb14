/* Sizes and rates typed by the user (-c, -r, --quota in tests): parse, and
 * format what was parsed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    if (!text)
        return 0;
    uint64_t bytes;
    char out[32];
    if (units_parse_size(text, &bytes)) {
        units_format_size(bytes, out, sizeof out);
        units_format_duration((double)bytes, out, sizeof out);
    }
    free(text);
    return 0;
}
