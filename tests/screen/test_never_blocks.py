"""The dashboard never waits for the network or the journal: a DELETE that
takes seconds and a journal locked by another process leave the screen live."""
import os
import sqlite3
import threading
import time
import unittest

from test_dashboard import Dashboard, alive


class NeverBlocks(Dashboard):
    def remove_paused_with_its_video(self, pane, fault):
        """Pause slow.mp4 (no worker holds it then: the engine's helper sends
        the DELETE), set fault, remove it with its video; its video's URI."""
        self.see(pane, r"slow\.mp4 .*uploading")
        pane.keys("p")
        self.see(pane, r"slow\.mp4 .*paused")
        video = self.sandbox.upload_named("slow.mp4")["video"]
        self.sandbox.fault(fault)
        pane.keys("d")
        self.see(pane, r"Remove slow\.mp4")
        pane.keys("y")
        self.see(pane, r"Also delete its video")
        pane.keys("y")
        return video

    def test_cancel_with_delete_returns_at_once_on_a_slow_api(self):
        slow, other = self.files(("slow.mp4", 8 << 20), ("other.mp4", 8 << 20))
        pane = self.open("-r", "1M", "-j", "2", slow, other)
        video = self.remove_paused_with_its_video(pane, "latency=5000")
        start = time.monotonic()
        self.wait_for(lambda: "slow.mp4" not in pane.screen(), timeout=3, what="the row to go")
        self.assertLess(time.monotonic() - start, 1.5, "the dashboard waited for the DELETE")
        pane.keys("j")  # and it takes keys meanwhile
        self.see(pane, r"other\.mp4", timeout=2)
        self.sandbox.clear_faults()
        self.wait_for(lambda: self.sandbox.api("GET", video)[0] == 404, timeout=20, what="the video to be deleted")

    def test_a_delete_asked_for_goes_out_even_when_quitting_at_once(self):
        (slow,) = self.files(("slow.mp4", 8 << 20))
        pane = self.open("-r", "1M", slow)
        video = self.remove_paused_with_its_video(pane, "latency=1500,on=api,method=DELETE")
        pane.keys("q")  # "video deleted" was said: quitting must not drop it
        if "Quit?" in pane.screen():
            pane.keys("y")
        self.exit_status(pane, timeout=15)
        self.assertEqual(self.sandbox.api("GET", video)[0], 404, "the DELETE went out before the exit")

    def test_journal_locked_by_another_process_leaves_the_screen_live(self):
        first, second = self.files(("first.mp4", 8 << 20), ("second.mp4", 1 << 20))
        pane = self.open("-r", "1M", "-j", "1", first, second)
        self.see(pane, r"first\.mp4 .*uploading")
        journal = sqlite3.connect(os.path.join(self.state, "journal.db"), isolation_level=None, timeout=20,
                                  check_same_thread=False)
        journal.execute("BEGIN IMMEDIATE")  # the write lock, as a second vimeo-up mid-transaction holds it
        released = threading.Timer(10, journal.execute, ("COMMIT",))
        released.start()
        try:
            pane.keys("j", "p")  # pause the queued file: its save must wait, the screen must not
            start = time.monotonic()
            self.see(pane, r"second\.mp4 .*paused", timeout=3)
            self.assertLess(time.monotonic() - start, 1.5, "the dashboard waited for the journal")
            pane.keys("r")
            self.see(pane, r"second\.mp4 .*queued", timeout=3)
        finally:
            released.join()
            journal.close()
        pane.keys("]", "]")
        self.see(pane, r"second\.mp4 .*done", timeout=60)


class HangUp(Dashboard):
    def test_a_hang_up_while_the_server_sits_on_a_request_ends_at_once(self):
        (a,) = self.files(("sitting.mp4", 16 << 20))
        self.sandbox.fault("latency=10000,on=api,method=POST")  # the create: 10 s of silence
        pane = self.open(a)
        self.see(pane, r"sitting\.mp4 .*creating")
        time.sleep(2)
        pane.kill()  # an SSH link lost: SIGHUP
        started = time.monotonic()
        self.wait_for(lambda: not alive(self.pid), timeout=5, what="vimeo-up to end after SIGHUP")
        took = time.monotonic() - started
        # A create gets 2 s for its answer (core/pool.c: cut off, it may
        # leave a video no journal row names), then the stop reaches it
        # through curl's progress callback, which curl calls at least once
        # a second while it waits; the server would have kept it 8 s more.
        self.assertLess(took, 3.5, "the stop waited for the server's answer")


def load_tests(loader, standard_tests, pattern):
    """Only this file's tests: the Dashboard tests it builds on run from their own file."""
    return unittest.TestSuite(case(name) for case in (NeverBlocks, HangUp) for name in vars(case)
                              if name.startswith("test_"))
