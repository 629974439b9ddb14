"""resume and verify go where the journal's uploads went: no --api again
(issue 14, item 14)."""
import os
import signal
import subprocess
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file, sha256_file


class ResumeWhereTheyWent(SandboxTest):
    def interrupted_upload(self, *endpoint):
        path = make_file(self.tmp, "far.mp4", 4 << 20)
        env = dict(os.environ, VIMEO_TOKEN=TOKEN)
        env.pop("VIMEO_API_URL", None)
        proc = subprocess.Popen([VIMEO_UP, "--no-tui", *endpoint, "--state", os.path.join(self.tmp, "state"),
                                 "-r", "512K", "-c", "256K", path], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env)
        self.wait_for(lambda: any(u["offset"] > 0 for u in self.sandbox.uploads()), what="the first bytes")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=10), 130)
        return path, env

    def resume(self, env, command="resume"):
        return subprocess.run([VIMEO_UP, command, "--no-tui", "--state", os.path.join(self.tmp, "state")],
                              capture_output=True, text=True, env=env, timeout=120)

    def test_resume_and_verify_find_the_api_in_the_journal(self):
        path, env = self.interrupted_upload("--api", self.sandbox.url)
        proc = self.resume(env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("1 verified, 0 failed", proc.stdout)
        self.assertEqual(self.sandbox.upload_named("far.mp4")["sha256"], sha256_file(path))
        verify = self.resume(env, "verify")
        self.assertEqual(verify.returncode, 0, verify.stderr)
        self.assertIn("1 verified, 0 failed verification", verify.stdout)

    def test_resume_finds_a_generic_tus_endpoint_in_the_journal(self):
        path, env = self.interrupted_upload("--tus-endpoint", self.sandbox.url + "/files")
        env.pop("VIMEO_TOKEN")  # a tus endpoint needs none
        proc = self.resume(env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("1 verified, 0 failed", proc.stdout)


if __name__ == "__main__":
    unittest.main()
