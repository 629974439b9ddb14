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

static struct http *new_http(void)
{
    struct http_options options = { .connect_timeout = 5, .low_speed_limit = 1, .low_speed_time = 30,
                                    .api_timeout = 10 };
    struct http *h = http_new(&options);
    assert_non_null(h);
    return h;
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

    struct http *h = new_http();
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

/* A file of size bytes in dir, and an upload of size bytes for it. */
static int small_file_and_upload(struct http *h, const char *name, size_t size, char link[HTTP_URL_MAX])
{
    char path[128], endpoint[192], data[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && size <= sizeof data);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 13);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    struct tus_result out;
    snprintf(endpoint, sizeof endpoint, "%s/files", sandbox_url);
    tus_create(h, endpoint, size, name, link, HTTP_URL_MAX, &out);
    assert_int_equal(out.outcome, HTTP_OK);
    return fd;
}

static uint64_t offset_at_server(struct http *h, const char *link)
{
    struct tus_result out;
    tus_head(h, link, 0, &out);
    assert_int_equal(out.outcome, HTTP_OK);
    return out.offset;
}

/* A 3000-byte body sent under throttle: all of it arrives, and the
 * throttle was asked for these sizes, in this order. */
static void small_body_asks(const char *name, size_t (*throttle)(void *, size_t), const size_t *asked, size_t n)
{
    struct http *h = new_http();
    char link[HTTP_URL_MAX];
    int fd = small_file_and_upload(h, name, 3000, link);
    struct reads r = { .n = 0 };
    struct tus_result out;
    tus_patch(h, link, fd, 0, 3000, NULL, throttle, &r, &out);
    assert_int_equal(out.outcome, HTTP_OK);
    assert_int_equal(out.offset, 3000);
    assert_int_equal(offset_at_server(h, link), 3000);
    assert_int_equal(r.n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r.want[i], asked[i]);
    http_free(h);
    close(fd);
}

/* A small body granted whole by a rate cap is charged to it once, and goes
 * in the request's one send. */
static void small_body_granted_whole_is_asked_for_once(void **state)
{
    (void)state;
    const size_t asked[] = { 3000 };
    small_body_asks("whole.bin", note_read, asked, 1);
}

static size_t grant_700(void *ctx, size_t want)
{
    note_read(ctx, want);
    return want < 700 ? want : 700;
}

/* A small body granted only in part (a rate cap) goes as it is granted,
 * each piece asked for what is left, so that its progress shows. */
static void small_body_under_a_cap_goes_as_granted(void **state)
{
    (void)state;
    const size_t asked[] = { 3000, 2300, 1600, 900, 200 };
    small_body_asks("small.bin", grant_700, asked, 5);
}

static size_t refuse(void *ctx, size_t want)
{
    (void)ctx;
    (void)want;
    return 0;
}

/* A pause or stop that the throttle reports sends nothing. */
static void small_body_stopped_sends_nothing(void **state)
{
    (void)state;
    struct http *h = new_http();
    char link[HTTP_URL_MAX];
    int fd = small_file_and_upload(h, "stopped.bin", 1000, link);
    struct tus_result out;
    tus_patch(h, link, fd, 0, 1000, NULL, refuse, NULL, &out);
    assert_int_equal(out.outcome, HTTP_ABORTED);
    assert_int_equal(offset_at_server(h, link), 0);
    http_free(h);
    close(fd);
}

/* A file shorter than the body it should give is never padded: the
 * PATCH fails saying where the file ended, and nothing is sent. */
static void small_body_of_a_shrunk_file_is_not_sent(void **state)
{
    (void)state;
    struct http *h = new_http();
    char link[HTTP_URL_MAX];
    int fd = small_file_and_upload(h, "shrunk.bin", 2000, link);
    assert_int_equal(ftruncate(fd, 1500), 0);
    struct tus_result out;
    tus_patch(h, link, fd, 0, 2000, NULL, NULL, NULL, &out);
    assert_int_equal(out.outcome, HTTP_FATAL);
    assert_non_null(strstr(out.error, "cannot read the file at offset 1500"));
    assert_int_equal(offset_at_server(h, link), 0);
    http_free(h);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_reads_are_levelled_after_the_first),
        cmocka_unit_test(small_body_granted_whole_is_asked_for_once),
        cmocka_unit_test(small_body_under_a_cap_goes_as_granted),
        cmocka_unit_test(small_body_stopped_sends_nothing),
        cmocka_unit_test(small_body_of_a_shrunk_file_is_not_sent),
    };
    return cmocka_run_group_tests(tests, start_sandbox, stop_sandbox);
}
