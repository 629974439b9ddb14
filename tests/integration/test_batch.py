"""Many files without a shell loop (-R, --include/--exclude, --files-from), and
the summary that ends a run."""
import json
import os
import re
import unittest

from cli_run import CliRun
from harness import make_file


class Runs(CliRun):
    def uploaded(self):
        return sorted(u["name"] for u in self.sandbox.uploads())

    def summary(self, proc):
        last = json.loads(proc.stdout.splitlines()[-1])
        self.assertEqual(last["event"], "summary", proc.stdout)
        return last


class Batch(Runs):
    def tree(self):
        """footage/ with files at two depths, hidden ones, a FIFO and links."""
        root = os.path.join(self.tmp, "footage")
        os.makedirs(os.path.join(root, "day1", "raw"))
        os.makedirs(os.path.join(root, ".cache"))
        make_file(root, "a.mov", 1000)
        make_file(root, "b.mov", 2000)
        make_file(root, "notes.txt", 10)
        make_file(root, ".hidden.mov", 10)
        make_file(os.path.join(root, ".cache"), "c.mov", 10)
        make_file(os.path.join(root, "day1"), "c.mov", 3000)
        make_file(os.path.join(root, "day1", "raw"), "d.mov", 400)
        os.mkfifo(os.path.join(root, "pipe.mov"))
        os.symlink(os.path.join(root, "a.mov"), os.path.join(root, "link.mov"))
        os.symlink(os.path.join(root, "day1"), os.path.join(root, "day1-link"))
        return root

    def test_recursive_skips_hidden_and_special_files_with_a_count(self):
        root = self.tree()
        proc = self.vimeo_up("--json", "-R", root)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # link.mov is a.mov: one file, one upload.
        self.assertEqual(self.uploaded(), ["a.mov", "b.mov", "c.mov", "d.mov", "notes.txt"])
        summary = self.summary(proc)
        # .hidden.mov and .cache; the FIFO and the link to a directory.
        self.assertEqual((summary["verified_files"], summary["skipped_files"], summary["failed_files"]), (5, 4, 0))
        self.assertEqual(summary["bytes_sent"], 1000 + 2000 + 10 + 3000 + 400)

    def test_include_and_exclude_match_the_path_below_the_directory(self):
        root = self.tree()
        proc = self.vimeo_up("-R", "--include", "*.mov", "--exclude", "b*", "--exclude", "/day1/raw/*", root + "/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.uploaded(), ["a.mov", "c.mov"])
        sandbox_count = len(self.sandbox.uploads())
        proc = self.vimeo_up("--recursive", "--include", "/day1/*", "--include", "raw/**", root)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(self.sandbox.uploads()), sandbox_count + 1, "day1/c.mov was uploaded before")
        self.assertIn("d.mov", self.uploaded())
        self.assertRegex(proc.stdout, r"1 verified, 0 failed, \d+ skipped")

    def test_a_directory_without_recursive_is_still_refused(self):
        root = self.tree()
        proc = self.vimeo_up(root)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"{root}: is a directory", proc.stderr)
        self.assertEqual(self.uploaded(), [])

    def test_files_from_a_file_and_from_stdin_nul_separated(self):
        one = make_file(self.tmp, "one.mp4", 100)
        two = make_file(self.tmp, "two words.mp4", 200)
        three = make_file(self.tmp, "three\nlines.mp4", 300)
        listing = os.path.join(self.tmp, "list.txt")
        with open(listing, "w") as f:
            f.write(f"# renders\n\n  {one}  \n; old\ntwo words.mp4\n")
        proc = self.vimeo_up("--files-from", listing)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.uploaded(), ["one.mp4", "two words.mp4"])
        proc = self.vimeo_up("-0", "--files-from", "-", stdin=f"{three}\0{one}\0")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.uploaded(), ["one.mp4", "three\nlines.mp4", "two words.mp4"])
        self.assertRegex(proc.stdout, r"\n1 verified, 0 failed, 1 skipped, 0 unfinished; 300 B sent in \S+, [\d.]+ \S*B/s\n$")

    def test_files_from_that_cannot_be_read(self):
        proc = self.vimeo_up("--files-from", os.path.join(self.tmp, "nope"))
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stderr, f"vimeo-up: --files-from {self.tmp}/nope: No such file or directory\n")


class Summary(Runs):
    def test_plain_and_json_summaries(self):
        paths = [make_file(self.tmp, f"s{i}.bin", 1 << 20) for i in range(2)]
        proc = self.vimeo_up(*paths)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        last = proc.stdout.splitlines()[-1]
        match = re.fullmatch(r"2 verified, 0 failed, 0 skipped, 0 unfinished; 2\.0 MiB sent in (\S+), ([\d.]+ \S*B)/s", last)
        self.assertTrue(match, last)
        self.assertRegex(match.group(1), r"^\d\.\ds$", "a quick run's time in tenths, not 0s")
        missing = os.path.join(self.tmp, "missing.bin")
        proc = self.vimeo_up("--json", *paths, missing)
        self.assertEqual(proc.returncode, 1)
        summary = self.summary(proc)
        self.assertEqual({k: summary[k] for k in ("verified_files", "failed_files", "skipped_files",
                                                   "unfinished_files", "bytes_sent")},
                         {"verified_files": 0, "failed_files": 1, "skipped_files": 2, "unfinished_files": 0,
                          "bytes_sent": 0})
        self.assertGreaterEqual(summary["seconds"], 0)
        self.assertRegex(summary["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


if __name__ == "__main__":
    unittest.main()
