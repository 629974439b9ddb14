"""What vimeo-up lets out, and what it lets in: the token, file modes,
hostile upload links and oversized answers."""
import glob
import http.server
import json
import os
import sqlite3
import stat
import subprocess
import threading

from harness import TOKEN, VIMEO_UP, Sandbox, make_file, sha256_file
from test_cli import CliTest, FakeApi


class Token(CliTest):
    def test_token_is_nowhere_but_the_api_requests(self):
        # Upload links on another host name than the API: the token must not
        # follow them there.
        sandbox = Sandbox("--upload-host", "localhost")
        self.addCleanup(sandbox.stop)
        path = make_file(self.tmp, "secret.mp4", 3 << 20)
        proc = subprocess.Popen([VIMEO_UP, "--json", "-r", "1M", "-c", "512K", "--api", sandbox.url, "--state",
                                 self.state(), path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, VIMEO_TOKEN=TOKEN), cwd=self.tmp)
        self.wait_for(lambda: sandbox.uploads() and sandbox.uploads()[0]["offset"] > 0, timeout=30,
                      what="the upload to start")
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            self.assertNotIn(TOKEN.encode(), f.read())
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertTrue(sandbox.uploads()[0]["complete"])
        self.assertTrue(all(u["authorization_seen"] == 0 for u in sandbox.uploads()))
        plain = self.vimeo_up("--no-tui", "--again", path, api=sandbox.url)
        listing = self.vimeo_up("list", "--json")
        for text in (out, err, plain.stdout, plain.stderr, listing.stdout):
            self.assertNotIn(TOKEN, text)
        for journal_file in glob.glob(os.path.join(self.state(), "*")):
            with open(journal_file, "rb") as f:
                self.assertNotIn(TOKEN.encode(), f.read(), journal_file)

    def test_a_token_that_would_split_a_header_is_refused_unsent(self):
        path = make_file(self.tmp, "clip.mp4", 10)
        evil = TOKEN + "\r\nX-Injected: 1"
        proc = self.vimeo_up("--no-tui", path, token=evil, check_one_line=True)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("the access token holds characters a header cannot carry", proc.stderr)
        self.assertNotIn(TOKEN, proc.stderr + proc.stdout)
        self.assertEqual(self.sandbox.uploads(), [])

    def test_state_is_private_whatever_the_umask(self):
        path = make_file(self.tmp, "private.mp4", 10)
        proc = subprocess.run([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state", self.state(), path],
                              capture_output=True, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN),
                              preexec_fn=lambda: os.umask(0), timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(self.state()).st_mode), 0o700)
        for name in os.listdir(self.state()):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.state(), name)).st_mode), 0o600, name)


class Proxy(CliTest):
    def test_loopback_and_plain_http_never_go_through_a_proxy(self):
        seen = []

        class Recorder(http.server.BaseHTTPRequestHandler):
            def do_any(self):
                seen.append((self.command, self.path, self.headers.get("Authorization")))
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()
            do_GET = do_POST = do_HEAD = do_PATCH = do_DELETE = do_CONNECT = do_any

            def log_message(self, *args):
                pass
        proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        self.addCleanup(proxy.shutdown)
        url = f"http://127.0.0.1:{proxy.server_address[1]}"
        env = {name: url for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                      "ALL_PROXY")}
        env.update(no_proxy="", NO_PROXY="")
        path = make_file(self.tmp, "direct.mp4", 100000)
        proc = self.vimeo_up("--no-tui", path, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(seen, [])
        self.assertEqual(self.sandbox.upload_named("direct.mp4")["sha256"], sha256_file(path))


class CoreDumps(CliTest):
    def test_no_core_dump_or_ptrace_while_the_token_is_held(self):
        # A process that is not dumpable gets /proc/PID owned by root instead
        # of by its user; so run vimeo-up as someone other than root.
        user = 65534 if os.getuid() == 0 else os.getuid()
        home = os.path.join(self.tmp, "nobody")
        os.mkdir(home)
        os.chmod(self.tmp, 0o755)
        os.chown(home, user, user)
        path = make_file(home, "dump.mp4", 3 << 20)
        os.chmod(path, 0o644)

        def become_user():
            if os.getuid() != user:
                os.setgid(user)
                os.setgroups([])
                os.setuid(user)
        proc = subprocess.Popen([VIMEO_UP, "--json", "-r", "1M", "-c", "512K", "--api", self.sandbox.url,
                                 "--state", os.path.join(home, "state"), path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN),
                                cwd=home, preexec_fn=become_user)
        self.addCleanup(proc.kill)
        self.wait_for(lambda: self.sandbox.uploads() and self.sandbox.uploads()[0]["offset"] > 0, timeout=30,
                      what="the upload to start")
        self.assertEqual(os.stat(f"/proc/{proc.pid}/status").st_uid, 0, "vimeo-up is dumpable while it holds the token")
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)


class LooseModes(CliTest):
    def test_an_open_state_directory_is_refused_and_left_alone(self):
        path = make_file(self.tmp, "loose.mp4", 10)
        os.mkdir(self.state(), 0o755)
        os.chmod(self.state(), 0o755)
        proc = self.vimeo_up("--no-tui", path, check_one_line=True)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertEqual(proc.stderr, f"vimeo-up: journal directory {self.state()} is open to others (mode 755); "
                                      f"run chmod 700 {self.state()}\n")
        self.assertEqual(os.listdir(self.state()), [])
        self.assertEqual(stat.S_IMODE(os.stat(self.state()).st_mode), 0o755)
        self.assertEqual(self.sandbox.uploads(), [])

    def test_a_journal_and_its_wal_left_0644_are_made_0600(self):
        path = make_file(self.tmp, "tight.mp4", 10)
        self.assertEqual(self.vimeo_up("--no-tui", path).returncode, 0)
        journal = os.path.join(self.state(), "journal.db")
        os.chmod(journal, 0o644)
        # Another connection keeps the -wal and -shm files, with the mode
        # SQLite gives them: the database file's.
        other = sqlite3.connect(journal)
        self.addCleanup(other.close)
        other.execute("SELECT count(*) FROM uploads").fetchone()
        for name in ("journal.db-wal", "journal.db-shm"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.state(), name)).st_mode), 0o644, name)
        proc = self.vimeo_up("--no-tui", "--again", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for name in ("journal.db", "journal.db-wal", "journal.db-shm"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.state(), name)).st_mode), 0o600, name)


class HugeAnswer(http.server.BaseHTTPRequestHandler):
    """An API whose every answer is 100 MB of JSON-looking bytes."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(100 << 20))
        self.end_headers()
        block = b'{"a":"' + b"x" * ((1 << 20) - 6)
        try:
            for _ in range(100):
                self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


class HostileServer(CliTest):
    def serve(self, handler):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def test_upload_links_with_control_characters_are_refused(self):
        path = make_file(self.tmp, "link.bin", 10)
        for link in ("http://127.0.0.1:1/files/x\r\nX-Injected: 1", "http://127.0.0.1:1/files/\x01x",
                     "http://127.0.0.1:1/files/ x"):
            def answer(request_path, link=link):
                if request_path.startswith("/me/videos"):
                    return (200, "application/json",
                            json.dumps({"uri": "/videos/5", "upload": {"upload_link": link}}).encode())
                return (200, "application/json", b'{"upload_quota":{"space":{"free":null}}}')
            handler = type("Handler", (FakeApi,), {"answer": staticmethod(answer)})
            proc = self.vimeo_up("--json", "--again", path, api=self.serve(handler))
            self.assertEqual(proc.returncode, 1, (link, proc.stderr))
            failed = [json.loads(line) for line in proc.stdout.splitlines() if '"failed"' in line]
            self.assertIn("Vimeo gave an upload link that is refused: contains spaces or control characters",
                          failed[0]["error"], link)

    def test_an_error_that_echoes_the_token_does_not_show_it(self):
        path = make_file(self.tmp, "echo.bin", 10)
        body = json.dumps({"error": f"The token {TOKEN} is not valid.", "error_code": 8003,
                           "invalid_parameters": [{"field": f"bearer {TOKEN}"}]}).encode()
        handler = type("Handler", (FakeApi,), {"answer": (401, "application/vnd.vimeo.error+json", body)})
        proc = self.vimeo_up("--no-tui", path, api=self.serve(handler), check_one_line=True)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertEqual(proc.stderr, "vimeo-up: cannot start: Vimeo API: The token *** is not valid. "
                                      "(HTTP 401, error 8003; invalid: bearer ***)\n")

    def test_a_100_mb_answer_is_cut_off_at_bounded_memory(self):
        path = make_file(self.tmp, "huge.bin", 10)
        usage = os.path.join(self.tmp, "usage")
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", usage, VIMEO_UP, "--no-tui", "--api",
                               self.serve(HugeAnswer), "--state", self.state(), path],
                              capture_output=True, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=60)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn("Vimeo API: the server's answer is larger than 1048576 bytes", proc.stderr)
        with open(usage) as f:
            peak_kib = int(f.read().split()[-1])
        self.assertLess(peak_kib, 40 << 10, "peak RSS must not follow the answer's size")
