"""One file is one upload, however its name is spelled, and a file put in
another's place is never resumed onto the old upload."""
import json
import os
import shutil
import signal
import subprocess
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file, sha256_file


class OneFileOneUpload(SandboxTest):
    def vimeo_up(self, *args, cwd=None):
        return subprocess.run([VIMEO_UP, "--no-tui", "--json", "--api", self.sandbox.url, "--state",
                               os.path.join(self.tmp, "state"), *args], capture_output=True, text=True,
                              env=dict(os.environ, VIMEO_TOKEN=TOKEN), cwd=cwd or self.tmp, timeout=60)

    def stop_midway(self, path):
        """Start an upload of path and stop it with SIGINT after its first bytes:
        the journal keeps the upload, to be resumed."""
        first = subprocess.Popen([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state",
                                  os.path.join(self.tmp, "state"), "-r", "512K", "-c", "256K", path],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        self.wait_for(lambda: any(u["offset"] > 0 for u in self.sandbox.uploads()), what="the first bytes")
        first.send_signal(signal.SIGINT)
        self.assertEqual(first.wait(timeout=10), 130)

    def test_many_spellings_make_one_video(self):
        folder = os.path.join(self.tmp, "dir")
        os.mkdir(folder)
        path = make_file(folder, "clip.mp4", 300000)
        os.symlink(path, os.path.join(folder, "link.mp4"))
        os.link(path, os.path.join(folder, "hard.mp4"))
        proc = self.vimeo_up("clip.mp4", "./clip.mp4", folder + "//clip.mp4", "link.mp4", "hard.mp4", cwd=folder)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(self.sandbox.uploads()), 1, "one file, one video")
        rows = json.loads(subprocess.run([VIMEO_UP, "list", "--json", "--state", os.path.join(self.tmp, "state")],
                                         capture_output=True, text=True).stdout)
        self.assertEqual([r["state"] for r in rows], ["done"], "no stray row a later resume would upload again")
        again = self.vimeo_up("../dir/clip.mp4", cwd=os.path.join(self.tmp, "state"))
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("already uploaded as", again.stdout)
        self.assertEqual(len(self.sandbox.uploads()), 1)

    def test_a_file_replaced_with_the_same_size_and_mtime_is_not_resumed(self):
        path = make_file(self.tmp, "swap.mp4", 4 << 20, seed=1)
        self.stop_midway(path)
        stat = os.stat(path)
        other = make_file(self.tmp, "other.bin", 4 << 20, seed=2)
        shutil.move(other, path)  # a new inode, the same size
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
        second = self.vimeo_up(path)
        self.assertEqual(second.returncode, 0, second.stderr)
        done = [json.loads(line) for line in second.stdout.splitlines() if '"done"' in line]
        video = done[0]["video"]
        upload = [u for u in self.sandbox.uploads() if u["video"] == video][0]
        self.assertEqual(upload["sha256"], sha256_file(path), "the new file whole, not mixed with the old")

    def test_a_file_rewritten_in_place_with_its_mtime_put_back_is_not_resumed(self):
        path = make_file(self.tmp, "rewrite.mp4", 4 << 20, seed=1)
        self.stop_midway(path)
        stat = os.stat(path)
        with open(path, "r+b") as f:  # the same inode, other bytes
            f.write(os.urandom(1 << 20))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the mtime put back: only ctime tells
        second = self.vimeo_up(path)
        self.assertEqual(second.returncode, 0, second.stderr)
        done = [json.loads(line) for line in second.stdout.splitlines() if '"done"' in line]
        upload = [u for u in self.sandbox.uploads() if u["video"] == done[0]["video"]][0]
        self.assertEqual(upload["sha256"], sha256_file(path), "the new bytes whole, not mixed with the old")


if __name__ == "__main__":
    unittest.main()
