/* A PATCH body streamed from a file through libcurl, against a real
 * sandbox: how the file is read into curl's buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>

#include "fixture.h"
#include "tus.h"

enum { READS_MAX = 64 };

struct reads {
    size_t want[READS_MAX];
    size_t n;
};

static size_t note_read(void *ctx, size_t want)
{
    struct reads *r = ctx;
    if (r->n < READS_MAX)
        r->want[r->n++] = want;
    return want;
}

/* The body starts at an odd file offset, so curl's buffer (8-aligned or
 * more) never sits level with it: the first read is cut, and every read
 * after it but the last takes a whole buffer. All of it arrives. */
static void body_reads_are_levelled_after_the_first(void **state)
{
    (void)state;
    const size_t size = (3 << 20) + 12345;
    char path[128], endpoint[192], link[HTTP_URL_MAX];
    snprintf(path, sizeof path, "%s/body.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char block[4096];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)(i * 7);
    for (size_t done = 0; done < size; done += sizeof block)
        assert_true(write(fd, block, size - done < sizeof block ? size - done : sizeof block) > 0);

    struct http_options options = { .connect_timeout = 5, .low_speed_limit = 1, .low_speed_time = 30,
                                    .api_timeout = 10 };
    struct http *h = http_new(&options);
    assert_non_null(h);
    struct tus_result out;
    snprintf(endpoint, sizeof endpoint, "%s/files", sandbox_url);
    tus_create(h, endpoint, size, "body.bin", link, sizeof link, &out);
    assert_int_equal(out.outcome, HTTP_OK);
    tus_patch(h, link, fd, 0, 1, NULL, NULL, NULL, &out);
    assert_int_equal(out.outcome, HTTP_OK);

    struct reads r = { .n = 0 };
    tus_patch(h, link, fd, 1, size - 1, NULL, note_read, &r, &out);
    assert_int_equal(out.outcome, HTTP_OK);
    assert_int_equal(out.offset, size);
    assert_int_equal(server_offset(), (long long)size);

    assert_true(r.n >= 3 && r.n < READS_MAX);
    size_t whole = r.want[1], sum = 0;
    assert_true(r.want[0] < whole);
    assert_int_equal(whole % 4096, 0);
    for (size_t i = 0; i < r.n; i++) {
        if (i > 0 && i + 1 < r.n)
            assert_int_equal(r.want[i], whole);
        sum += r.want[i];
    }
    assert_int_equal(sum, size - 1);
    http_free(h);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_reads_are_levelled_after_the_first),
    };
    return cmocka_run_group_tests(tests, start_sandbox, stop_sandbox);
}
