/* The self-pipe: no wake-up may be lost, however signals and drains
 * interleave. A lost one leaves the front end asleep over news. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "wakeup.h"

enum { SIGNALS = 100000 };

struct shared {
    struct wakeup w;
    atomic_uint changes;    /* what the signaller "changed" before each signal */
};

static void *signaller(void *arg)
{
    struct shared *s = arg;
    for (unsigned i = 0; i < SIGNALS; i++) {
        atomic_fetch_add(&s->changes, 1);
        wakeup_signal(&s->w);
        sched_yield(); /* let the reader run between signals: that is where the races are */
    }
    return NULL;
}

static void signals_coalesce_and_none_is_lost(void **state)
{
    (void)state;
    struct shared s;
    assert_true(wakeup_init(&s.w));
    atomic_init(&s.changes, 0);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, signaller, &s), 0);
    unsigned seen = 0;
    while (seen < SIGNALS) {
        /* Every change is followed by a signal, so while changes remain
         * unseen the fd must become readable: a wait of seconds here is a
         * lost wake-up, not slowness. */
        struct pollfd pfd = { wakeup_fd(&s.w), POLLIN, 0 };
        int ready = poll(&pfd, 1, 5000);
        if (ready == 0)
            fail_msg("lost a wake-up: saw %u of %u changes, fd not readable", seen, SIGNALS);
        wakeup_drain(&s.w);
        seen = atomic_load(&s.changes);
    }
    pthread_join(thread, NULL);
    /* The last signal may land after the last drain above (its change was
     * seen before its byte was written); with the signaller gone, one drain
     * leaves nothing pending. */
    wakeup_drain(&s.w);
    struct pollfd pfd = { wakeup_fd(&s.w), POLLIN, 0 };
    assert_int_equal(poll(&pfd, 1, 0), 0);
    wakeup_signal(&s.w);
    wakeup_signal(&s.w);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    wakeup_close(&s.w);
    assert_int_equal(wakeup_fd(&s.w), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signals_coalesce_and_none_is_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
