"""Every file and every key gets an answer on screen: refused files have a
row, a key that cannot act says why, r tries a failed upload again."""
import os
import unittest

from harness import make_file, sha256_file
from test_dashboard import Dashboard


class CommandsAnswer(Dashboard):
    def test_refused_files_get_a_failed_row_with_the_reason(self):
        (good,) = self.files(("good.mp4", 100 << 10))
        empty = make_file(self.tmp, "empty.mp4", 0)
        pane = self.open(good, empty, "missing.mp4", width=120)
        self.see(pane, r"good\.mp4 .*done")
        screen = self.see(pane, r"empty\.mp4 .*failed")
        self.assertRegex(screen, r"missing\.mp4 .*failed")
        pane.keys("L")  # the whole log: each refusal has its line
        self.see(pane, r"failed +missing\.mp4: .*No such file or directory")

    def test_add_counts_only_new_files(self):
        busy, more = self.files(("busy.mp4", 8 << 20), ("more.mp4", 8 << 20))
        pane = self.open("-r", "1M", "-j", "1", busy)
        self.see(pane, r"busy\.mp4 .*uploading")
        pane.keys("a")
        self.see(pane, "Add file:")
        pane.keys(f"{self.tmp}/*.mp4", "Enter")
        self.see(pane, r"added 1 file; 1 already queued")

    def test_keys_that_cannot_act_say_why(self):
        (touched,) = self.files(("touched.mp4", 4 << 20))
        pane = self.open("-r", "1M", "-c", "512K", touched, width=120)
        self.wait_for(lambda: self.offset("touched.mp4") > 0, what="the first bytes")
        os.utime(touched)  # touched mid-upload: it fails, rightly, and r will not resume it
        self.see(pane, r"touched\.mp4 .*failed")
        pane.keys("p")
        self.see(pane, r"touched\.mp4: failed; r tries it again")
        pane.keys("r")
        self.see(pane, r"touched\.mp4: the file changed since; add it again")


class RetryFailed(Dashboard):
    sandbox_args = ("--quota", str(300 << 10))

    def test_r_tries_a_failed_upload_again(self):
        first, second = self.files(("first.mp4", 150 << 10), ("second.mp4", 200 << 10))
        pane = self.open("-j", "1", first, second, width=120)
        self.see(pane, r"second\.mp4 .*failed")  # over the free quota, once first.mp4 is in
        self.sandbox.api("DELETE", self.sandbox.upload_named("first.mp4")["video"])  # space comes back
        pane.keys("j", "r")
        self.see(pane, r"second\.mp4 .*done", timeout=30)
        pane.keys("r")
        self.see(pane, r"second\.mp4: already done")


def load_tests(loader, standard_tests, pattern):
    """Only this file's tests: the Dashboard tests it builds on run from their own file."""
    return unittest.TestSuite(case(name) for case in (CommandsAnswer, RetryFailed) for name in vars(case)
                              if name.startswith("test_"))
