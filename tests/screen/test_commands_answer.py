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

    def test_keys_that_cannot_act_say_why_and_r_retries_a_failed_upload(self):
        (clip,) = self.files(("clip.mp4", 4 << 20))
        pane = self.open("-r", "1M", "-c", "512K", clip)
        self.wait_for(lambda: self.offset("clip.mp4") > 0, what="the first bytes")
        mtime = os.stat(clip).st_mtime_ns
        os.utime(clip, ns=(mtime, mtime + 10**9))  # touched mid-upload: it fails, rightly
        self.see(pane, r"clip\.mp4 .*failed")
        pane.keys("p")
        self.see(pane, r"clip\.mp4: failed; r tries it again")
        pane.keys("r")
        self.see(pane, r"clip\.mp4: the file changed since; add it again")
        os.utime(clip, ns=(mtime, mtime))  # as it was: r may try again
        pane.keys("r")
        self.see(pane, r"clip\.mp4 .*(queued|uploading|verifying|done)")
        pane.keys("]", "]")
        self.see(pane, r"clip\.mp4 .*done", timeout=30)
        pane.keys("r")
        self.see(pane, r"clip\.mp4: already done")
        self.assertEqual(self.sandbox.upload_named("clip.mp4")["sha256"], sha256_file(clip))


def load_tests(loader, standard_tests, pattern):
    """Only this file's tests: the Dashboard tests it builds on run from their own file."""
    return unittest.TestSuite(CommandsAnswer(name) for name in vars(CommandsAnswer) if name.startswith("test_"))
