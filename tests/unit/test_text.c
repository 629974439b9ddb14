/* Names are shown escaped: no escape sequence reaches the terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <locale.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

static void escapes_controls_and_bad_bytes(void **state)
{
    (void)state;
    char out[128];
    text_escape("evil\x1b[2Jname\r\n.mp4", out, sizeof out);
    assert_string_equal(out, "evil\\x1b[2Jname\\x0d\\x0a.mp4");
    text_escape("caf\xc3\xa9 \xe2\x98\x83", out, sizeof out);
    assert_string_equal(out, "caf\xc3\xa9 \xe2\x98\x83");
    text_escape("bad\xff\xc3", out, sizeof out);
    assert_string_equal(out, "bad\\xff\\xc3");
    text_escape("c1\xc2\x9b", out, sizeof out); /* U+009B is CSI: an escape too */
    assert_string_equal(out, "c1\\xc2\\x9b");
    text_escape("del\x7f", out, sizeof out);
    assert_string_equal(out, "del\\x7f");
}

static void escapes_every_non_ascii_byte_for_a_non_utf8_terminal(void **state)
{
    (void)state;
    char out[128];
    text_escape_for("caf\xc3\xa9 \xe2\x98\x83\x1b.mp4", false, out, sizeof out);
    assert_string_equal(out, "caf\\xc3\\xa9 \\xe2\\x98\\x83\\x1b.mp4");
    assert_int_equal(text_width(out), (int)strlen(out));
    text_escape_for("caf\xc3\xa9", true, out, sizeof out);
    assert_string_equal(out, "caf\xc3\xa9");
    text_escape_for("ab\xc3\xa9", false, out, 8); /* no half escape */
    assert_string_equal(out, "ab\\xc3");
}

static void never_cuts_a_character(void **state)
{
    (void)state;
    char out[6];
    text_escape("ab\xe2\x98\x83", out, sizeof out); /* 5 bytes + NUL fits */
    assert_string_equal(out, "ab\xe2\x98\x83");
    text_escape("abc\xe2\x98\x83", out, sizeof out);
    assert_string_equal(out, "abc");
    text_escape("a\x01", out, 5);
    assert_string_equal(out, "a");
}

static void fits_by_display_width(void **state)
{
    (void)state;
    char out[128];
    setlocale(LC_ALL, "C.UTF-8");
    assert_int_equal(text_width("abc"), 3);
    assert_int_equal(text_width("\xe6\x9d\xb1\xe4\xba\xac"), 4); /* two wide CJK characters */
    text_fit("short.mp4", 12, true, TEXT_CUT_MIDDLE, out, sizeof out);
    assert_string_equal(out, "short.mp4   ");
    text_fit("a-very-long-file-name.mp4", 11, true, TEXT_CUT_MIDDLE, out, sizeof out);
    assert_string_equal(out, "a-ver\xe2\x80\xa6" "e.mp4");
    assert_int_equal(text_width(out), 11);
    text_fit("a-very-long-file-name.mp4", 11, false, TEXT_CUT_MIDDLE, out, sizeof out);
    assert_string_equal(out, "a-ver~e.mp4");
    text_fit("a-very-long-file-name.mp4", 11, false, TEXT_CUT_END, out, sizeof out);
    assert_string_equal(out, "a-very-lon~");
    text_fit("\xe6\x9d\xb1\xe4\xba\xac\xe6\x9d\xb1\xe4\xba\xac.mp4", 9, true, TEXT_CUT_MIDDLE, out, sizeof out);
    assert_int_equal(text_width(out), 9); /* never half a wide character */
    /* Nor half of an escaped byte (a name in a non-UTF-8 locale). */
    text_fit("drone \\xe2\\x98\\x83 shot.mkv", 21, false, TEXT_CUT_MIDDLE, out, sizeof out);
    assert_string_equal(out, "drone \\xe2~ shot.mkv ");
    assert_int_equal(text_width(out), 21);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_controls_and_bad_bytes),
        cmocka_unit_test(escapes_every_non_ascii_byte_for_a_non_utf8_terminal),
        cmocka_unit_test(never_cuts_a_character),
        cmocka_unit_test(fits_by_display_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
