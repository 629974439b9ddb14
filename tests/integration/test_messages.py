"""Messages and figures a user reads: each says what happened, in words that
point at the cause (issue 12, item 13), and odd names still upload."""
import http.server
import json
import os
import subprocess
import threading
import time
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file
from test_cli import FakeApi


class CliHelpers(SandboxTest):
    def run_json(self, *args, api=None, timeout=120):
        proc = subprocess.run([VIMEO_UP, "--json", "--api", api or self.sandbox.url, "--state",
                               os.path.join(self.tmp, "state"), *args], capture_output=True, text=True,
                              env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=timeout, cwd=self.tmp)
        return proc, [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]

    def fake_api(self, answer):
        handler = type("Handler", (FakeApi,), {"answer": staticmethod(answer)})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"


class Messages(CliHelpers):
    def test_a_latin1_name_uploads_with_a_replacement_character(self):
        name = b"caf\xe9.mp4"
        path = os.path.join(os.fsencode(self.tmp), name)
        with open(path, "wb") as f:
            f.write(os.urandom(50000))
        other = make_file(self.tmp, "plain.mp4", 50000)
        proc, _ = self.run_json(os.fsdecode(path), other)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        names = sorted(u["name"] for u in self.sandbox.uploads())
        self.assertEqual(names, ["caf\ufffd.mp4", "plain.mp4"])

    def test_rate_is_measured_across_small_fast_chunks(self):
        path = make_file(self.tmp, "chunks.mp4", 6 << 20)
        proc, events = self.run_json("-c", "128K", "-r", "2M", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rates = [e["rate"] for e in events if e["event"] == "progress"]
        self.assertTrue(rates and max(rates) > 0, f"rate stays 0 while bytes move: {rates}")

    def test_what_the_server_had_before_a_resume_is_not_counted_as_speed(self):
        # Killed mid-chunk, the server holds bytes the journal does not: the
        # resume's HEAD finds them. They were once counted as sent in the
        # first half second: a rate of 10 MiB/s under a cap of 1 MiB/s.
        path = make_file(self.tmp, "resumed.mp4", 12 << 20)
        first = subprocess.Popen([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state",
                                  os.path.join(self.tmp, "state"), "-r", "4M", "-c", "8M", path],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        self.wait_for(lambda: self.sandbox.uploads() and self.sandbox.uploads()[0]["offset"] > (4 << 20),
                      timeout=30, what="4 MiB of the first chunk")
        first.kill()
        first.wait()
        proc, events = self.run_json("resume", "-r", "1M")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rates = [e["rate"] for e in events if e["event"] == "progress"]
        self.assertTrue(rates, proc.stdout[-1500:])
        self.assertLess(max(rates), 1.5 * (1 << 20), rates)

    def test_an_api_answer_that_never_comes_is_no_answer_not_unreachable(self):
        # curl's words were "Vimeo API unreachable: Operation too slow. Less
        # than 1024 bytes/sec transferred the last 2 seconds".
        self.sandbox.fault("create=timeout,times=1")
        proc, events = self.run_json("--stall-timeout", "2", make_file(self.tmp, "slow.mp4", 1000))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        retries = [e["error"] for e in events if e["event"] == "retry"]
        self.assertRegex(retries[0], r"^Vimeo API: no answer in 2 s \(a video may have been made; trying once more\)")

    def test_a_file_cut_short_mid_upload_says_it_changed(self):
        path = make_file(self.tmp, "shrinks.mp4", 4 << 20)
        proc = subprocess.Popen([VIMEO_UP, "--json", "--api", self.sandbox.url, "--state",
                                 os.path.join(self.tmp, "state"), "-c", "0", "-r", "512K", path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        self.wait_for(lambda: any(u["offset"] > 0 or u["received"] > 0 for u in self.sandbox.uploads()),
                      what="the first bytes")
        os.truncate(path, 1 << 20)
        out, _ = proc.communicate(timeout=60)
        failed = [json.loads(line) for line in out.splitlines() if '"failed"' in line]
        self.assertTrue(failed and "changed during the upload" in failed[-1]["error"], out[-1500:])

    def test_an_overlong_upload_link_says_so(self):
        def answer(path):
            if path.startswith("/me/videos"):
                link = "http://127.0.0.1:9/files/" + "a" * 3000
                return 200, "application/json", json.dumps({"uri": "/videos/1", "upload": {"upload_link": link}}).encode()
            return 200, "application/json", b'{"upload_quota": {"space": {"free": null}}}'
        path = make_file(self.tmp, "long.mp4", 1000)
        proc, events = self.run_json(path, api=self.fake_api(answer))
        self.assertEqual(proc.returncode, 1)
        failed = [e for e in events if e["event"] == "failed"]
        self.assertIn("upload_link longer than 2047 bytes", failed[0]["error"])

    def test_an_oversized_header_is_not_called_out_of_memory(self):
        class Big(FakeApi):
            def reply(self):
                self.send_response(200)
                self.send_header("X-Padding", "a" * 300000)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Big)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        proc, _ = self.run_json(make_file(self.tmp, "x.mp4", 10), api=f"http://127.0.0.1:{server.server_address[1]}")
        self.assertEqual(proc.returncode, 3)
        self.assertNotIn("Out of memory", proc.stderr)
        self.assertIn("header too large", proc.stderr)

    def test_a_rate_cap_below_the_stall_floor_is_not_a_stall(self):
        files = [make_file(self.tmp, f"slow{i}.mp4", 6000, seed=i) for i in range(8)]
        proc, events = self.run_json("-j", "8", "-r", "4K", "--stall-timeout", "2", *files)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual([e.get("error") for e in events if e["event"] == "retry"], [],
                         "each worker's share of 4 KiB/s is under 1 KiB/s on purpose")


class UnsureCreates(CliHelpers):
    def test_a_create_answered_with_nothing_is_tried_once_more_only(self):
        posts = []

        def answer(path):
            if path.startswith("/me/videos"):
                posts.append(path)
                return 200, "application/json", b""  # the video may exist; the answer is lost
            return 200, "application/json", b'{"upload_quota": {"space": {"free": null}}}'
        path = make_file(self.tmp, "unsure.mp4", 1000)
        proc, events = self.run_json(path, api=self.fake_api(answer))
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(len(posts), 2, "a create whose outcome is unknown is not repeated again and again")
        self.assertTrue(any("a video may have been made" in e.get("error", "") for e in events if e["event"] == "retry"))
        failed = [e for e in events if e["event"] == "failed"]
        self.assertIn("look in your Vimeo library", failed[0]["error"])


class RateLimitWait(SandboxTest):
    sandbox_args = ("--rate-limit", "3", "--rate-window", "3")

    def test_a_wait_for_the_rate_limit_is_shown(self):
        files = [make_file(self.tmp, f"f{i}.mp4", 1000, seed=i) for i in range(3)]
        proc = subprocess.run([VIMEO_UP, "--json", "-j", "1", "--api", self.sandbox.url, "--state",
                               os.path.join(self.tmp, "state"), *files], capture_output=True, text=True,
                              env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        waits = [line for line in proc.stdout.splitlines() if "\"waiting\"" in line and "rate limit" in line]
        self.assertTrue(waits, proc.stdout[-2000:])
        self.assertIn("resets in", waits[0])


class CutWhileSending(CliHelpers):
    sandbox_args = ("--fault", "cut=200000,rate=0.5,on=upload", "--seed", "7")

    def test_a_connection_cut_mid_body_is_said_in_words_not_curls(self):
        # curl's own words were "seek callback returned error 2".
        path = make_file(self.tmp, "cut.mp4", 3_000_000)
        proc, events = self.run_json("-j", "1", "-c", "512K", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        retries = [e["error"] for e in events if e["event"] == "retry"]
        self.assertTrue(any("the connection closed while sending" in r for r in retries), retries)
        self.assertEqual([r for r in retries if "callback" in r], [])


if __name__ == "__main__":
    unittest.main()
