"""make check-live (tests/live/run), run against the sandbox as CI does, so
the script that proves vimeo-up against the real Vimeo cannot rot (issue 17)."""
import glob
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BUILD, ROOT, Sandbox, SandboxTest

LIVE = os.path.join(ROOT, "tests", "live", "run")
SKIP_LINE = "set VIMEO_UP_LIVE_TOKEN to run against Vimeo\n"
STEPS = 8


class CommandLines:
    """Every process's command line, sampled every 10 ms while it runs."""

    def __init__(self):
        self.seen, self.done = set(), threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while not self.done.is_set():
            for path in glob.glob("/proc/[0-9]*/cmdline"):
                try:
                    with open(path, "rb") as f:
                        self.seen.add(f.read())
                except OSError:
                    pass
            time.sleep(0.01)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.seen


class LiveCase(SandboxTest):
    sandbox_args = ("--hash-uris=unlisted",)

    def setUp(self):
        # A token of this test's own: other suites' command lines may carry
        # the shared test token, and the check looks at every process's.
        self.token = "live-" + secrets.token_hex(12)
        self.tmp = tempfile.mkdtemp(prefix="vimeo-up-test.")
        self.sandbox = Sandbox(*self.sandbox_args, token=self.token)

    def env(self, **extra):
        env = dict(os.environ, VIMEO_UP_LIVE_API=self.sandbox.url, VIMEO_UP_LIVE_TOKEN=self.token,
                   VIMEO_UP_BUILD=BUILD, VIMEO_UP_LIVE_KEEP="1", TMPDIR=self.tmp)
        env.pop("VIMEO_UP", None)
        env.update(extra)
        return env

    def live(self, **extra):
        return subprocess.run([LIVE], capture_output=True, text=True, env=self.env(**extra), timeout=300)

    def videos_left(self):
        status, _, body = self.sandbox.api("GET", "/me/videos?per_page=100")
        self.assertEqual(status, 200)
        return [v["uri"] for v in json.loads(body)["data"]]

    def steps(self, proc_or_text):
        """{step title: (verdict, detail)} from the script's step lines."""
        out = {}
        text = proc_or_text if isinstance(proc_or_text, str) else proc_or_text.stdout
        for line in text.splitlines():
            m = re.match(r"^(ok|FAIL) +(.*?) +\d+\.\d s(?:  (.*))?$", line)
            if m:
                out[m[2]] = (m[1], m[3] or "")
        return out


class WithoutToken(unittest.TestCase):
    def test_one_line_and_exit_0_from_the_script_and_from_make(self):
        # Nor the make that runs the tests (make -j2 check): its jobserver's
        # descriptors are not ours, and a make told of them warns.
        dropped = ("VIMEO_UP_LIVE_TOKEN", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        for argv in ([LIVE], ["make", "-s", "--no-print-directory", "-C", ROOT, "check-live"]):
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual((proc.returncode, proc.stdout, proc.stderr), (0, SKIP_LINE, ""), argv)


class Unreachable(unittest.TestCase):
    def test_an_api_it_cannot_reach_fails_every_step_it_needs_and_the_clean_up(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, VIMEO_UP_LIVE_API=f"http://127.0.0.1:{port}", VIMEO_UP_LIVE_TOKEN="unreachable-token",
                       VIMEO_UP_BUILD=BUILD, TMPDIR=tmp)
            proc = subprocess.run([LIVE], capture_output=True, text=True, env=env, timeout=120)
            self.assertEqual(os.listdir(tmp), [])
        self.assertEqual(proc.returncode, 1, proc.stdout)
        lines = proc.stdout.splitlines()
        self.assertTrue(lines[2].startswith("FAIL  upload nobody+tag, SIGTERM, resume"), lines)
        self.assertIn("Vimeo API unreachable", lines[2])
        self.assertRegex(lines[3], r"^FAIL  delete every video it made .* 0 videos deleted, but could not look "
                                   r"for others named as ours \(GET /me/videos")
        self.assertEqual(lines[4][:6], "FAILED")


class AgainstTheSandbox(LiveCase):
    def test_every_step_passes_and_the_token_is_nowhere(self):
        argv = CommandLines()
        try:
            proc = self.live()
        finally:
            cmdlines = argv.stop()
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        steps = self.steps(proc)
        self.assertEqual(len(steps), STEPS, proc.stdout)
        self.assertTrue(all(v == "ok" for v, _ in steps.values()), proc.stdout)
        self.assertIn("its URI carries a hash", steps["upload unlisted, SIGKILL, resume"][1])
        self.assertEqual(steps["delete every video it made"][1], "2 videos deleted")
        self.assertRegex(steps["replace the 3 s video's file (--replace)"][1], r"^/videos/\d+ has a new version$")

        # Both arrived whole in several PATCHes, none sent twice by the
        # resumes, one tagged, and nothing is left on the account.
        uploads = self.sandbox.uploads()
        self.assertEqual(len(uploads), 3)
        self.assertEqual(len({u["video"] for u in uploads}), 2, "the replace made a version, not a video")
        self.assertEqual(uploads[2]["video"], uploads[0]["video"])
        self.assertEqual(uploads[2]["sha256"], uploads[1]["sha256"], "the 6 s file replaced the 3 s one")
        for u in uploads[:2]:
            self.assertTrue(u["name"].startswith("vimeo-up live check "), u)
        for u in uploads:
            self.assertTrue(u["complete"] and u["deleted"], u)
            self.assertEqual(u["received"], u["size"], u)
            self.assertGreaterEqual(u["requests"]["PATCH"], 4, u)
        self.assertEqual(sorted(len(u["tags"]) for u in uploads), [0, 1, 1])
        self.assertEqual(self.videos_left(), [])

        # The token: not in the output, any command line, or any file left.
        self.assertNotIn(self.token, proc.stdout + proc.stderr)
        self.assertTrue(any(LIVE.encode() in c for c in cmdlines), "the sampler never saw the script")
        self.assertTrue(any(b"vimeo-up\0resume" in c for c in cmdlines), "the sampler never saw a resume")
        self.assertEqual([c for c in cmdlines if self.token.encode() in c], [])
        kept = glob.glob(os.path.join(self.tmp, "vimeo-up-live.*"))
        self.assertEqual(len(kept), 1, kept)
        files = [os.path.join(d, f) for d, _, fs in os.walk(kept[0]) for f in fs]
        self.assertTrue(any(f.endswith(".mp4") for f in files) and any("state" in f for f in files), files)
        for path in files:
            with open(path, "rb") as f:
                self.assertNotIn(self.token.encode(), f.read(), path)

    def test_without_keep_it_leaves_no_files(self):
        proc = self.live(VIMEO_UP_LIVE_KEEP="")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(glob.glob(os.path.join(self.tmp, "vimeo-up-live.*")), [])

    def test_a_failed_step_fails_the_run_and_still_deletes_every_video(self):
        self.sandbox.fault("transcode_status=error")
        proc = self.live()
        self.assertEqual(proc.returncode, 1, proc.stdout)
        steps = self.steps(proc)
        self.assertEqual(steps["wait for transcoding"][0], "FAIL", proc.stdout)
        self.assertIn("transcode.status error", steps["wait for transcoding"][1])
        self.assertNotIn("tag is on the video", steps)
        self.assertEqual(steps["delete every video it made"], ("ok", "2 videos deleted"))
        self.assertEqual(self.videos_left(), [])
        self.assertEqual(proc.stdout.splitlines()[-1][:6], "FAILED")

    def test_a_video_whose_create_answer_was_lost_is_deleted_too(self):
        # The first create makes a video and answers 500: vimeo-up tries
        # again and never learns the first one's URI; the name finds it.
        self.sandbox.fault("create=error,times=1")
        proc = self.live()
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(len({u["video"] for u in self.sandbox.uploads()}), 3)
        self.assertEqual(self.steps(proc)["delete every video it made"], ("ok", "3 videos deleted"))
        self.assertEqual(self.videos_left(), [])

    def test_sigterm_to_the_script_mid_upload_deletes_what_it_made(self):
        proc = subprocess.Popen([LIVE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env())
        try:
            self.wait_for(self.videos_left, timeout=60, what="a video on the sandbox")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 1, out + err)
        self.assertIn("FAIL  interrupted (SIGTERM)", out)
        self.assertRegex(self.steps(out)["delete every video it made"][1], r"^[12] videos? deleted$")
        self.assertEqual(self.videos_left(), [])
        self.assertEqual([p for p in glob.glob("/proc/[0-9]*/cmdline") if self.is_ours(p)], [])

    def is_ours(self, cmdline_path):
        """A vimeo-up process working in this test's directory."""
        try:
            with open(cmdline_path, "rb") as f:
                return self.tmp.encode() in f.read()
        except OSError:
            return False


class NoDeleteScope(LiveCase):
    sandbox_args = ("--hash-uris=unlisted", "--scopes", "public private upload edit")

    def test_videos_it_cannot_delete_are_listed_and_fail_the_run(self):
        proc = self.live()
        self.assertEqual(proc.returncode, 1, proc.stdout)
        verdict, detail = self.steps(proc)["delete every video it made"]
        self.assertEqual(verdict, "FAIL")
        left = self.videos_left()
        self.assertEqual(len(left), 2)
        self.assertIn("could not delete 2 of 2", detail)
        for uri in left:
            self.assertIn(f"{uri.split(':')[0]} (HTTP 403", detail)


if __name__ == "__main__":
    unittest.main()
