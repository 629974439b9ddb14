"""bench/compare.py's (tls), run small (issue 16, item 5): the clients'
runs alternate, each round starting with the next client, twice RUNS
rounds for a goal of parity, so load from elsewhere on a shared machine
falls on both alike, and both goals are printed with their measured
values."""
import os
import re
import subprocess
import sys
import unittest

from harness import ROOT


class TlsScenario(unittest.TestCase):
    def test_tls_runs_the_clients_in_turns_and_measures_both_goals(self):
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "compare.py")], capture_output=True,
                              text=True, env=dict(os.environ, RUNS="2", SCENARIOS="tls", TLS_MIB="8"), timeout=300)
        self.assertIn(proc.returncode, (0, 1), proc.stderr)  # 1: a goal not met
        self.assertIn("### (tls) (a) over HTTPS: one file of 8 MiB", proc.stdout, proc.stderr)
        order = re.findall(r"^  (vimeo-up|curl)\b.* run \d+: ", proc.stderr, re.M)
        self.assertEqual(order, ["vimeo-up", "curl", "curl", "vimeo-up"] * 2, proc.stderr)
        verdict = r" \| [^|]+ \| (met|\*\*not met\*\*) \|"
        for goal in (r"\(tls\) throughput ≥ 1\.0× curl over HTTPS", r"\(tls\) CPU s per GiB ≤ 1\.1× curl over HTTPS"):
            self.assertRegex(proc.stdout, re.compile(r"^\| " + goal + verdict, re.M))


if __name__ == "__main__":
    unittest.main()
