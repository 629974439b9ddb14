/* Reading Vimeo's answers and writing request bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static const char video[] =
    "{\"uri\": \"/videos/277414045\", \"link\": \"https://vimeo.com/277414045\", \"name\": \"Holiday.mp4\","
    " \"upload\": {\"status\": \"in_progress\", \"approach\": \"tus\", \"size\": 1057149,"
    "   \"upload_link\": \"https://files.tus.vimeo.com/files/vimeo-prod-src-tus-eu/ec12\\/35\"},"
    " \"transcode\": {\"status\": \"in_progress\"}, \"tags\": [{\"uri\": \"/x\"}, 3]}";

static void reads_a_vimeo_answer(void **state)
{
    (void)state;
    struct json j;
    char text[256];
    uint64_t n;
    assert_true(json_parse(&j, video, strlen(video)));
    assert_true(json_get_string(&j, json_find(&j, "uri"), text, sizeof text));
    assert_string_equal(text, "/videos/277414045");
    assert_true(json_get_string(&j, json_find(&j, "upload.upload_link"), text, sizeof text));
    assert_string_equal(text, "https://files.tus.vimeo.com/files/vimeo-prod-src-tus-eu/ec12/35");
    assert_true(json_get_uint(&j, json_find(&j, "upload.size"), &n));
    assert_int_equal(n, 1057149);
    assert_true(json_get_string(&j, json_find(&j, "transcode.status"), text, sizeof text));
    assert_string_equal(text, "in_progress");
    assert_int_equal(json_find(&j, "upload.missing"), -1);
    assert_int_equal(json_find(&j, "status"), -1); /* nested keys are not top-level ones */
    int tags = json_find(&j, "tags");
    assert_true(json_get_string(&j, json_find_in(&j, json_array_item(&j, tags, 0), "uri"), text, sizeof text));
    assert_string_equal(text, "/x");
    assert_true(json_get_uint(&j, json_array_item(&j, tags, 1), &n));
    assert_int_equal(json_array_item(&j, tags, 2), -1);
    json_free(&j);
}

static void size_as_string_and_null_quota(void **state)
{
    (void)state;
    const char *doc = "{\"size\":\"1073741824\",\"upload_quota\":{\"space\":{\"free\":null}}}";
    struct json j;
    uint64_t n;
    assert_true(json_parse(&j, doc, strlen(doc)));
    assert_true(json_get_uint(&j, json_find(&j, "size"), &n));
    assert_int_equal(n, 1073741824ULL);
    assert_true(json_is_null(&j, json_find(&j, "upload_quota.space.free")));
    assert_false(json_get_uint(&j, json_find(&j, "upload_quota.space.free"), &n));
    json_free(&j);
}

static void refuses_garbage(void **state)
{
    (void)state;
    const char *bad[] = { "", "<html><body>502 Bad Gateway</body></html>", "{\"uri\": \"/videos/1\"",
                          "{\"a\":1} trailing", "{\"a\":tru}", "{'a':1}", "[1,]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct json j;
        assert_false(json_parse(&j, bad[i], strlen(bad[i])));
        json_free(&j);
    }
}

static void deep_nesting_does_not_recurse(void **state)
{
    (void)state;
    enum { DEPTH = 100000 };
    static char doc[2 * DEPTH + 16];
    memset(doc, '[', DEPTH);
    memset(doc + DEPTH, ']', DEPTH);
    struct json j;
    assert_true(json_parse(&j, doc, 2 * DEPTH));
    assert_int_equal(json_find(&j, "x"), -1);
    json_free(&j);
}

static void escapes_and_refuses_bad_utf8(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_true(json_append_string(&b, "a\"b\\c\nd\te\x01\x7f\xc3\xa9\xf0\x9f\x98\x80"));
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\xc3\xa9\xf0\x9f\x98\x80\"");
    buf_reset(&b);
    assert_false(json_append_string(&b, "bad \xff name"));
    assert_false(json_append_string(&b, "overlong \xc0\xaf"));
    assert_false(json_append_string(&b, "surrogate \xed\xa0\x80"));
    assert_false(json_append_string(&b, "cut \xe2\x82"));
    buf_reset(&b);
    assert_true(json_append_string_lossy(&b, "bad \xff"));
    assert_string_equal(b.data, "\"bad \\ufffd\"");
    buf_reset(&b);
    assert_true(json_append_string_or_null(&b, "") && buf_puts(&b, ",") && json_append_string_or_null(&b, "/v\xff"));
    assert_string_equal(b.data, "null,\"/v\\ufffd\"");
    /* What we write, we read back the same. */
    buf_reset(&b);
    const char *name = "Q\"uote\\ \n\x02 \xe2\x98\x83";
    assert_true(json_append_string(&b, name));
    struct json j;
    char back[64];
    assert_true(json_parse(&j, b.data, b.len));
    assert_true(json_get_string(&j, 0, back, sizeof back));
    assert_string_equal(back, name);
    json_free(&j);
    buf_free(&b);
}

static void buf_cap_holds(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_true(buf_puts(&b, "0123456789"));
    assert_false(buf_puts(&b, "x"));
    assert_true(b.overflowed);
    assert_int_equal(b.len, 10);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_a_vimeo_answer),  cmocka_unit_test(size_as_string_and_null_quota),
        cmocka_unit_test(refuses_garbage),       cmocka_unit_test(deep_nesting_does_not_recurse),
        cmocka_unit_test(escapes_and_refuses_bad_utf8), cmocka_unit_test(buf_cap_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
