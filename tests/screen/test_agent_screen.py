"""The dashboard over the agent, in tmux: uploads outlive a killed terminal,
several dashboards see the same table, and leaving asks detach or stop."""
import os
import shlex
import signal
import subprocess
import time
import unittest

from harness import TOKEN, VIMEO_UP, make_file, many_tiny_files, sha256_file
from test_dashboard import PANE_ENV, Dashboard, Tmux


class AgentScreen(Dashboard):
    def setUp(self):
        super().setUp()
        self.runtime = os.path.join(self.tmp, "run")
        os.mkdir(self.runtime, 0o700)
        self.env = {"XDG_RUNTIME_DIR": self.runtime}
        self.san = os.path.join(self.tmp, "san")
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
            self.env[name] = ":".join(filter(None, [os.environ.get(name), f"log_path={self.san}"]))

    def tearDown(self):
        try:
            subprocess.run([VIMEO_UP, "--state", self.state, "stop"], capture_output=True, timeout=60,
                           env=dict(os.environ, **self.env))
            reports = {}
            for name in sorted(os.listdir(self.tmp)):
                if name.startswith("san."):
                    with open(os.path.join(self.tmp, name), errors="replace") as f:
                        reports[name] = f.read()
            self.assertEqual(reports, {}, "sanitizer reports:\n" + "\n".join(reports.values()))
        finally:
            super().tearDown()

    def agent_command(self, *args):
        """As Dashboard.command, but through the agent (no --foreground)."""
        return " ".join(shlex.quote(a) for a in (VIMEO_UP, "--api", self.sandbox.url, "--state", self.state, *args))

    def attach(self, *args, name="main", width=100):
        environment = dict(PANE_ENV, **self.env)
        status = os.path.join(self.tmp, f"status-{name}")
        pane = Tmux(name, f"cd {shlex.quote(self.tmp)} && {self.agent_command(*args)}; echo $? > {status}; "
                          "sleep 600", width, 24, environment)
        self.panes.append(pane)
        pane.status = status
        return pane

    def pane_status(self, pane, timeout=20):
        return int(self.wait_for(lambda: os.path.exists(pane.status) and open(pane.status).read().strip(),
                                 timeout=timeout, what="the pane's exit status"))

    def received(self, name):
        found = [u for u in self.sandbox.uploads() if u["name"] == name]
        return found[0]["received"] if found else 0

    def test_uploads_outlive_a_killed_terminal_and_attach_shows_them(self):
        path = make_file(self.tmp, "night.mp4", 12 << 20)
        pane = self.attach("-r", "1M", "-c", "1M", path)
        self.see(pane, r"night\.mp4 .*uploading")
        self.wait_for(lambda: self.received("night.mp4") > 0, what="the first bytes")
        pane.kill()  # the hang-up of a lost SSH link
        started, before = time.monotonic(), self.received("night.mp4")
        while time.monotonic() - started < 5:
            time.sleep(0.5)
        after = self.received("night.mp4")
        self.assertGreater(after, before + (2 << 20), "the upload stopped with the terminal")
        again = self.attach("attach", name="again")
        first = self.see(again, r"night\.mp4 .*uploading")
        self.wait_for(lambda: again.screen() != first, what="the job to move on screen")
        self.assertIn("night.mp4", again.screen())
        self.see(again, r"night\.mp4 .*done", timeout=60)
        self.assertEqual(self.sandbox.upload_named("night.mp4")["sha256"], sha256_file(path))
        again.keys("q")
        self.assertEqual(self.pane_status(again), 0)

    def test_the_agent_stopping_once_every_upload_ended_leaves_nothing_unfinished(self):
        path = make_file(self.tmp, "short.mp4", 1000)
        pane = self.attach(path)
        self.see(pane, r"short\.mp4 .*done")
        stop = subprocess.run([VIMEO_UP, "--state", self.state, "stop"], capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, **self.env))
        self.assertEqual(stop.returncode, 0, stop.stderr)
        self.assertEqual(self.pane_status(pane), 0)  # not 4: nothing is left to resume
        screen = self.see(pane, r"1 verified, 0 failed")
        self.assertNotIn("resume", screen)

    def recorded(self, name, *args):
        """A pane running vimeo-up through the agent, and the file where every
        byte it draws goes, from the first frame on (it waits a second for
        pipe-pane)."""
        raw = os.path.join(self.tmp, f"raw-{name}")
        pane = Tmux(name, f"cd {shlex.quote(self.tmp)} && sleep 1 && {self.agent_command(*args)}; sleep 600", 100, 24,
                    dict(PANE_ENV, **self.env))
        self.panes.append(pane)
        pane.tmux("pipe-pane", "-t", "t", "-o", f"cat >> {shlex.quote(raw)}")
        return pane, raw

    def assert_never_drew(self, raw, text):
        with open(raw, "rb") as f:
            self.assertNotIn(text, f.read())

    def test_the_first_frame_shows_the_files_given_not_an_empty_table(self):
        pane, raw = self.recorded("first", "-r", "512K", make_file(self.tmp, "first.mp4", 4 << 20))
        self.see(pane, r"first\.mp4 .*uploading")
        self.assert_never_drew(raw, b"no uploads")

    def test_resume_of_thousands_shows_them_in_its_first_frame(self):
        # More rows than a subscriber's stream takes at once: they once
        # came after the answer, and the first frame said "no uploads".
        listing = many_tiny_files(self, 3000, "r")
        env = dict(os.environ, VIMEO_TOKEN=TOKEN, **self.env)
        up = [VIMEO_UP, "--api", self.sandbox.url, "--state", self.state]
        self.assertEqual(subprocess.run([*up, "add", "-j", "1", "-r", "1K", "--files-from", listing], env=env,
                                        capture_output=True, timeout=60).returncode, 0)
        self.assertEqual(subprocess.run([*up, "stop"], env=env, capture_output=True, timeout=60).returncode, 0)
        pane, raw = self.recorded("resume", "-r", "1K", "resume")
        self.see(pane, r" \d+/[1-9]\d* done")  # some finished before the stop (more under a sanitizer)
        self.assert_never_drew(raw, b"no uploads")

    def test_a_adds_a_file_named_relative_to_where_the_user_is(self):
        busy = make_file(self.tmp, "busy.mp4", 12 << 20)
        make_file(self.tmp, "later.mp4", 1000)
        pane = self.attach("-r", "1M", "-c", "1M", busy)  # its shell is in self.tmp; the agent in /
        self.see(pane, r"busy\.mp4 .*uploading")
        pane.keys("a")
        self.see(pane, "Add file:")
        pane.keys("later.mp4", "Enter")
        self.see(pane, r"added 1 file")
        self.see(pane, r"later\.mp4 .*done")

    def test_a_key_in_one_dashboard_shows_in_the_other_within_a_second(self):
        path = make_file(self.tmp, "shared.mp4", 24 << 20)
        one = self.attach("-r", "1M", "-c", "1M", path, name="one")
        self.see(one, r"shared\.mp4 .*uploading")
        two = self.attach("attach", name="two")
        self.see(two, r"shared\.mp4 .*uploading")
        one.keys("p")
        started = time.monotonic()
        self.see(two, r"shared\.mp4 .*paused", timeout=5)
        self.assertLess(time.monotonic() - started, 1.0, "the other dashboard was slow to show the pause")

    def test_q_asks_detach_or_stop(self):
        path = make_file(self.tmp, "leave.mp4", 24 << 20)
        pane = self.attach("-r", "1M", "-c", "1M", path)
        self.see(pane, r"leave\.mp4 .*uploading")
        pane.keys("q")
        self.see(pane, r"d detach")
        pane.keys("Escape")
        self.wait_for(lambda: "d detach" not in pane.screen(), what="Esc to cancel")
        pane.keys("q")
        self.see(pane, r"d detach")
        pane.keys("d")
        self.assertEqual(self.pane_status(pane), 4, "a detach is 'uploads unfinished'")
        moved = self.received("leave.mp4")
        self.wait_for(lambda: self.received("leave.mp4") > moved, what="the upload to go on after a detach")
        back = self.attach("attach", name="back")
        self.see(back, r"leave\.mp4 .*uploading")
        back.keys("q")
        self.see(back, r"d detach")
        back.keys("s")
        self.assertEqual(self.pane_status(back), 4)
        held = self.received("leave.mp4")
        time.sleep(1.5)
        self.assertEqual(self.received("leave.mp4"), held, "bytes went on after a stop")
        proc = subprocess.run([VIMEO_UP, "--no-tui", "--state", self.state, "resume"], capture_output=True,
                              text=True, timeout=120, env=dict(os.environ, VIMEO_TOKEN=TOKEN, **self.env))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(self.sandbox.upload_named("leave.mp4")["sha256"], sha256_file(path))

    def test_foreground_keeps_the_engine_in_this_process(self):
        path = make_file(self.tmp, "here.mp4", 1 << 20)
        pane = self.open("-r", "512K", path, env=self.env)  # Dashboard.open: with --foreground
        self.see(pane, r"here\.mp4 .*(uploading|done)")
        self.assertFalse(os.path.exists(os.path.join(self.state, "agent.lock")), "an agent was started")
        self.see(pane, r"here\.mp4 .*done", timeout=30)
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 0)

    def test_resume_on_a_terminal_goes_through_the_agent(self):
        path = make_file(self.tmp, "later.mp4", 8 << 20)
        env = dict(os.environ, VIMEO_TOKEN=TOKEN, **self.env)
        first = subprocess.Popen([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state", self.state, "-r", "1M",
                                  "-c", "1M", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.wait_for(lambda: self.sandbox.uploads() and self.sandbox.uploads()[0]["offset"] > 0, what="1 MiB in")
        first.send_signal(signal.SIGINT)
        self.assertEqual(first.wait(timeout=10), 130)
        pane = self.attach("resume", "-r", "4M")
        self.see(pane, r"later\.mp4 .*uploading")
        self.assertTrue(os.path.exists(os.path.join(self.state, "agent.lock")), "resume did not use the agent")
        self.see(pane, r"later\.mp4 .*done", timeout=60)
        pane.keys("q")
        self.assertEqual(self.pane_status(pane), 0)
        self.assertEqual(self.sandbox.upload_named("later.mp4")["sha256"], sha256_file(path))


def load_tests(loader, tests, pattern):
    """Only this file's tests: the in-process ones it inherits run in test_dashboard.py."""
    own = sorted(name for name in vars(AgentScreen) if name.startswith("test_"))
    return unittest.TestSuite(AgentScreen(name) for name in own)


if __name__ == "__main__":
    unittest.main()
