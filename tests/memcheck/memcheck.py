"""make check-valgrind: vimeo-up under valgrind's memcheck, through faults.

A headless upload of several files while the sandbox cuts connections,
answers 5xx, 429 and 423, then `list` and `verify` on the journal it left:
valgrind must report no error and no definite or indirect leak (what
libcurl, OpenSSL and SQLite keep for the process's life is "still
reachable" and not counted). Not part of `make check`: an instrumented
build (ASan, TSan) cannot run under valgrind, and this one takes a minute.
"""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import TOKEN, VIMEO_UP, Sandbox, make_file, sha256_file  # noqa: E402

VALGRIND = ["valgrind", "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
            "--track-fds=no", "--num-callers=30", "-q"]


class Memcheck(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vimeo-up-memcheck.")
        self.sandbox = Sandbox("--seed", "7", "--fault", "cut=300000,times=3,on=upload",
                               "--fault", "error=503,rate=0.2,times=4,on=upload", "--fault", "error=503,times=1,on=api,method=GET", "--fault", "throttle=1,times=1,on=api",
                               "--fault", "locked,times=1")
        self.addCleanup(self.sandbox.stop)
        self.state = os.path.join(self.tmp, "state")

    def run_under_valgrind(self, *args):
        log = os.path.join(self.tmp, "valgrind.log")
        proc = subprocess.run([*VALGRIND, f"--log-file={log}", VIMEO_UP, *args, "--state", self.state],
                              capture_output=True, text=True, timeout=600,
                              env=dict(os.environ, VIMEO_TOKEN=TOKEN), cwd=self.tmp)
        with open(log) as f:
            report = f.read()
        self.assertNotEqual(proc.returncode, 99, report)
        self.assertEqual(report.strip(), "", report)
        return proc

    def test_upload_through_faults_then_list_and_verify(self):
        paths = [make_file(self.tmp, f"clip{i}.mp4", (1 + i) << 20) for i in range(3)]
        proc = self.run_under_valgrind("--json", "-j", "2", "-c", "512K", "--api", self.sandbox.url, *paths)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-2000:])
        self.assertIn('"event":"retry"', proc.stdout, "the faults were met")
        for path in paths:
            self.assertEqual(self.sandbox.upload_named(os.path.basename(path))["sha256"], sha256_file(path))
        self.assertEqual(self.run_under_valgrind("list", "--json").returncode, 0)
        self.sandbox.clear_faults()
        self.assertEqual(self.run_under_valgrind("verify", "--api", self.sandbox.url).returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
