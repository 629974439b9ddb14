/* Sizes and rates as users type them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/units.h"

static void parses_suffixes(void **state)
{
    (void)state;
    static const struct { const char *text; uint64_t bytes; } ok[] = {
        { "0", 0 }, { "1", 1 }, { "128M", 128ULL << 20 }, { "128m", 128ULL << 20 }, { "1K", 1024 },
        { "2G", 2ULL << 30 }, { "1T", 1ULL << 40 }, { "1.5G", 3ULL << 29 }, { "10MB", 10ULL << 20 },
        { "10MiB", 10ULL << 20 }, { "512B", 512 }, { "0.5K", 512 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 7;
        assert_true(units_parse_size(ok[i].text, &v));
        assert_int_equal(v, ok[i].bytes);
    }
}

static void refuses_junk(void **state)
{
    (void)state;
    const char *bad[] = { "", "-1", "M", "12X", "1.5", "1 M", "99999999999999999999", "20000000000G", "0x10",
                          "1MM", ".", "+5" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        assert_false(units_parse_size(bad[i], &v));
    }
}

static void formats_sizes_and_durations(void **state)
{
    (void)state;
    char out[32];
    units_format_size(0, out, sizeof out);
    assert_string_equal(out, "0 B");
    units_format_size(1023, out, sizeof out);
    assert_string_equal(out, "1023 B");
    units_format_size(1536, out, sizeof out);
    assert_string_equal(out, "1.5 KiB");
    units_format_size(300ULL << 20, out, sizeof out);
    assert_string_equal(out, "300 MiB");
    units_format_duration(59, out, sizeof out);
    assert_string_equal(out, "59s");
    units_format_duration(723, out, sizeof out);
    assert_string_equal(out, "12m03s");
    units_format_duration(11220, out, sizeof out);
    assert_string_equal(out, "3h07m");
    units_format_duration(-1, out, sizeof out);
    assert_string_equal(out, "-");
}

static void converts_seconds_to_timespec(void **state)
{
    (void)state;
    struct timespec ts = units_timespec(2.25);
    assert_int_equal(ts.tv_sec, 2);
    assert_int_equal(ts.tv_nsec, 250000000);
    ts = units_timespec(0.1);
    assert_int_equal(ts.tv_sec, 0);
    assert_in_range(ts.tv_nsec, 99999999, 100000000);
    ts = units_timespec(0.9999999999999999); /* never a tv_nsec of 1e9 */
    assert_int_equal(ts.tv_sec, 0);
    assert_in_range(ts.tv_nsec, 999999990, 999999999);
    ts = units_timespec(-3);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(ts.tv_nsec, 0);
    ts = units_timespec(NAN);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(ts.tv_nsec, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_suffixes),
        cmocka_unit_test(refuses_junk),
        cmocka_unit_test(formats_sizes_and_durations),
        cmocka_unit_test(converts_seconds_to_timespec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
