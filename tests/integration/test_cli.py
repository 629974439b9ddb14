"""vimeo-up's command line against the sandbox: the contract other tests rely on."""
import datetime
import http.server
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

from harness import (PEERS, ROOT, TOKEN, VIMEO_UP, Sandbox, SandboxTest, make_file, sha256_file)

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class CliTest(SandboxTest):
    def state(self):
        return os.path.join(self.tmp, "state")

    def vimeo_up(self, *args, token=TOKEN, api=None, timeout=300, env=None, check_one_line=False):
        environment = dict(os.environ, VIMEO_TOKEN=token)
        environment.pop("VIMEO_API_URL", None)
        environment.update(env or {})
        argv = [VIMEO_UP, *args]
        if args and args[0] == "list":
            argv += ["--state", self.state()]
        else:
            argv += ["--api", api or self.sandbox.url, "--state", self.state()]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=environment, cwd=self.tmp)
        if check_one_line:
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
        return proc

    def start(self, *args, token=TOKEN):
        env = dict(os.environ, VIMEO_TOKEN=token)
        return subprocess.Popen([VIMEO_UP, "--api", self.sandbox.url, "--state", self.state(), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=self.tmp)

    def events(self, proc):
        events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        self.assertEqual(events[-1]["event"], "summary", "a run ends with its summary")
        events = events[:-1]
        for ev in events:
            self.assertRegex(ev["time"], ISO_TIME)
            self.assertIn(ev["event"], ("queued", "created", "progress", "paused", "resumed", "retry", "waiting", "verified",
                                        "done", "failed", "transcoding", "available", "transcode_error"))
            self.assertIn("file", ev)
        return events

    def assert_all_stored(self, paths):
        for path in paths:
            up = self.sandbox.upload_named(os.path.basename(path))
            self.assertEqual(up["sha256"], sha256_file(path), path)
            self.assertTrue(up["complete"])

    def journal(self):
        proc = self.vimeo_up("list", "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)


class HappyPath(CliTest):
    def test_six_files_three_workers_json(self):
        sizes = {"one byte.bin": 1, "Fête ☃.mov": 1 << 20, "東京.mp4": 5 * 1024 * 1024 + 3,
                 "medium.mp4": 40 << 20, "odd.mkv": 7777777, "large.mp4": 300 << 20}
        paths = [make_file(self.tmp, name, size, seed=i) for i, (name, size) in enumerate(sizes.items())]
        proc = self.vimeo_up("--json", "-j", "3", "-c", "64M", *paths)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_all_stored(paths)
        events = self.events(proc)
        for path in paths:
            mine = [ev for ev in events if ev["file"] == path]
            kinds = [ev["event"] for ev in mine]
            for kind in ("queued", "created", "verified", "done"):
                self.assertIn(kind, kinds, path)
            done = [ev for ev in mine if ev["event"] == "done"][0]
            self.assertEqual((done["size"], done["acked"]), (os.path.getsize(path), os.path.getsize(path)))
            self.assertRegex(done["video"], r"^/videos/\d+$")
            verified = [ev for ev in mine if ev["event"] == "verified"][0]
            self.assertIn(f"offset = length = {os.path.getsize(path)}", verified["message"])
            self.assertLess(kinds.index("queued"), kinds.index("created"))
            self.assertLess(kinds.index("created"), kinds.index("done"))
        rows = self.journal()
        self.assertEqual(sorted(r["state"] for r in rows), ["done"] * 6)

    def test_plain_lines_escape_names_and_already_uploaded(self):
        path = make_file(self.tmp, "evil\x1b[31mname.mp4", 1000)
        proc = self.vimeo_up("--no-tui", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("\x1b", proc.stdout)
        self.assertIn("evil\\x1b[31mname.mp4", proc.stdout)
        self.assertIn("1 verified, 0 failed", proc.stdout)
        again = self.vimeo_up("--no-tui", path)
        self.assertEqual(again.returncode, 0)
        self.assertRegex(again.stdout, r"already uploaded as /videos/\d+")
        self.assertEqual(len(self.sandbox.uploads()), 1)
        forced = self.vimeo_up("--no-tui", "--again", path)
        self.assertEqual(forced.returncode, 0, forced.stderr)
        self.assertEqual(len(self.sandbox.uploads()), 2)

    def test_list_json_times_are_iso_8601_like_the_events(self):
        path = make_file(self.tmp, "when.bin", 1000)
        before = time.time()
        proc = self.vimeo_up("--json", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        done = [ev for ev in self.events(proc) if ev["event"] == "done"][0]
        (row,) = self.journal()
        self.assertRegex(row["updated"], ISO_TIME)
        updated = datetime.datetime.strptime(row["updated"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        self.assertTrue(before - 1 <= updated <= time.time(), (before, row["updated"]))
        self.assertLessEqual(abs(updated - datetime.datetime.strptime(
            done["time"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()), 5)

    def test_same_file_twice_is_one_upload(self):
        path = make_file(self.tmp, "twice.mp4", 3 << 20)
        proc = self.vimeo_up("--json", "-j", "2", "-c", "1M", path, os.path.relpath(path, self.tmp))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len([e for e in self.events(proc) if e["event"] == "queued"]), 1)
        up = self.sandbox.upload_named("twice.mp4")
        self.assertEqual((up["sha256"], up["received"]), (sha256_file(path), 3 << 20))

    def test_metadata_reaches_vimeo(self):
        path = make_file(self.tmp, "clip.mp4", 10)
        name = 'Q"uoted\nline ☃ 🎬'
        proc = self.vimeo_up("--no-tui", "--name", name, "--description", "d", "--privacy", "unlisted", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        up = self.sandbox.upload_named(name)
        status, _, data = self.sandbox.api("GET", up["video"])
        video = json.loads(data)
        self.assertEqual((video["name"], video["privacy"]["view"], video["description"]), (name, "unlisted", "d"))
        self.assertEqual(up["authorization_seen"], 0, "the token never goes to the upload link")

    def test_whole_file_in_one_patch(self):
        path = make_file(self.tmp, "whole.bin", 3 << 20)
        proc = self.vimeo_up("--no-tui", "-c", "0", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        up = self.sandbox.upload_named("whole.bin")
        self.assertEqual((up["requests"]["PATCH"], up["sha256"]), (1, sha256_file(path)))

    def test_small_chunks_make_many_patches(self):
        path = make_file(self.tmp, "chunks.bin", (3 << 20) + 5)
        proc = self.vimeo_up("--no-tui", "-c", "1M", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.sandbox.upload_named("chunks.bin")["requests"]["PATCH"], 4)

        self.assertEqual(proc.stderr, "", "1 MiB is not small")

    def test_tiny_chunks_work_with_one_warning(self):
        path = make_file(self.tmp, "tiny.bin", 3000)
        proc = self.vimeo_up("--no-tui", "-c", "1000", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "vimeo-up: warning: --chunk-size 1000: chunks under 1 MiB cost a request "
                                      "each and are slow\n")
        self.assertEqual(self.sandbox.upload_named("tiny.bin")["requests"]["PATCH"], 3)

    def test_rate_in_bits_is_refused(self):
        path = make_file(self.tmp, "bits.bin", 3000)
        for rate, meant in (("5Mb", "5M"), ("100kb", "100k"), ("2Mib", "2M"), ("10b", "10")):
            proc = self.vimeo_up("--no-tui", "-r", rate, path)
            self.assertEqual((proc.returncode, proc.stderr),
                             (2, f"vimeo-up: --limit-rate: bytes per second; did you mean {meant}? "
                                 f"(not {rate}) (see vimeo-up --help)\n"))
        self.assertEqual(self.sandbox.uploads(), [])
        self.assertEqual(self.vimeo_up("--no-tui", "-r", "5MB", path).returncode, 0)


class Faults(CliTest):
    def upload_through(self, spec, size=6 << 20, chunk="2M", extra=()):
        path = make_file(self.tmp, "fault.bin", size)
        self.sandbox.fault(spec)
        proc = self.vimeo_up("--json", "-c", chunk, *extra, path, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-2000:])
        self.assert_all_stored([path])
        return self.events(proc), self.sandbox.upload_named("fault.bin")

    def test_connection_cut(self):
        events, up = self.upload_through("cut=1000000,times=2,on=upload")
        self.assertGreaterEqual(len([e for e in events if e["event"] == "retry"]), 2)
        self.assertEqual(up["received"], up["size"], "bytes kept by the server are not sent again")

    def test_server_errors(self):
        events, _ = self.upload_through("error=503,times=3,on=upload")
        retries = [e for e in events if e["event"] == "retry"]
        self.assertEqual(len(retries), 3)
        self.assertIn("503", retries[0]["error"])

    def test_api_errors_on_create(self):
        events, _ = self.upload_through("error=500,times=1,on=api,method=POST")
        self.assertTrue(any("500" in e.get("error", "") for e in events if e["event"] == "retry"))

    def test_transient_errors_at_start_are_retried(self):
        events, _ = self.upload_through("error=503,times=2,on=api,method=GET")

    def test_rate_limited_with_retry_after(self):
        # The 429 goes to a HEAD: a PATCH answered before its body is read
        # may meet a reset instead of the answer, which made this flaky.
        self.sandbox.fault("cut=1000000,times=1,on=upload")
        started = time.monotonic()
        events, _ = self.upload_through("throttle=2,times=1,on=upload,method=HEAD")
        self.assertTrue(any("429" in e.get("error", "") for e in events if e["event"] == "retry"))
        self.assertGreaterEqual(time.monotonic() - started, 2, "Retry-After: 2 is honoured")

    def test_a_rate_limit_spent_at_start_is_waited_out_and_said(self):
        # Another client of the token spent Vimeo's rate limit: four 429s
        # on GET /me, each Retry-After: 1. The start once gave up after three.
        path = make_file(self.tmp, "later.bin", 1000)
        self.sandbox.fault("throttle=1,times=4,on=api,method=GET")
        proc = self.vimeo_up("--json", path, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr.count("vimeo-up: Vimeo's rate limit is spent (another client of this token?); "
                                           "asking again in 1 s\n"), 4, proc.stderr)
        self.assert_all_stored([path])

    def test_locked(self):
        events, _ = self.upload_through("locked,times=2")
        self.assertEqual(len([e for e in events if "423" in e.get("error", "")]), 2)

    def test_stall(self):
        events, _ = self.upload_through("stall=8,times=1", size=40 << 20, chunk="0",
                                        extra=("--stall-timeout", "2"))
        self.assertTrue(any(e["event"] == "retry" for e in events))

    def test_conflict(self):
        events, up = self.upload_through("conflict,times=2")
        self.assertGreaterEqual(up["requests"]["HEAD"], 2, "409 makes the client ask where the upload is")

    def test_expired_link(self):
        path = make_file(self.tmp, "expiring.bin", 6 << 20)
        self.sandbox.fault("expire=*,after=2000000,times=1,code=410")
        proc = self.vimeo_up("--json", "-c", "2M", path, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        events = self.events(proc)
        self.assertTrue(any("expired" in e.get("message", "") + e.get("error", "") for e in events))
        uploads = self.sandbox.uploads()
        self.assertEqual(len(uploads), 2, "a new upload replaced the expired one")
        self.assertTrue(uploads[0]["expired"])
        self.assertEqual((uploads[1]["sha256"], uploads[1]["complete"]), (sha256_file(path), True))
        status, _, _ = self.sandbox.api("GET", uploads[0]["video"])
        self.assertEqual(status, 404, "the stale video was deleted")

    def test_link_expired_after_the_last_byte_is_done_not_uploaded_again(self):
        path = make_file(self.tmp, "finished.bin", 3 << 20)
        self.sandbox.fault(f"expire=*,after={3 << 20},times=1")
        proc = self.vimeo_up("--json", "-c", "1M", path, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        verified = [e for e in self.events(proc) if e["event"] == "verified"]
        self.assertIn("Vimeo upload.status complete (the upload link expired after the last byte)",
                      verified[0]["message"])
        uploads = self.sandbox.uploads()
        self.assertEqual(len(uploads), 1, "no second upload, no second video")
        self.assertEqual((uploads[0]["sha256"], uploads[0]["expired"]), (sha256_file(path), True))
        self.assertEqual(self.sandbox.api("GET", uploads[0]["video"])[0], 200)
        self.assertEqual(self.journal()[0]["state"], "done")


class RateLimitHeaders(CliTest):
    sandbox_args = ("--rate-limit", "3", "--rate-window", "2")

    def test_waits_for_the_reset_instead_of_earning_429(self):
        paths = [make_file(self.tmp, f"r{i}.bin", 1000 + i) for i in range(3)]
        proc = self.vimeo_up("--json", "-j", "3", *paths, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-1500:])
        self.assert_all_stored(paths)
        # seven API calls in windows of three: without waiting, some would be 429s
        self.assertEqual([e for e in self.events(proc) if e["event"] == "retry"], [])


class Resume(CliTest):
    def test_kill_9_then_resume(self):
        path = make_file(self.tmp, "killed.bin", 24 << 20)
        proc = self.start("--no-tui", "-r", "4M", "-c", "8M", path)
        self.wait_for(lambda: self.sandbox.uploads() and self.sandbox.uploads()[0]["offset"] > (5 << 20),
                      timeout=30, what="part of the upload")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rows = self.journal()
        self.assertEqual(rows[0]["state"], "uploading")
        before = self.sandbox.upload_named("killed.bin")["received"]
        resumed = self.vimeo_up("resume", "--json")
        self.assertEqual(resumed.returncode, 0, resumed.stderr + resumed.stdout)
        up = self.sandbox.upload_named("killed.bin")
        self.assertEqual(up["sha256"], sha256_file(path))
        self.assertLessEqual(up["received"] - up["size"], 8 << 20)
        # What the resume sent, not the file's size nor past the journal's offset.
        summary = [e for e in map(json.loads, resumed.stdout.splitlines()) if e["event"] == "summary"][0]
        self.assertEqual(summary["bytes_sent"], up["received"] - before)
        self.assertEqual(self.journal()[0]["state"], "done")
        self.assertIn("nothing to resume", self.vimeo_up("resume", "--no-tui").stdout)

    def test_sigterm_saves_and_exits_130(self):
        path = make_file(self.tmp, "term.bin", 16 << 20)
        proc = self.start("--no-tui", "-r", "2M", path)
        self.wait_for(lambda: self.sandbox.uploads() and self.sandbox.uploads()[0]["offset"] > (1 << 20),
                      timeout=30, what="part of the upload")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 130)
        self.assertLess(time.monotonic() - started, 3)
        self.assertIn("vimeo-up: stopping on SIGTERM; progress is saved, 'vimeo-up resume' continues", err)
        row = self.journal()[0]
        self.assertGreater(row["acked"], 0)
        self.assertEqual(self.vimeo_up("resume", "--no-tui").returncode, 0)
        self.assertEqual(self.sandbox.upload_named("term.bin")["sha256"], sha256_file(path))

    def test_verify(self):
        path = make_file(self.tmp, "v.bin", 1000)
        self.assertEqual(self.vimeo_up("--no-tui", path).returncode, 0)
        proc = self.vimeo_up("verify", path)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("complete", proc.stdout)
        video = self.journal()[0]["video"]
        self.assertEqual(self.vimeo_up("verify", video).returncode, 0)
        self.assertEqual(self.vimeo_up("verify").returncode, 0)
        self.sandbox.fault("expire=*,code=404")
        # The link is gone, but Vimeo's API still says the upload completed.
        self.assertEqual(self.vimeo_up("verify", path).returncode, 0)
        self.sandbox.clear_faults()
        self.sandbox.api("DELETE", video)
        proc = self.vimeo_up("verify", path)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("0 verified, 1 failed verification\n", proc.stdout)
        self.assertEqual(self.vimeo_up("verify", "/videos/1").returncode, 1)
        # A file never uploaded was never verified: refused, not "failed
        # verification", which says an upload is broken.
        proc = self.vimeo_up("verify", path, os.path.join(self.tmp, "never.bin"))
        self.assertEqual(proc.returncode, 1)
        self.assertIn("never.bin: not in the journal", proc.stderr)
        self.assertTrue(proc.stdout.endswith("0 verified, 1 failed verification, 1 refused\n"), proc.stdout)

    def test_incomplete_upload_fails_verify(self):
        path = make_file(self.tmp, "partial.bin", 8 << 20)
        proc = self.start("--no-tui", "-r", "2M", path)
        self.wait_for(lambda: self.sandbox.uploads() and self.sandbox.uploads()[0]["offset"] > 0, timeout=30,
                      what="part of the upload")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        verify = self.vimeo_up("verify", path)
        self.assertEqual(verify.returncode, 1)
        self.assertIn("incomplete", verify.stdout)

    def test_two_processes_never_upload_one_file_at_once(self):
        path = make_file(self.tmp, "shared.bin", 8 << 20)
        first = self.start("--no-tui", "-r", "4M", path)
        self.wait_for(lambda: self.sandbox.uploads(), timeout=30, what="the first upload")
        second = self.vimeo_up("--no-tui", path, check_one_line=True)
        self.assertEqual(second.returncode, 1)
        self.assertIn("another vimeo-up", second.stderr)
        first.communicate(timeout=60)
        self.assertEqual(first.returncode, 0)
        self.assertEqual(len(self.sandbox.uploads()), 1)


class FakeApi(http.server.BaseHTTPRequestHandler):
    """An API that misbehaves as told by the class attribute answer."""
    answer = (200, "text/html", b"<html>oops</html>")

    def do_GET(self):
        self.reply()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply()

    def reply(self):
        status, ctype, body = self.answer(self.path) if callable(self.answer) else self.answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class BadInput(CliTest):
    def fake_api(self, answer):
        handler = type("Handler", (FakeApi,), {"answer": staticmethod(answer) if callable(answer) else answer})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def assert_journal_intact(self):
        before = self.journal()
        self.assertTrue(all(r["state"] == "done" for r in before), before)

    def setUp(self):
        super().setUp()
        self.good = make_file(self.tmp, "good.bin", 100)
        self.assertEqual(self.vimeo_up("--no-tui", self.good).returncode, 0)

    def test_missing_directory_empty_files(self):
        empty = os.path.join(self.tmp, "empty.bin")
        open(empty, "w").close()
        for arg, words in (("missing.bin", "No such file"), (self.tmp, "is a directory"), (empty, "empty")):
            started = time.monotonic()
            proc = self.vimeo_up("--no-tui", arg, check_one_line=True)
            # Nothing queued, nothing to wait for: not the 3 s it once took
            # to notice, one progress interval.
            self.assertLess(time.monotonic() - started, 2, arg)
            self.assertEqual(proc.returncode, 1, arg)
            self.assertIn(arg, proc.stderr)
            self.assertIn(words, proc.stderr)
        self.assert_journal_intact()

    def test_a_refused_file_goes_by_the_name_queued_files_go_by(self):
        # A reader of --json matches events by "file": queued files go by
        # their absolute path, so refused ones do too, however they were named.
        open(os.path.join(self.tmp, "empty.bin"), "w").close()
        named = ("missing.bin", "./empty.bin", "no-dir/missing.bin", "good.bin")
        proc = self.vimeo_up("--json", *named)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        events = [json.loads(line) for line in proc.stdout.splitlines()]
        here = os.path.realpath(self.tmp)
        self.assertEqual(sorted(e["file"] for e in events if e["event"] == "failed"),
                         sorted(os.path.join(here, name) for name in ("missing.bin", "empty.bin", "no-dir/missing.bin")))
        self.assertEqual([e["file"] for e in events if e["event"] not in ("failed", "summary")],
                         [os.path.join(here, "good.bin")], "uploaded already, by its absolute path")
        self.assertIn("vimeo-up: ./empty.bin: empty file", proc.stderr, "the message names it as given")

    def test_unreadable_file(self):
        path = make_file(self.tmp, "secret.bin", 100)
        os.chmod(path, 0)
        os.chmod(self.tmp, 0o777)
        # The journal is private to its user: hand it to nobody rather than open it up.
        for mine in (self.state(), os.path.join(self.state(), "journal.db")):
            os.chown(mine, 65534, 65534)
        env = dict(os.environ, VIMEO_TOKEN=TOKEN)
        proc = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", VIMEO_UP,
                               "--no-tui", "--api", self.sandbox.url, "--state", self.state(), path],
                              capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stderr.strip(), f"vimeo-up: {path}: Permission denied")

    def test_file_growing_during_upload(self):
        path = make_file(self.tmp, "growing.bin", 6 << 20)
        proc = self.start("--json", "-r", "2M", "-c", "1M", path)
        self.wait_for(lambda: [u for u in self.sandbox.uploads() if u["name"] == "growing.bin" and u["offset"] > 0],
                      timeout=30, what="upload start")
        with open(path, "ab") as f:
            f.write(b"more")
        out, _ = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1, out)
        failed = [json.loads(l) for l in out.splitlines() if '"failed"' in l]
        self.assertIn("changed during the upload", failed[0]["error"])
        self.assertFalse(any('"done"' in l for l in out.splitlines()))

    def test_bad_token_exits_3(self):
        proc = self.vimeo_up("--no-tui", self.good, token="wrong", check_one_line=True)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("8003", proc.stderr)
        self.assertNotIn("wrong", proc.stderr)
        proc = self.vimeo_up("--no-tui", self.good, token="", check_one_line=True)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("VIMEO_TOKEN", proc.stderr)
        self.assert_journal_intact()

    def test_token_file(self):
        token_file = os.path.join(self.tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(token_file, 0o644)
        proc = self.vimeo_up("--no-tui", "--token-file", token_file, self.good, token="", check_one_line=True)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("readable by others", proc.stderr)
        os.chmod(token_file, 0o600)
        proc = self.vimeo_up("--no-tui", "--again", "--token-file", token_file, self.good, token="")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_api_unreachable_html_and_truncated(self):
        for api in ("http://127.0.0.1:9",
                    self.fake_api((200, "text/html", b"<html>maintenance</html>")),
                    self.fake_api((200, "application/json", b'{"upload_quota": {"space": {"fr'))):
            proc = self.vimeo_up("--no-tui", self.good, api=api, check_one_line=True)
            self.assertEqual(proc.returncode, 3, (api, proc.stderr))
            self.assertIn("cannot start", proc.stderr)
        self.assert_journal_intact()

    def test_plain_http_upload_link_is_refused(self):
        def answer(path):
            if path.startswith("/me/videos"):
                return (200, "application/json", json.dumps({"uri": "/videos/5", "upload": {
                    "upload_link": "http://files.example.com/files/x"}}).encode())
            return (200, "application/json", b'{"upload_quota":{"space":{"free":null}}}')
        path = make_file(self.tmp, "link.bin", 10)
        proc = self.vimeo_up("--json", path, api=self.fake_api(answer))
        self.assertEqual(proc.returncode, 1)
        failed = [json.loads(l) for l in proc.stdout.splitlines() if '"failed"' in l][0]
        self.assertIn("plain http is only allowed to loopback", failed["error"])

    def test_plain_http_api_is_refused(self):
        proc = self.vimeo_up("--no-tui", self.good, api="http://api.example.com", check_one_line=True)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("loopback", proc.stderr)

    def test_usage_errors_exit_2(self):
        for args in (["--bogus", self.good], ["-j", "0", self.good], ["-c", "12X", self.good], [],
                     ["--privacy", "everyone", self.good], ["resume", self.good], ["--jobs"],
                     # A count is not a size: 1K seconds or 2K workers are typing slips.
                     ["--stall-timeout", "1K", self.good], ["-j", "2K", self.good]):
            proc = self.vimeo_up(*args)
            self.assertEqual(proc.returncode, 2, (args, proc.stderr))
            self.assertTrue(proc.stderr.startswith("vimeo-up: "), proc.stderr)
            self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
        self.assert_journal_intact()

    def test_options_anywhere_and_help_command(self):
        # As git and gh take them: before the command as well as after it.
        env = dict(os.environ, VIMEO_TOKEN=TOKEN)
        run = lambda *args: subprocess.run([VIMEO_UP, *args], capture_output=True, text=True, env=env,
                                           cwd=self.tmp, timeout=60)
        proc = run("--api", self.sandbox.url, "--state", self.state(), "--no-tui", "resume")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("nothing to resume", proc.stdout)
        # Everything done: said with no --api, no token and no API to ask.
        bare = subprocess.run([VIMEO_UP, "--state", self.state(), "--no-tui", "resume"], capture_output=True,
                              text=True, env={k: v for k, v in env.items() if k != "VIMEO_TOKEN"}, timeout=60)
        self.assertEqual((bare.returncode, bare.stdout), (0, f"nothing to resume in {self.state()}\n"), bare.stderr)
        proc = run("--state", self.state(), "list", "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout), self.journal())
        proc = run("--state=" + self.state(), "--api", self.sandbox.url, "verify")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("1 verified, 0 failed verification", proc.stdout)
        proc = run("--state", self.state(), "list", "-j", "3")
        self.assertEqual((proc.returncode, proc.stderr),
                         (2, "vimeo-up: list takes only --json and --state: -j (see vimeo-up --help)\n"))
        # After --, a word is a FILE even when it names a command.
        proc = run("--api", self.sandbox.url, "--state", self.state(), "--no-tui", "--", "resume")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("resume: No such file or directory", proc.stderr)
        proc = run("help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, run("--help").stdout)
        self.assertTrue(proc.stdout.startswith("usage: vimeo-up"), proc.stdout)

    def test_corrupt_journal_exits_3(self):
        with open(os.path.join(self.state(), "journal.db"), "r+b") as f:
            f.write(b"garbage" * 20)
        proc = self.vimeo_up("--no-tui", self.good, check_one_line=True)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("journal.db", proc.stderr)

    def test_foreign_database_as_journal_exits_3_and_is_kept(self):
        journal = os.path.join(self.state(), "journal.db")
        for leftover in (journal, journal + "-wal", journal + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
        with sqlite3.connect(journal) as db:
            db.execute("CREATE TABLE photos (name TEXT)")
            db.execute("INSERT INTO photos VALUES ('cat.jpg')")
        proc = self.vimeo_up("--no-tui", self.good, check_one_line=True)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("is not a vimeo-up journal", proc.stderr)
        with sqlite3.connect(journal) as db:
            self.assertEqual(db.execute("SELECT name FROM photos").fetchall(), [("cat.jpg",)])

    def test_quota_refuses_early(self):
        sb = Sandbox("--quota", "1000")
        try:
            path = make_file(self.tmp, "big.bin", 5000)
            proc = self.vimeo_up("--json", path, api=sb.url)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("larger than the free upload quota", proc.stdout)
            self.assertEqual(sb.uploads(), [])
        finally:
            sb.stop()

    def test_help_and_version(self):
        proc = subprocess.run([VIMEO_UP, "--help"], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0)
        for option in ("--jobs", "--chunk-size", "--limit-rate", "--api", "--token-file", "--state", "--no-tui",
                       "--json", "--tus-endpoint", "--again"):
            self.assertIn(option, proc.stdout)
        self.assertRegex(subprocess.run([VIMEO_UP, "-V"], capture_output=True, text=True).stdout,
                         r"^vimeo-up \d+\.\d+\.\d+\n$")


class RefusingTus(http.server.BaseHTTPRequestHandler):
    """A tus server whose PATCH answers a fixed refusal; counts PATCHes."""
    patch_status = 412
    patches = 0

    def do_POST(self):
        self.send_response(201)
        self.send_header("Location", "/files/x")
        self.send_header("Tus-Resumable", "1.0.0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PATCH(self):
        type(self).patches += 1
        self.send_response(self.patch_status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *args):
        pass


class ClientErrors(CliTest):
    def test_4xx_on_patch_fails_at_once_with_a_clear_message(self):
        # (403 on an upload link means gone, as 404 and 410: test_vimeo_real.ExpiredWith403.)
        for status, words in ((412, "tus version not supported"), (415, "request refused"), (400, "request refused")):
            handler = type("Handler", (RefusingTus,), {"patch_status": status, "patches": 0})
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.addCleanup(server.shutdown)
            path = make_file(self.tmp, f"refused{status}.bin", 1000)
            proc = self.vimeo_up("--json", "--tus-endpoint", f"http://127.0.0.1:{server.server_address[1]}/files",
                                 path, token="")
            self.assertEqual(proc.returncode, 1, proc.stderr)
            failed = [e for e in self.events(proc) if e["event"] == "failed"]
            self.assertIn(f"PATCH answered HTTP {status}", failed[0]["error"])
            self.assertIn(words, failed[0]["error"])
            self.assertEqual(handler.patches, 1, "a refusal is not retried")


class GenericTus(CliTest):
    def test_official_node_tus_server(self):
        store = os.path.join(self.tmp, "tus-store")
        os.mkdir(store)
        server = subprocess.Popen(["node", os.path.join(PEERS, "tus_node_server.js"), store],
                                  stdout=subprocess.PIPE, text=True)
        self.addCleanup(server.wait)
        self.addCleanup(server.terminate)
        endpoint = server.stdout.readline().split()[2]
        path = make_file(self.tmp, "generic ☃.bin", (9 << 20) + 1)
        proc = self.vimeo_up("--json", "-c", "4M", "--tus-endpoint", endpoint, path, token="")
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-1000:])
        stored = [f for f in os.listdir(store) if not f.endswith(".json")]
        self.assertEqual(len(stored), 1)
        self.assertEqual(sha256_file(os.path.join(store, stored[0])), sha256_file(path))
        with open(os.path.join(store, stored[0] + ".json")) as f:
            self.assertEqual(json.load(f)["metadata"]["filename"], "generic ☃.bin")


class Install(CliTest):
    def test_prefix_and_destdir(self):
        root = os.path.join(self.tmp, "root")
        build = os.path.relpath(os.environ.get("VIMEO_UP_BUILD", os.path.join(ROOT, "build")), ROOT)
        # -o: install what this run built (it may be an instrumented build).
        proc = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "-o", f"{build}/vimeo-up", "install",
                               f"BUILD={build}",
                               "PREFIX=/opt/vu", f"DESTDIR={root}"], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        binary = os.path.join(root, "opt/vu/bin/vimeo-up")
        self.assertTrue(os.access(binary, os.X_OK))
        self.assertTrue(os.path.isfile(os.path.join(root, "opt/vu/share/man/man1/vimeo-up.1")))
        completions = [os.path.join(root, "opt/vu/share/bash-completion/completions/vimeo-up"),
                       os.path.join(root, "opt/vu/share/zsh/site-functions/_vimeo-up")]
        for path, shell in zip(completions, ("bash", "zsh")):
            with open(path) as f:
                self.assertEqual(f.read(), subprocess.run([binary, "completion", shell], capture_output=True,
                                                          text=True).stdout)
        version = subprocess.run([binary, "--version"], capture_output=True, text=True)
        self.assertTrue(version.stdout.startswith("vimeo-up "))
        proc = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "uninstall", "PREFIX=/opt/vu",
                               f"DESTDIR={root}"], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(os.path.exists(binary))
        self.assertFalse(os.path.exists(os.path.join(root, "opt/vu/share/man/man1/vimeo-up.1")))
        for path in completions:
            self.assertFalse(os.path.exists(path), path)
        self.assertTrue(os.path.isdir(os.path.join(root, "opt/vu/bin")), "directories others may share stay")


class Demo(CliTest):
    def test_sandbox_messages_go_to_a_file_not_the_screen(self):
        # libmicrohttpd reports every aborted PATCH on stderr; on the demo's
        # terminal that would scroll the dashboard.
        env = dict(os.environ, VIMEO_UP_BUILD=os.path.dirname(VIMEO_UP))
        demo = subprocess.Popen([os.path.join(ROOT, "tests", "demo")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            def sandbox_pid():
                for pid in filter(str.isdigit, os.listdir("/proc")):
                    try:
                        with open(f"/proc/{pid}/stat") as f:
                            fields = f.read().rsplit(")", 1)[1].split()
                        with open(f"/proc/{pid}/comm") as f:
                            comm = f.read().strip()
                    except (FileNotFoundError, ProcessLookupError):
                        continue
                    if comm == "vimeo-sandbox" and int(fields[1]) == demo.pid:
                        return int(pid)
                return None
            pid = self.wait_for(sandbox_pid, timeout=30, what="the demo's sandbox")
            target = os.readlink(f"/proc/{pid}/fd/2")
            self.assertTrue(target.startswith("/") and os.path.isfile(target), target)
        finally:
            os.killpg(demo.pid, signal.SIGTERM)
            demo.communicate(timeout=30)

    def test_demo_installs_only_the_build_and_the_sandbox(self):
        # Every package "missing": stubs log what apt-get and npm would be asked.
        stubs = os.path.join(self.tmp, "stubs")
        log = os.path.join(self.tmp, "calls")
        os.mkdir(stubs)
        for name, body in (("dpkg-query", "exit 1"), ("sudo", 'exec "$@"'),
                           ("apt-get", f'echo "apt-get $*" >> {log}'), ("npm", f'echo "npm $*" >> {log}')):
            with open(os.path.join(stubs, name), "w") as f:
                f.write(f"#!/bin/sh\n{body}\n")
            os.chmod(os.path.join(stubs, name), 0o755)
        env = dict(os.environ, PATH=stubs + ":" + os.environ["PATH"])
        proc = subprocess.run([os.path.join(ROOT, "tests", "deps"), "build"], capture_output=True, text=True,
                              env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(log) as f:
            calls = f.read().splitlines()
        self.assertFalse([c for c in calls if c.startswith("npm")], calls)
        installed = set(" ".join(c.split(" install ", 1)[1] for c in calls if " install " in c).split())
        self.assertTrue({"libcurl4-openssl-dev", "libncurses-dev", "libmicrohttpd-dev", "libssl-dev"} <= installed,
                        installed)
        for test_only in ("clang", "valgrind", "nodejs", "npm", "tmux", "libcmocka-dev", "python3-tuspy"):
            self.assertNotIn(test_only, installed)
        # make demo asks for no more than that; make check for everything.
        plan = subprocess.run(["make", "-C", ROOT, "-n", "--no-print-directory", "demo"], capture_output=True,
                              text=True, timeout=60).stdout.splitlines()
        self.assertIn("tests/deps build", plan)
        self.assertNotIn("tests/deps", plan)
        plan = subprocess.run(["make", "-C", ROOT, "-n", "--no-print-directory", "check"], capture_output=True,
                              text=True, timeout=60).stdout.splitlines()
        self.assertIn("tests/deps", plan)
