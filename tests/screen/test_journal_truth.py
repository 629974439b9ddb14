"""What the journal says after the dashboard is left is what happened: a
removed finished row stays uploaded, stopped uploads read as paused."""
import json
import os
import subprocess
import unittest

from harness import TOKEN, VIMEO_UP
from test_dashboard import Dashboard


class JournalTruth(Dashboard):
    def journal(self):
        proc = subprocess.run([VIMEO_UP, "list", "--json", "--state", self.state], capture_output=True, text=True)
        return {os.path.basename(r["file"]): r for r in json.loads(proc.stdout)}

    def test_removing_a_finished_row_keeps_it_uploaded(self):
        done, busy = self.files(("small.mp4", 200 << 10), ("busy.mp4", 8 << 20))
        pane = self.open("-r", "1M", "-j", "2", done, busy)
        self.see(pane, r"small\.mp4 .*done")
        pane.keys("k", "k", "d")  # the first row (Home arrives as an escape sequence under this TERM)
        self.see(pane, r"Remove small\.mp4")
        pane.keys("y")
        if "Also delete its video" in pane.screen():
            pane.keys("n")
        self.wait_for(lambda: "small.mp4" not in pane.screen(), what="the row to go")
        self.assertEqual(self.journal()["small.mp4"]["state"], "done")
        pane.keys("]", "]")  # no cap: let busy.mp4 finish
        self.see(pane, r"busy\.mp4 .*done", timeout=30)
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 0)
        self.see(pane, r"2 verified, 0 failed")  # the removed row was verified in this run too
        again = subprocess.run([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state", self.state, done],
                               capture_output=True, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=60)
        self.assertIn("already uploaded as", again.stdout, again.stderr)
        self.assertEqual(len([u for u in self.sandbox.uploads() if u["name"] == "small.mp4"]), 1,
                         "no second video for a file that was uploaded")

    def test_uploads_stopped_by_quit_or_hangup_read_as_paused(self):
        quit_file, hangup_file = self.files(("quit.mp4", 16 << 20), ("hangup.mp4", 16 << 20))
        pane = self.open("-r", "2M", "-c", "1M", quit_file)
        self.wait_for(lambda: self.offset("quit.mp4") > (1 << 20), what="progress")
        pane.keys("q")
        self.see(pane, r"Quit\?")
        pane.keys("y")
        self.exit_status(pane)
        self.assertEqual(self.journal()["quit.mp4"]["state"], "paused")

        pane = self.open("-r", "2M", "-c", "1M", hangup_file, name="hangup")
        self.wait_for(lambda: self.offset("hangup.mp4") > (1 << 20), what="progress")
        pane.kill()
        self.wait_for(lambda: self.journal().get("hangup.mp4", {}).get("state") == "paused", timeout=5,
                      what="the hung-up upload saved as paused")

    def test_files_resumed_with_R_no_longer_read_as_paused(self):
        # From a tour: after P then R, list said 12,174 paused while they
        # were queued or uploading.
        files = self.files(*((f"r{i}.mp4", 1 << 20) for i in range(3)))
        pane = self.open("-r", "256K", "-j", "1", *files)
        self.see(pane, r"r0\.mp4 .*uploading")
        pane.keys("P")
        self.wait_for(lambda: {r["state"] for r in self.journal().values()} == {"paused"}, what="all paused")
        pane.keys("R")
        self.wait_for(lambda: "paused" not in {r["state"] for r in self.journal().values()}, timeout=5,
                      what="the journal to say resumed")


def load_tests(loader, standard_tests, pattern):
    """Only this file's tests: the Dashboard tests it builds on run from their own file."""
    return unittest.TestSuite(JournalTruth(name) for name in vars(JournalTruth) if name.startswith("test_"))
