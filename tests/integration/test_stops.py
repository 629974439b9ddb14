"""A signal, a pause or a cancel stops every kind of request within a
second, not only PATCH: an API call or a HEAD the server sits on too."""
import os
import signal
import subprocess
import time
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file


class StopsEveryRequest(SandboxTest):
    def stop_during(self, fault, signum):
        path = make_file(self.tmp, "slow.mp4", 1 << 20)
        self.sandbox.fault(fault)
        proc = subprocess.Popen([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state",
                                 os.path.join(self.tmp, "state"), path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        time.sleep(1.5)  # well inside the server's 20 s silence
        started = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
        return proc.returncode, time.monotonic() - started, err

    def test_sigterm_during_a_stalled_create(self):
        code, took, err = self.stop_during("latency=20000,on=api,method=POST", signal.SIGTERM)
        self.assertEqual(code, 130, err)
        self.assertLess(took, 3, "the create the server sat on held the exit up")

    def test_sigint_during_a_stalled_head(self):
        # A PATCH cut after its first bytes makes the next request a HEAD; that HEAD stalls.
        self.sandbox.fault("cut=1000,times=1,on=upload")
        code, took, err = self.stop_during("latency=20000,on=upload,method=HEAD", signal.SIGINT)
        self.assertEqual(code, 130, err)
        self.assertLess(took, 3, "the HEAD the server sat on held the exit up")


if __name__ == "__main__":
    unittest.main()
