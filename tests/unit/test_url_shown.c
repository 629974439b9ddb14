/* What -v shows of a URL: never the secrets a link may carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http.h"

static void check(const char *url, const char *expected)
{
    char out[256];
    http_url_shown(url, out, sizeof out);
    assert_string_equal(out, expected);
}

static void drops_user_info_query_and_fragment(void **state)
{
    (void)state;
    check("https://api.vimeo.com/me/videos", "https://api.vimeo.com/me/videos");
    check("https://files.tus.vimeo.com/files/abc?token=SECRET&x=1", "https://files.tus.vimeo.com/files/abc");
    check("https://user:pass@host:8443/p/q#frag", "https://host:8443/p/q");
    check("https://a@b@host?only=query", "https://host");
    check("http://127.0.0.1:9/files/x#y?z", "http://127.0.0.1:9/files/x");
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(drops_user_info_query_and_fragment) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
