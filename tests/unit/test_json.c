/* Reading Vimeo's answers and writing request bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/json.h"
#include "util/json_write.h"

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
    struct json_iter tags;
    json_array_iter(&j, json_find(&j, "tags"), &tags);
    assert_true(json_get_string(&j, json_find_in(&j, json_iter_next(&tags), "uri"), text, sizeof text));
    assert_string_equal(text, "/x");
    assert_true(json_get_uint(&j, json_iter_next(&tags), &n));
    assert_int_equal(n, 3);
    assert_int_equal(json_iter_next(&tags), -1);
    assert_int_equal(json_iter_next(&tags), -1);
    struct json_iter none;
    json_array_iter(&j, json_find(&j, "upload"), &none); /* an object is not an array */
    assert_int_equal(json_iter_next(&none), -1);
    json_array_iter(&j, -1, &none);
    assert_int_equal(json_iter_next(&none), -1);
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

/* The most a server can send (HTTP_BODY_MAX) of nothing but nesting: refused
 * at once. jsmn alone spends time growing with the depth at every bracket,
 * about 320 s of CPU for this document. */
static void deep_nesting_is_refused_in_linear_time(void **state)
{
    (void)state;
    enum { DEPTH = 512 * 1024 };
    static char doc[2 * DEPTH];
    memset(doc, '[', DEPTH);
    memset(doc + DEPTH, ']', DEPTH);
    struct json j;
    clock_t start = clock(); /* CPU time */
    assert_false(json_parse(&j, doc, 2 * DEPTH));
    json_free(&j);
    assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 2.0);
}

/* Exactly JSON_DEPTH_MAX levels parse, one more does not; brackets inside
 * strings are text, not nesting. */
static void depth_limit_counts_only_real_brackets(void **state)
{
    (void)state;
    char doc[4 * JSON_DEPTH_MAX + 64];
    struct json j;
    for (int extra = 0; extra < 2; extra++) {
        int depth = JSON_DEPTH_MAX + extra;
        memset(doc, '[', (size_t)depth);
        int n = sprintf(doc + depth, "\"[[\\\"{{\"");
        memset(doc + depth + n, ']', (size_t)depth);
        size_t len = (size_t)(2 * depth + n);
        assert_int_equal(json_parse(&j, doc, len), extra == 0);
        json_free(&j);
    }
}

static void token_count_is_bounded(void **state)
{
    (void)state;
    /* [0,0,...]: one token for the array and one per element. */
    static char doc[2 * JSON_TOKENS_MAX + 8];
    struct json j;
    for (int extra = 0; extra < 2; extra++) {
        int elements = JSON_TOKENS_MAX - 1 + extra;
        size_t len = 0;
        doc[len++] = '[';
        for (int i = 0; i < elements; i++) {
            doc[len++] = i ? ',' : '0';
            if (i)
                doc[len++] = '0';
        }
        doc[len++] = ']';
        assert_int_equal(json_parse(&j, doc, len), extra == 0);
        if (extra == 0)
            assert_int_equal(j.count, JSON_TOKENS_MAX);
        json_free(&j);
    }
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

static void raw_is_the_text_as_written(void **state)
{
    (void)state;
    const char *doc = "{\"rows\":[ {\"id\":1}, 2 ],\"name\":\"a\\\"b\"}";
    struct json j;
    size_t len;
    assert_true(json_parse(&j, doc, strlen(doc)));
    const char *text = json_raw(&j, json_find(&j, "rows"), &len);
    assert_int_equal(len, strlen("[ {\"id\":1}, 2 ]"));
    assert_memory_equal(text, "[ {\"id\":1}, 2 ]", len);
    text = json_raw(&j, json_find(&j, "name"), &len);
    assert_int_equal(len, 4);
    assert_memory_equal(text, "a\\\"b", len);
    assert_null(json_raw(&j, json_find(&j, "none"), &len));
    assert_int_equal(len, 0);
    json_free(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_a_vimeo_answer),  cmocka_unit_test(size_as_string_and_null_quota),
        cmocka_unit_test(refuses_garbage),       cmocka_unit_test(deep_nesting_is_refused_in_linear_time),
        cmocka_unit_test(depth_limit_counts_only_real_brackets), cmocka_unit_test(token_count_is_bounded),
        cmocka_unit_test(escapes_and_refuses_bad_utf8), cmocka_unit_test(buf_cap_holds),
        cmocka_unit_test(raw_is_the_text_as_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
