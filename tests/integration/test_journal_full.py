"""A journal that cannot write: uploads pause with the reason, nothing is
reported done, and resume finishes every file once there is room again."""
import errno
import os
import subprocess
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file, sha256_file


def fill(directory):
    """Write a file in directory until the filesystem is full."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return path


class FullDisk(SandboxTest):
    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.state, 0o700)
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", self.state],
                               capture_output=True, text=True)
        if mount.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", self.state])

    def vimeo_up(self, *args, command=()):
        env = dict(os.environ, VIMEO_TOKEN=TOKEN)
        return subprocess.Popen([VIMEO_UP, *command, "--api", self.sandbox.url, "--state", self.state, "--no-tui",
                                 *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def test_full_journal_pauses_then_resume_finishes_every_file(self):
        files = [make_file(self.tmp, f"clip{i}.mp4", 1 << 20, seed=i) for i in range(6)]
        run = self.vimeo_up("-j", "2", "-c", "256K", "-r", "400K", *files)
        self.wait_for(lambda: any(u["offset"] > 0 for u in self.sandbox.uploads()), what="the first bytes")
        filler = fill(self.state)
        out, err = run.communicate(timeout=60)
        self.assertEqual(run.returncode, 1, (out, err))
        self.assertIn("journal: No space left on device", out + err)
        self.assertNotIn("done", [line.split()[0] for line in out.splitlines() if line.split()])
        self.assertIn("0 verified", out)

        os.unlink(filler)
        resume = self.vimeo_up(command=["resume"])
        out, err = resume.communicate(timeout=60)
        self.assertEqual(resume.returncode, 0, (out, err))
        self.assertIn("6 verified, 0 failed", out)
        for path in files:
            self.assertEqual(self.sandbox.upload_named(os.path.basename(path))["sha256"], sha256_file(path))


if __name__ == "__main__":
    unittest.main()
