/* The Vimeo API calls against the sandbox (which shares no code with them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"
#include "engine.h"
#include "vimeo.h"

/* The sandbox's API on a handle of its own (the caller frees api.http). */
static struct vimeo_api sandbox_api(void)
{
    struct http_options options = { .connect_timeout = 5, .low_speed_limit = 1, .low_speed_time = 30,
                                    .api_timeout = 10 };
    struct vimeo_api api = { .http = http_new(&options), .base = sandbox_url, .token = "t" };
    assert_non_null(api.http);
    return api;
}

static void create_replace_status_delete(void **state)
{
    (void)state;
    struct vimeo_api api = sandbox_api();
    struct http *http = api.http;
    struct vimeo_result r;
    struct vimeo_upload up, version;
    struct vimeo_video_meta meta = { .name = "n\"ame \xe2\x98\x83", .privacy = "unlisted" };
    int64_t free_bytes;

    vimeo_quota(&api, &free_bytes, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    assert_int_equal(free_bytes, -1); /* the sandbox sets no quota: null */

    vimeo_create(&api, 1234, &meta, &up, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    assert_true(strncmp(up.uri, "/videos/", 8) == 0);
    assert_true(strstr(up.upload_link, "/files/") != NULL);
    char page[256];
    snprintf(page, sizeof page, "https://vimeo.com/%.60s", up.uri + 8); /* the video's "link" */
    assert_string_equal(up.page, page);

    vimeo_replace(&api, up.uri, 99, "new.mp4", &version, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    assert_string_equal(version.uri, up.uri);
    assert_string_not_equal(version.upload_link, up.upload_link);

    char upload_status[32], transcode[32], expected[256];
    snprintf(expected, sizeof expected, "%s", page);
    vimeo_status(&api, up.uri, upload_status, transcode, sizeof upload_status, page, sizeof page, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    assert_string_equal(upload_status, "in_progress");
    assert_string_equal(page, expected); /* a version has none: the status says it */

    vimeo_delete(&api, up.uri, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    vimeo_status(&api, up.uri, upload_status, transcode, sizeof upload_status, page, sizeof page, &r);
    assert_int_equal(r.outcome, HTTP_GONE);

    meta.name = "latin-1 caf\xe9"; /* a title from a file name: U+FFFD, not a refusal */
    vimeo_create(&api, 10, &meta, &up, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    meta.description = "bad \xff utf-8"; /* what the user typed is sent as typed, or not at all */
    vimeo_create(&api, 10, &meta, &up, &r);
    assert_int_equal(r.outcome, HTTP_FATAL);
    assert_non_null(strstr(r.error, "UTF-8"));

    api.token = "wrong-token";
    vimeo_quota(&api, &free_bytes, &r);
    assert_int_equal(r.outcome, HTTP_FATAL);
    assert_non_null(strstr(r.error, "8003"));
    assert_null(strstr(r.error, "wrong-token"));
    http_free(http);
}

/* GET /me/videos: newest first, 100 a page, with each video's statuses and
 * page, and whether a later page exists. */
static void list_pages_newest_first(void **state)
{
    (void)state;
    struct vimeo_api api = sandbox_api();
    struct vimeo_result r;
    struct vimeo_upload up;
    struct vimeo_video_meta meta = { .name = "listed" };
    static struct vimeo_video_status videos[100];
    size_t n;
    bool more;
    vimeo_list(&api, 1, 100, videos, 100, &n, &more, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    size_t before = n;
    for (size_t i = 0; i < 101 - before; i++) {
        vimeo_create(&api, 10, &meta, &up, &r);
        assert_int_equal(r.outcome, HTTP_OK);
    }
    vimeo_list(&api, 1, 100, videos, 100, &n, &more, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    assert_int_equal(n, 100);
    assert_true(more);
    assert_string_equal(videos[0].uri, up.uri); /* the newest */
    assert_string_equal(videos[0].upload_status, "in_progress"); /* no byte sent yet */
    assert_string_equal(videos[0].transcode_status, "in_progress");
    assert_string_equal(videos[0].page, up.page);
    vimeo_list(&api, 2, 100, videos, 100, &n, &more, &r);
    assert_int_equal(r.outcome, HTTP_OK);
    assert_true(n >= 1);
    assert_false(more);
    http_free(api.http);
}

/* Both forms of a video's URI name the same video. */
static void a_video_id_from_either_uri(void **state)
{
    (void)state;
    assert_int_equal(vimeo_video_id("/videos/123"), 123);
    assert_int_equal(vimeo_video_id("/videos/123:abc0ef"), 123);
    assert_int_equal(vimeo_video_id("/videos/"), 0);
    assert_int_equal(vimeo_video_id("/users/1"), 0);
    assert_int_equal(vimeo_video_id("/videos/12x"), 0);
}

/* An error listing 450,000 invalid parameters: each read once, so the line
 * comes in milliseconds (reading item i from the start each time took
 * minutes), and the last field is still found. */
static void long_invalid_parameters_are_read_once(void **state)
{
    (void)state;
    enum { ITEMS = 450000 };
    struct buf body;
    buf_init(&body, 4 << 20);
    assert_true(buf_puts(&body, "{\"error\":\"bad\",\"invalid_parameters\":["));
    for (int i = 0; i < ITEMS; i++)
        assert_true(buf_puts(&body, "0,"));
    assert_true(buf_puts(&body, "{\"field\":\"last\"}]}"));
    char out[400];
    clock_t start = clock(); /* CPU time */
    vimeo_error_line(400, "application/json", body.data, body.len, NULL, out, sizeof out);
    assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 2.0);
    assert_string_equal(out, "Vimeo API: bad (HTTP 400; invalid: last)");
    buf_free(&body);
}

/* --replace names a video as a user has it at hand: its URI, its number,
 * or its page's address; anything else is refused. */
static void a_video_named_every_way(void **state)
{
    (void)state;
    static const char *const good[][2] = {
        { "/videos/123", "/videos/123" }, { "/videos/123:abc0ef", "/videos/123:abc0ef" }, { "123", "/videos/123" },
        { "https://vimeo.com/123", "/videos/123" }, { "https://vimeo.com/123/abc0ef", "/videos/123:abc0ef" },
        { "https://vimeo.com/123/", "/videos/123" }, { "https://vimeo.com/123?share=copy", "/videos/123" },
        { "https://www.vimeo.com/123/abc0ef#t=3", "/videos/123:abc0ef" }, { "vimeo.com/123", "/videos/123" }, { "123:abc", "/videos/123:abc" },
    };
    static const char *const bad[] = {
        "", "abc", "/videos/", "/videos/12x", "12 ", "-12", "https://example.com/123", "https://vimeo.com/",
        "https://vimeo.com/123/xyz", "/videos/123/abc", "https://vimeo.com/123/abc/d",
        "https://evil.example/vimeo.com/123", "/videos/123:",
    };
    char out[96];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(engine_parse_video(good[i][0], out, sizeof out));
        assert_string_equal(out, good[i][1]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (engine_parse_video(bad[i], out, sizeof out))
            fail_msg("accepted %s as %s", bad[i], out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_replace_status_delete),
        cmocka_unit_test(long_invalid_parameters_are_read_once),
        cmocka_unit_test(list_pages_newest_first),
        cmocka_unit_test(a_video_id_from_either_uri),
        cmocka_unit_test(a_video_named_every_way),
    };
    return cmocka_run_group_tests(tests, start_sandbox, stop_sandbox);
}
