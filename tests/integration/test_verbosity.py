"""-q, -v and --log-file: what an unattended run says, and leaves behind."""
import os
import re
import resource
import stat
import unittest

from cli_run import CliRun
from harness import TOKEN, make_file

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


class Verbosity(CliRun):
    def test_verbose_shows_each_request_without_the_token(self):
        path = make_file(self.tmp, "v.mp4", (2 << 20) + 1)
        proc = self.vimeo_up("-v", "-c", "1M", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        requests = [line for line in proc.stderr.splitlines() if line.startswith("request")]
        base = re.escape(self.sandbox.url)
        uploads = r"http://127\.0\.0\.1:\d+"  # the sandbox takes uploads over 1 MiB on a port of their own
        expected = [rf"GET {base}/me 200", rf"GET {base}/oauth/verify 200", rf"POST {base}/me/videos 200",
                    rf"PATCH {uploads}/files/\S+ 204", rf"HEAD {uploads}/files/\S+ 200"]
        for pattern in expected:
            self.assertTrue([r for r in requests if re.fullmatch(rf"request   {pattern} \d+\.\d{{3}}s", r)],
                            (pattern, proc.stderr))
        self.assertEqual(len([r for r in requests if " PATCH " in r]), 3)
        self.assertNotIn(TOKEN, proc.stderr + proc.stdout)
        self.assertNotIn("request", proc.stdout, "request lines go to stderr, the events stay as they were")

    def test_quiet_waits_without_spinning(self):
        # Quiet prints no progress line, but still waits a whole interval
        # between two looks: it spun a core for the whole run.
        self.sandbox.fault("latency=4000,on=upload")
        path = make_file(self.tmp, "slow.mp4", 1000)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = self.vimeo_up("-q", path)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        self.assertLess(cpu, 1.5, "CPU seconds over a run that waits 4 s for its upload")

    def test_quiet_says_errors_and_the_summary_only(self):
        good = make_file(self.tmp, "q.mp4", 1000)
        proc = self.vimeo_up("--quiet", good, os.path.join(self.tmp, "missing.mp4"))
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stdout, r"^1 verified, 1 failed, 0 skipped, 0 unfinished; [^\n]*\n$")
        self.assertEqual(proc.stderr, f"vimeo-up: {self.tmp}/missing.mp4: No such file or directory\n")
        # What fails the run is said, naming the file, even when quiet.
        self.sandbox.fault("transcode_status=error,times=1")
        broken = make_file(self.tmp, "broken.mp4", 2000)
        proc = self.vimeo_up("-q", "--wait-transcode", broken)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^transcode_error broken\.mp4  .+$")
        proc = self.vimeo_up("-q", "-v", good)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stderr, "vimeo-up: --quiet and --verbose: one or the other (see vimeo-up --help)\n")

    def test_log_file_is_appended_privately_with_times(self):
        log = os.path.join(self.tmp, "run.log")
        with open(log, "w") as f:
            f.write("before\n")
        os.chmod(log, 0o644)
        path = make_file(self.tmp, "l.mp4", 1000)
        proc = self.vimeo_up("--log-file", log, "-v", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(log).st_mode), 0o600, "a log others could read is made private")
        proc = self.vimeo_up("--log-file", log, path, os.path.join(self.tmp, "missing.mp4"))
        self.assertEqual(proc.returncode, 1)
        with open(log) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "before")
        for line in lines[1:]:
            self.assertRegex(line, rf"^{STAMP} ")
        text = "\n".join(lines)
        for pattern in (r"queued    l\.mp4", r"created   l\.mp4  /videos/\d+", r"done      l\.mp4  /videos/\d+",
                        r"request   POST \S+/me/videos 200", r"1 verified, 0 failed, 0 skipped, 0 unfinished",
                        r"done      l\.mp4  already uploaded as /videos/\d+", r"missing\.mp4: No such file",
                        r"0 verified, 1 failed, 1 skipped, 0 unfinished"):
            self.assertRegex(text, pattern)
        self.assertEqual(len([l for l in lines if " request " in l and "POST" in l and "/me/videos" in l]), 1,
                         "-v only the first time")
        self.assertNotIn(TOKEN, text)

    def test_a_log_file_that_cannot_be_opened(self):
        proc = self.vimeo_up("--log-file", os.path.join(self.tmp, "no", "such.log"), make_file(self.tmp, "x", 1))
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(proc.stderr, f"vimeo-up: --log-file {self.tmp}/no/such.log: No such file or directory\n")


if __name__ == "__main__":
    unittest.main()
