"""bench/smallreq, the client bench/sandbox-speed measures small requests
with (issue 16, item 1): every answer it counts is one the sandbox gave,
and a request the sandbox refuses stops it."""
import os
import re
import subprocess

from harness import ROOT, SandboxTest


class SmallRequests(SandboxTest):
    def setUp(self):
        super().setUp()
        self.client = os.path.join(self.tmp, "smallreq")
        subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", self.client,
                        os.path.join(ROOT, "bench", "smallreq.c")], check=True)

    def smallreq(self, mode, url):
        return subprocess.run([self.client, mode, url, "0.3", "2"], capture_output=True, text=True, timeout=30)

    def test_each_answer_counted_is_a_head_the_sandbox_answered(self):
        location = self.create_tus_upload(10)
        counted = 0
        for mode in ("keepalive", "connect"):
            proc = self.smallreq(mode, location)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            m = re.fullmatch(r"(\d+) requests in [\d.]+ s: (\d+)/s\n", proc.stdout)
            self.assertTrue(m and int(m[1]) > 0, proc.stdout)
            counted += int(m[1])
        self.assertEqual(self.sandbox.uploads()[0]["requests"]["HEAD"], counted)

    def test_a_refused_request_stops_it_with_exit_1(self):
        for mode in ("keepalive", "connect"):
            proc = self.smallreq(mode, self.sandbox.url + "/files/nosuchupload")
            self.assertEqual(proc.returncode, 1, proc.stdout)
            self.assertIn("a request failed after 0 answers", proc.stderr)

    def test_usage(self):
        proc = subprocess.run([self.client, "keepalive", "https://127.0.0.1:1/x", "1", "1"], capture_output=True,
                              text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("usage: smallreq", proc.stderr)
