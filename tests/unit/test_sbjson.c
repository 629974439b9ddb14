/* The sandbox's JSON reader: it must accept what real clients send and refuse
 * what a broken client would send, or the sandbox would hide client bugs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sbjson.h"

static bool find(const char *doc, const char *path, struct sbjson_value *v)
{
    return sbjson_find(doc, strlen(doc), path, v);
}

static void finds_nested_values(void **state)
{
    (void)state;
    const char *doc = "{\"upload\": {\"approach\": \"tus\", \"size\": \"1073741824\"}, \"name\": \"a\\\"b\"}";
    struct sbjson_value v;
    char text[64];
    uint64_t n;
    assert_true(find(doc, "upload.approach", &v));
    assert_true(sbjson_string(&v, text, sizeof text));
    assert_string_equal(text, "tus");
    assert_true(find(doc, "upload.size", &v));
    assert_true(sbjson_uint(&v, &n));
    assert_int_equal(n, 1073741824ULL);
    assert_true(find(doc, "name", &v));
    assert_true(sbjson_string(&v, text, sizeof text));
    assert_string_equal(text, "a\"b");
    assert_false(find(doc, "upload.missing", &v));
    assert_false(find(doc, "size", &v)); /* only at its own depth */
}

static void decodes_unicode_escapes(void **state)
{
    (void)state;
    struct sbjson_value v;
    char text[64];
    assert_true(find("{\"n\":\"\\u00e9\\ud83d\\ude00\\n\"}", "n", &v));
    assert_true(sbjson_string(&v, text, sizeof text));
    assert_string_equal(text, "\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_true(find("{\"n\":\"\\ud83d\"}", "n", &v));
    assert_false(sbjson_string(&v, text, sizeof text)); /* lone surrogate */
    assert_true(find("{\"n\":\"\\u0000\"}", "n", &v));
    assert_false(sbjson_string(&v, text, sizeof text)); /* NUL would truncate a name */
}

static void refuses_invalid_documents(void **state)
{
    (void)state;
    const char *bad[] = { "", "{", "{\"a\":}", "{\"a\":1,}", "[1 2]", "{\"a\":01}", "\"\x01\"", "{\"a\":tru}",
                          "{} {}", "{\"a\":\"\\x\"}", "1.", "-" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(sbjson_valid(bad[i], strlen(bad[i])));
    const char *good[] = { "{}", "[]", "0", "-1.5e3", "{\"a\":[1,{\"b\":null}],\"c\":true}", " \"x\" " };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(sbjson_valid(good[i], strlen(good[i])));
}

static void bounds_nesting(void **state)
{
    (void)state;
    char deep[300];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 99);
    deep[299] = '\0';
    assert_false(sbjson_valid(deep, strlen(deep)));
}

static void uint_rejects_signs_fractions_and_overflow(void **state)
{
    (void)state;
    struct sbjson_value v;
    uint64_t n;
    const char *docs[] = { "{\"s\":-1}", "{\"s\":1.5}", "{\"s\":\"12a\"}", "{\"s\":\"\"}",
                           "{\"s\":99999999999999999999}", "{\"s\":true}" };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        assert_true(find(docs[i], "s", &v));
        assert_false(sbjson_uint(&v, &n));
    }
}

static void writer_escapes(void **state)
{
    (void)state;
    struct sbjson_buf b = { 0 };
    sbjson_quote(&b, "q\"b\\c\n\x01\xc3\xa9");
    assert_string_equal(b.data, "\"q\\\"b\\\\c\\u000a\\u0001\xc3\xa9\"");
    assert_true(sbjson_valid(b.data, b.len));
    sbjson_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_nested_values),     cmocka_unit_test(decodes_unicode_escapes),
        cmocka_unit_test(refuses_invalid_documents), cmocka_unit_test(bounds_nesting),
        cmocka_unit_test(uint_rejects_signs_fractions_and_overflow), cmocka_unit_test(writer_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
