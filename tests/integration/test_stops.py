"""A signal, a pause or a cancel stops every kind of request within a
second, not only PATCH: an API call or a HEAD the server sits on too."""
import json
import os
import signal
import subprocess
import time
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file


class StopsEveryRequest(SandboxTest):
    def stop_during(self, fault, signum, wait=1.5):
        path = make_file(self.tmp, "slow.mp4", 1 << 20)
        self.sandbox.fault(fault)
        proc = subprocess.Popen([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state",
                                 os.path.join(self.tmp, "state"), path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        time.sleep(wait)  # well inside the server's silence
        self.wait_for(lambda: self.sandbox.fault_hits(), timeout=30, what="the request to reach the sandbox")
        started = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
        return proc.returncode, time.monotonic() - started, out, err

    def vimeo_up(self, *args):
        return subprocess.run([VIMEO_UP, "--state", os.path.join(self.tmp, "state"), *args], capture_output=True, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN),
                              timeout=60)

    def test_sigterm_during_a_stalled_create(self):
        # A create gets 2 s for its answer (core/pool.c), then it is cut off
        # and the journal says a video may have been made.
        code, took, out, err = self.stop_during("latency=20000,on=api,method=POST", signal.SIGTERM)
        self.assertEqual(code, 130, err)
        self.assertLess(took, 4, "the create the server sat on held the exit up")
        self.assertIn("paused    slow.mp4  stopped before Vimeo answered its create: a video may have been made; "
                      "look in your Vimeo library\n", out)
        (row,) = json.loads(self.vimeo_up("list", "--json").stdout)
        self.assertIn("a video may have been made; look in your Vimeo library", row["error"])

    def test_sigterm_during_a_create_waits_for_its_video(self):
        # The video is made at once and its answer comes 1 s later. Cut off,
        # the video was known to nothing and the resume made a second one.
        code, took, out, err = self.stop_during("create=timeout,for=1,times=1", signal.SIGTERM, wait=0.4)
        self.assertEqual(code, 130, err)
        self.assertLess(took, 3, err)
        resumed = self.vimeo_up("--api", self.sandbox.url, "--no-tui", "resume")
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        videos = [u["video"] for u in self.sandbox.uploads() if u["name"] == "slow.mp4" and not u["deleted"]]
        self.assertEqual(len(videos), 1, f"videos on the account: {videos}")
        self.assertEqual(self.sandbox.upload_named("slow.mp4")["offset"], 1 << 20)

    def test_sigint_during_a_stalled_head(self):
        # A PATCH cut after its first bytes makes the next request a HEAD; that HEAD stalls.
        self.sandbox.fault("cut=1000,times=1,on=upload")
        code, took, out, err = self.stop_during("latency=20000,on=upload,method=HEAD", signal.SIGINT)
        self.assertEqual(code, 130, err)
        self.assertLess(took, 3, "the HEAD the server sat on held the exit up")


if __name__ == "__main__":
    unittest.main()
