/* Headers and URLs from the server, and what we refuse to send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "vimeo.h"

static void header(struct http_result *r, const char *line)
{
    http_parse_header(line, strlen(line), r);
}

static void parses_tus_and_rate_limit_headers(void **state)
{
    (void)state;
    struct http_result r = { .retry_after = -1, .ratelimit_remaining = -1 };
    header(&r, "HTTP/1.1 204 No Content\r\n");
    header(&r, "upload-offset: 1048576\r\n");
    header(&r, "Upload-Length:   2097152  \r\n");
    header(&r, "Retry-After: 7\r\n");
    header(&r, "X-RateLimit-Remaining: 0\r\n");
    header(&r, "X-RateLimit-Reset: 2023-04-08T09:21:35+00:00\r\n");
    header(&r, "Location: /files/abc\r\n");
    assert_true(r.has_offset);
    assert_int_equal(r.upload_offset, 1048576);
    assert_true(r.has_length);
    assert_int_equal(r.upload_length, 2097152);
    assert_int_equal(r.retry_after, 7);
    assert_int_equal(r.ratelimit_remaining, 0);
    assert_string_equal(r.ratelimit_reset, "2023-04-08T09:21:35+00:00");
    assert_string_equal(r.location, "/files/abc");
    /* A second response (after 100 Continue) forgets the first one's headers. */
    header(&r, "HTTP/1.1 200 OK\r\n");
    assert_false(r.has_offset);
    assert_int_equal(r.retry_after, -1);
}

static void refuses_bad_offsets(void **state)
{
    (void)state;
    const char *bad[] = { "Upload-Offset: -1", "Upload-Offset: 12abc", "Upload-Offset: ", "Upload-Offset: 1 2",
                          "Upload-Offset: 99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_result r = { 0 };
        header(&r, bad[i]);
        assert_false(r.has_offset);
    }
}

static void retry_after_as_date(void **state)
{
    (void)state;
    struct http_result r = { .retry_after = -1 };
    header(&r, "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT");
    assert_int_equal(r.retry_after, 0); /* in the past: now */
    header(&r, "Retry-After: soon");
    assert_int_equal(r.retry_after, -1);
}

static void url_policy(void **state)
{
    (void)state;
    char why[96];
    assert_true(http_url_allowed("https://files.tus.vimeo.com/files/x", why, sizeof why));
    assert_true(http_url_allowed("http://127.0.0.1:8080/files/x", why, sizeof why));
    assert_true(http_url_allowed("http://localhost/x", why, sizeof why));
    assert_true(http_url_allowed("http://[::1]:99/x", why, sizeof why));
    assert_false(http_url_allowed("http://files.tus.vimeo.com/files/x", why, sizeof why));
    assert_non_null(strstr(why, "loopback"));
    assert_false(http_url_allowed("http://127.0.0.1.evil.com/x", why, sizeof why));
    assert_false(http_url_allowed("ftp://127.0.0.1/x", why, sizeof why));
    assert_false(http_url_allowed("file:///etc/passwd", why, sizeof why));
    assert_false(http_url_allowed("https://a/x\r\nAuthorization: x", why, sizeof why));
    assert_false(http_url_allowed("https://a/x y", why, sizeof why));
    assert_false(http_url_allowed("", why, sizeof why));
    assert_false(http_header_value_safe("Upload-Offset: 1\r\nX: y"));
    assert_true(http_header_value_safe("Upload-Offset: 1"));
}

/* One handle keeps the verdict for an origin it has let through; a URL of
 * another origin, however like it, is judged afresh. */
static void url_policy_holds_request_after_request(void **state)
{
    (void)state;
    assert_true(http_global_init());
    struct http_options options = { .connect_timeout = 5, .api_timeout = 5 };
    struct http *h = http_new(&options);
    assert_non_null(h);
    static const struct { const char *url; bool allowed; } cases[] = {
        { "http://127.0.0.1:1/files/a", true },
        { "http://127.0.0.1:1/files/b", true },
        { "http://127.0.0.1:1@files.tus.vimeo.com/files/c", false },
        { "http://127.0.0.1:1.evil.com/files/d", false },
        { "http://127.0.0.1:1/files/e", true },
        { "http://127.0.0.1:1/files/f x", false },
        { "http://files.tus.vimeo.com/files/g", false },
        { "ftp://127.0.0.1:1/files/h", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request req = { .method = "HEAD", .url = cases[i].url };
        struct http_result res = { 0 };
        /* Let through, it is tried (nothing listens on port 1); refused, it is not. */
        bool tried = http_perform(h, &req, &res);
        bool refused = strncmp(res.error, "refused URL", 11) == 0;
        if (refused == cases[i].allowed || tried != cases[i].allowed)
            fail_msg("%s: %s", cases[i].url, res.error);
        buf_free(&res.body);
    }
    http_free(h);
    http_global_cleanup();
}

static void resolves_locations(void **state)
{
    (void)state;
    char out[256];
    assert_true(http_resolve("http://127.0.0.1:1080/files/", "/files/abc", out, sizeof out));
    assert_string_equal(out, "http://127.0.0.1:1080/files/abc");
    assert_true(http_resolve("http://127.0.0.1:1080/files/", "abc", out, sizeof out));
    assert_string_equal(out, "http://127.0.0.1:1080/files/abc");
    assert_true(http_resolve("http://127.0.0.1:1080/files", "https://up.example/x", out, sizeof out));
    assert_string_equal(out, "https://up.example/x");
}

static void outcome_classes(void **state)
{
    (void)state;
    static const struct { long status; enum http_outcome o; } cases[] = {
        { 200, HTTP_OK }, { 204, HTTP_OK }, { 500, HTTP_RETRY }, { 502, HTTP_RETRY }, { 503, HTTP_RETRY },
        { 423, HTTP_RETRY }, { 429, HTTP_RETRY }, { 409, HTTP_CONFLICT }, { 404, HTTP_GONE }, { 410, HTTP_GONE },
        { 412, HTTP_FATAL }, { 415, HTTP_FATAL }, { 400, HTTP_FATAL }, { 401, HTTP_FATAL }, { 403, HTTP_FATAL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_result r = { .status = cases[i].status };
        assert_int_equal(http_outcome_of(&r), cases[i].o);
    }
    struct http_result net = { .transport_error = true };
    assert_int_equal(http_outcome_of(&net), HTTP_RETRY);
}

static void vimeo_errors_in_one_line(void **state)
{
    (void)state;
    char out[400];
    const char *body = "{\"error\":\"Something strange occurred.\",\"link\":null,\"developer_message\":\"x\","
                       "\"error_code\":2204,\"invalid_parameters\":[{\"field\":\"upload.size\",\"error_code\":2204,"
                       "\"error\":\"bad\"},{\"field\":\"privacy.view\",\"error\":\"bad\"}]}";
    vimeo_error_line(400, "application/vnd.vimeo.error+json", body, strlen(body), NULL, out, sizeof out);
    /* Each field with its own error, and the developer_message, which often says more. */
    assert_string_equal(out, "Vimeo API: Something strange occurred.; x (HTTP 400, error 2204; invalid: "
                             "upload.size: bad; privacy.view: bad)");
    const char *no_user = "{\"error\":\"Unable to upload video. Please get in touch with the app's creator.\","
                          "\"developer_message\":\"The authenticated token has no user.\",\"error_code\":8002}";
    vimeo_error_line(401, "application/vnd.vimeo.error+json", no_user, strlen(no_user), NULL, out, sizeof out);
    assert_string_equal(out, "Vimeo API: Unable to upload video. Please get in touch with the app's creator.; The "
                             "authenticated token has no user. (HTTP 401, error 8002)");
    const char *html = "<html>Bad gateway</html>";
    vimeo_error_line(502, "text/html", html, strlen(html), NULL, out, sizeof out);
    assert_string_equal(out, "Vimeo API answered HTTP 502 with a body that is not JSON");
    const char *evil = "{\"error\":\"line\\nbreak\\u001b[31m\"}";
    vimeo_error_line(401, "application/json", evil, strlen(evil), NULL, out, sizeof out);
    assert_null(strchr(out, '\n'));
    assert_null(strchr(out, '\x1b'));
}

/* A server that echoes the token, in the message, a field, or \u-escaped:
 * the line shows "***" instead, and no control character from a field. */
static void vimeo_errors_mask_the_token(void **state)
{
    (void)state;
    char out[400];
    const char *body = "{\"error\":\"bad token abc123SECRET, or \\u0061bc123SECRET again\",\"error_code\":8003,"
                       "\"invalid_parameters\":[{\"field\":\"xabc123SECRETx\"},{\"field\":\"a\\u001b[31m\"}]}";
    vimeo_error_line(401, "application/json", body, strlen(body), "abc123SECRET", out, sizeof out);
    assert_string_equal(out, "Vimeo API: bad token ***, or *** again (HTTP 401, error 8003; invalid: x***x; a [31m)");
}

/* A body read into a buffer 16 bytes into its page (where malloc puts a
 * big one) is cut once so the next read starts level with the page. */
static void read_size_levels_the_next_read(void **state)
{
    (void)state;
    const uintptr_t buffer = 0x10010;
    size_t n = http_read_size(buffer, 0, 256 << 10);
    assert_int_equal(n, (256 << 10) - 4096 + 16);
    assert_int_equal((buffer - n) % 4096, 0);
    assert_int_equal(http_read_size(buffer, n, 256 << 10), 256 << 10);           /* level: whole reads */
    assert_int_equal(http_read_size(buffer, n + 7, 256 << 10), (256 << 10) - 7); /* 7 past level: 7 fewer */
    assert_int_equal(http_read_size(buffer - 16, 4096 * 3, 1000), 1000);         /* level, a small read */
    assert_int_equal(http_read_size(buffer, 0, 16), 16);                         /* nothing to cut */
    assert_int_equal(http_read_size(buffer, 0, 4000), 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_tus_and_rate_limit_headers), cmocka_unit_test(refuses_bad_offsets),
        cmocka_unit_test(retry_after_as_date),               cmocka_unit_test(url_policy),
        cmocka_unit_test(url_policy_holds_request_after_request),
        cmocka_unit_test(resolves_locations),                cmocka_unit_test(outcome_classes),
        cmocka_unit_test(vimeo_errors_in_one_line),         cmocka_unit_test(vimeo_errors_mask_the_token),
        cmocka_unit_test(read_size_levels_the_next_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
