/* Vimeo's JSON answers: whatever the API (or a proxy in front of it) sends,
 * reading it the way vimeo.c does must not crash, hang or overrun. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "util/json.h"
#include "util/json_write.h"
#include "vimeo.h"

/* Every path vimeo.c and engine.c read from an answer. */
static const char *const paths[] = { "uri", "upload.upload_link", "upload.status", "transcode.status",
                                     "upload_quota.space.free", "error", "error_code", "invalid_parameters",
                                     "name", "link", "upload" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json j;
    if (json_parse(&j, (const char *)data, size)) {
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            int t = json_find(&j, paths[i]);
            char text[2048], why[96];
            uint64_t n;
            if (json_get_string(&j, t, text, sizeof text)) {
                json_utf8_valid(text);
                http_url_allowed(text, why, sizeof why);
            }
            json_get_uint(&j, t, &n);
            json_is_null(&j, t);
            struct json_iter items;
            json_array_iter(&j, t, &items);
            for (int item; (item = json_iter_next(&items)) >= 0;)
                json_get_string(&j, json_find_in(&j, item, "field"), text, sizeof text);
        }
    }
    json_free(&j);
    /* Whatever the answer echoes, the token is never in the line. */
    static const char token[] = "t0k3n";
    char line[400];
    vimeo_error_line(400, "application/vnd.vimeo.error+json", (const char *)data, size, token, line, sizeof line);
    if (strstr(line, token))
        abort();
    vimeo_error_line(502, "text/html", (const char *)data, size, token, line, sizeof line);
    return 0;
}
