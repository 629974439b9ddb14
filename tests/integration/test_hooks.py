"""--on-done PROGRAM: run for each file verified, with its details in the
environment, never through a shell, never with the token."""
import glob
import json
import os
import stat
import unittest

from cli_run import CliRun
from harness import TOKEN, make_file

RECORDER = """#!/bin/sh
env > "$(mktemp "$HOOK_DIR/env.XXXXXX")"
echo "hook output"
exit "${HOOK_EXIT:-0}"
"""


class OnDone(CliRun):
    def setUp(self):
        super().setUp()
        self.hook_dir = os.path.join(self.tmp, "hook")
        os.mkdir(self.hook_dir)
        self.hook = os.path.join(self.tmp, "record")
        with open(self.hook, "w") as f:
            f.write(RECORDER)
        os.chmod(self.hook, 0o755)

    def vimeo_up(self, *args, env=None):
        return super().vimeo_up(*args, env=dict({"HOOK_DIR": self.hook_dir}, **(env or {})))

    def hook_runs(self, count):
        def envs():
            found = []
            for path in glob.glob(os.path.join(self.hook_dir, "env.*")):
                with open(path) as f:
                    text = f.read()
                if not text.endswith("\n"):
                    return None  # still being written
                found.append(dict(line.split("=", 1) for line in text.splitlines() if "=" in line))
            return found if len(found) == count else None
        return self.wait_for(envs, what=f"{count} hook runs")

    def test_each_verified_file_runs_the_program_with_its_details(self):
        odd = make_file(self.tmp, "a $(touch pwned); 'q\".mp4", 1000)
        plain = make_file(self.tmp, "plain.mp4", 2000)
        proc = self.vimeo_up("--json", "--on-done", self.hook, odd, plain)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for line in proc.stdout.splitlines():
            json.loads(line)  # the hook's output is not mixed into the events
        self.assertIn("hook output", proc.stderr)
        runs = sorted(self.hook_runs(2), key=lambda env: env["VIMEO_UP_FILE"])
        done = {e["file"]: e for e in map(json.loads, proc.stdout.splitlines()) if e["event"] == "done"}
        for env, path in zip(runs, sorted([odd, plain])):
            self.assertEqual(env["VIMEO_UP_FILE"], path)
            self.assertEqual(env["VIMEO_UP_VIDEO"], done[path]["video"])
            self.assertEqual(env["VIMEO_UP_LINK"], "https://vimeo.com/" + done[path]["video"].split("/")[-1])
            self.assertEqual(env["VIMEO_UP_SIZE"], str(os.path.getsize(path)))
            self.assertNotIn("VIMEO_TOKEN", env)
            self.assertNotIn(TOKEN, "".join(env.values()))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "pwned")), "a file name never reaches a shell")
        # Already uploaded is not verified now: no second run.
        proc = self.vimeo_up("--on-done", self.hook, plain)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(glob.glob(os.path.join(self.hook_dir, "env.*"))), 2)

    def test_a_failing_hook_is_logged_and_fails_nothing(self):
        first = make_file(self.tmp, "first.mp4", 1000)
        slow = make_file(self.tmp, "slow.mp4", 1 << 20)
        log = os.path.join(self.tmp, "run.log")
        proc = self.vimeo_up("-j", "1", "-r", "300K", "-c", "256K", "--log-file", log, "--on-done", self.hook,
                             first, slow, env={"HOOK_EXIT": "3"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(f"vimeo-up: --on-done {self.hook} for {first}: exit status 3", proc.stderr)
        with open(log) as f:
            self.assertIn(f"--on-done {self.hook} for {first}: exit status 3", f.read())
        self.assertRegex(proc.stdout, r"2 verified, 0 failed")

    def test_a_program_that_is_not_there(self):
        proc = self.vimeo_up("--on-done", os.path.join(self.tmp, "nope"), make_file(self.tmp, "x.mp4", 10))
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stderr, f"vimeo-up: --on-done: not an executable file: {self.tmp}/nope "
                                      "(see vimeo-up --help)\n")
        os.chmod(self.hook, stat.S_IRUSR)
        proc = self.vimeo_up("--on-done", self.hook, make_file(self.tmp, "y.mp4", 10))
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--on-done: not an executable file", proc.stderr)


if __name__ == "__main__":
    unittest.main()
