"""bench/compare.py's (q), run small (issue 16, item 4): the many queued
files are measured headless and in the dashboard, `list` shows every
entry, and each goal is printed with its measured value and a verdict."""
import os
import re
import subprocess
import sys
import unittest

from harness import ROOT


class QueueScenario(unittest.TestCase):
    def test_q_measures_every_goal_of_many_queued_files(self):
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "compare.py")], capture_output=True,
                              text=True, env=dict(os.environ, RUNS="1", SCENARIOS="q", Q_FILES="2300", Q_SECONDS="3"), timeout=300)
        self.assertIn(proc.returncode, (0, 1), proc.stderr)  # 1: a goal not met
        head = "### (q) 2,300 files of 1 KiB queued"
        self.assertIn(head, proc.stdout, proc.stderr)  # exit 1 is also an uncaught error
        section = proc.stdout.split(head, 1)[1].split("###", 1)[0]
        self.assertRegex(section, r"- headless, 2,000 queued: peak RSS \d+\.\d MiB")
        self.assertRegex(section, r"first PATCH \d+\.\d\d s after launch; journal \d+\.\d MB")
        self.assertRegex(section, r"the dashboard \(--foreground\) at 2,300 rows .*: \d+ frames")
        verdict = r" \| [^|]+ \| (met|\*\*not met\*\*) \|"
        for goal in (r"\(q\) memory per queued job ≤ 1 KiB \(peak RSS, 2,300 queued against 2,000\)",
                     r"\(q\) peak RSS ≤ 16 MiB, 2,000 queued", r"\(q\) peak RSS ≤ 64 MiB, 2,300 queued",
                     r"\(q\) first PATCH within 1 s of launch, 2,300 queued", r"\(q\) journal ≤ 100 MB, 2,300 entries",
                     r"\(q\) `vimeo-up list` of 2,300 entries ≤ 1 s", r"\(q\) `vimeo-up list --json` of 2,300 entries ≤ 1 s",
                     r"\(q\) a dashboard frame at 2,300 rows ≤ 5 ms CPU \(worst after the first\)"):
            self.assertRegex(proc.stdout, re.compile(r"^\| " + goal + verdict, re.M))


if __name__ == "__main__":
    unittest.main()
