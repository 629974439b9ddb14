"""--bell and -v with the dashboard: a bell once every upload has ended, and
the request lines in the dashboard's log, never on the screen over it."""
import os
import signal
import subprocess
import time
import unittest

from harness import TOKEN, VIMEO_UP
from test_dashboard import Dashboard, head_rate


class DashboardCli(Dashboard):
    def raw_output(self, pane):
        """Every byte the pane's program writes from now on, into a file."""
        path = os.path.join(self.tmp, f"raw-{len(self.panes)}")
        pane.tmux("pipe-pane", "-t", "t", "-o", f"cat >> {path}")
        return path

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def test_bell_rings_once_when_every_upload_has_ended(self):
        a, b = self.files(("bell-a.mp4", 1 << 20), ("bell-b.mp4", 1 << 20))
        pane = self.open("--bell", "-r", "512K", "-c", "256K", a, b)
        raw = self.raw_output(pane)
        self.see(pane, r"bell-a\.mp4 .*uploading|bell-b\.mp4 .*uploading")
        self.see(pane, r"bell-a\.mp4 .*done", timeout=30)
        self.see(pane, r"bell-b\.mp4 .*done", timeout=30)
        self.wait_for(lambda: b"\x07" in self.read(raw), what="the bell")
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 0)
        self.assertEqual(self.read(raw).count(b"\x07"), 1)

    def test_no_bell_without_the_option_and_verbose_lines_in_the_log(self):
        (c,) = self.files(("quiet.mp4", 1 << 20))
        pane = self.open("-v", "-r", "512K", "-c", "256K", c, name="verbose")
        raw = self.raw_output(pane)
        pane.keys("l")
        self.see(pane, r"request   PATCH http://\S+/files/\S+ 204", timeout=30)
        self.see(pane, r"quiet\.mp4 .*done", timeout=30)
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 0)
        self.assertNotIn(b"\x07", self.read(raw))

    def test_log_file_has_each_refusal_once_and_the_summary(self):
        (good,) = self.files(("logged.mp4", 64 << 10))
        log = os.path.join(self.tmp, "run.log")
        pane = self.open("--log-file", log, good, os.path.join(self.tmp, "absent.mp4"), width=100)
        screen = self.see(pane, r"logged\.mp4 .*done", timeout=30)
        # The failed count keeps its corner: nothing of the head line is cut under it.
        head = screen.splitlines()[0]
        self.assertTrue(head.endswith(" 1 failed"), head)
        self.assertTrue("http" not in head or self.sandbox.url in head, head)
        # The refused file's row: no size known, nothing sent, so no bar.
        self.assertRegex(screen, r"absent\.mp4 +0 B [.\u2591]+ +0% .*failed")
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 1)  # a file refused
        with open(log) as f:
            text = f.read()
        self.assertEqual(text.count("absent.mp4: No such file"), 1, text)
        self.assertRegex(text, r"(?m) 1 verified, 1 failed, 0 skipped, 0 unfinished; 64\.0 KiB sent in ")

    def test_the_overall_rate_after_a_resume_counts_only_what_is_sent(self):
        # Killed mid-chunk, the server has bytes the journal does not; the
        # resume's HEAD finds them. The header once counted them as sent:
        # 12.5 MiB/s under a 4 MiB/s cap.
        (path,) = self.files(("resumed.mp4", 24 << 20))
        first = subprocess.Popen([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state", self.state, "-r", "4M",
                                  "-c", "8M", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        self.wait_for(lambda: self.offset("resumed.mp4") > (4 << 20), timeout=30, what="4 MiB of the first chunk")
        first.send_signal(signal.SIGKILL)
        first.wait()
        pane = self.open("-r", "1M", "resume", width=100)
        rates, started = [], time.monotonic()
        while time.monotonic() - started < 4:
            found = head_rate(pane.screen().splitlines()[0])
            if found:
                rates.append(found[0])
            time.sleep(0.2)
        self.assertTrue(rates)
        self.assertLess(max(rates), 1.5 * (1 << 20), rates)


def load_tests(loader, standard_tests, pattern):
    """Only this file's tests: the Dashboard tests it builds on run from their own file."""
    return unittest.TestSuite(DashboardCli(name) for name in vars(DashboardCli) if name.startswith("test_"))
