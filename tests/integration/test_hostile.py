"""What a hostile environment does to vimeo-up: closed standard streams, a
corrupt journal, an upload host whose certificate is refused."""
import http.server
import json
import os
import re
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

from harness import TOKEN, VIMEO_UP, make_file, sha256_file
from test_cli import CliTest, FakeApi


class ClosedStdio(CliTest):
    def test_upload_with_stdin_and_stdout_closed(self):
        # As some schedulers start jobs: `<&- >&-`. The first files opened
        # must not become fds 0 and 1.
        path = make_file(self.tmp, "closed.mp4", 300000)
        proc = subprocess.run(["sh", "-c", 'exec "$@" <&- >&-', "sh", VIMEO_UP, "--no-tui", "--api",
                               self.sandbox.url, "--state", self.state(), path],
                              capture_output=True, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN),
                              cwd=self.tmp, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        up = self.sandbox.upload_named("closed.mp4")
        self.assertEqual(up["sha256"], sha256_file(path))
        self.assertEqual([r["state"] for r in self.journal()], ["done"])


class CorruptJournal(CliTest):
    def test_a_damaged_table_page_makes_list_resume_and_verify_exit_3(self):
        path = make_file(self.tmp, "kept.mp4", 1000)
        self.assertEqual(self.vimeo_up("--no-tui", path).returncode, 0)
        journal = os.path.join(self.state(), "journal.db")
        db = sqlite3.connect(journal)
        page, size = db.execute("SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master"
                                " WHERE name = 'uploads'").fetchone()
        db.close()
        with open(journal, "r+b") as f:
            f.seek((page - 1) * size)
            f.write(b"\xa5" * size)
        for args in (("list",), ("list", "--json"), ("resume", "--no-tui"), ("verify",)):
            proc = self.vimeo_up(*args, check_one_line=True)
            self.assertEqual(proc.returncode, 3, (args, proc.stdout))
            self.assertEqual(proc.stderr, f"vimeo-up: journal unreadable: {journal}: database disk image is malformed\n")


class SelfSignedUploadHost(CliTest):
    """Upload links on an https server whose certificate no CA signed."""

    def tls_server(self):
        key, cert = os.path.join(self.tmp, "key.pem"), os.path.join(self.tmp, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        self.handshakes = 0

        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                self.handshakes += 1
                try:
                    context.wrap_socket(conn, server_side=True).close()
                except (ssl.SSLError, OSError):
                    conn.close()
        threading.Thread(target=serve, daemon=True).start()
        return f"https://127.0.0.1:{listener.getsockname()[1]}"

    def test_a_refused_certificate_fails_at_once_with_curls_reason(self):
        link = self.tls_server() + "/files/1"

        def answer(request_path):
            if request_path.startswith("/me/videos"):
                return (200, "application/json", json.dumps({"uri": "/videos/5", "upload": {"upload_link": link}}).encode())
            return (200, "application/json", b'{"upload_quota":{"space":{"free":null}}}')
        handler = type("Handler", (FakeApi,), {"answer": staticmethod(answer)})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        path = make_file(self.tmp, "tls.mp4", 1000)
        started = time.monotonic()
        # Retried as transient, this took 12 tries and minutes.
        proc = self.vimeo_up("--json", path, api=f"http://127.0.0.1:{server.server_address[1]}", timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual(self.handshakes, 1)
        events = self.events(proc)
        self.assertNotIn("retry", [ev["event"] for ev in events])
        failed = [ev for ev in events if ev["event"] == "failed"]
        self.assertEqual(len(failed), 1, events)
        self.assertIn("SSL certificate problem: self-signed certificate", failed[0]["error"])


class HostilePageLink(CliTest):
    """An API whose video "link" carries an escape sequence, or points
    elsewhere: vimeo-up keeps no such page, so none reaches a terminal, the
    journal or a hook."""

    def proxy(self, link):
        upstream = self.sandbox.url

        class Rewriter(http.server.BaseHTTPRequestHandler):
            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = urllib.request.Request(upstream + self.path, data=body or None, method=self.command,
                                                 headers={k: v for k, v in self.headers.items() if k != "Host"})
                try:
                    answer = urllib.request.urlopen(request)
                except urllib.error.HTTPError as error:
                    answer = error
                data = answer.read()
                if answer.headers.get("Content-Type", "").startswith("application/"):
                    data = re.sub(rb'"link":"[^"]*"', lambda _: b'"link":' + json.dumps(link).encode(), data)
                self.send_response(answer.status)
                for key in ("Content-Type", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                    if answer.headers.get(key):
                        self.send_header(key, answer.headers[key])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = forward

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Rewriter)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def test_an_escape_sequence_or_another_host_is_no_page(self):
        for i, link in enumerate(("https://vimeo.com/1\u001b[2J\u001b]0;owned\u0007", "https://evil.example/?vimeo.com/1")):
            path = make_file(self.tmp, f"page{i}.mp4", 1000 + i)
            plain = self.vimeo_up("--no-tui", path, api=self.proxy(link))
            self.assertEqual(plain.returncode, 0, plain.stderr)
            done = [line for line in plain.stdout.splitlines() if line.startswith("done")]
            self.assertEqual(len(done), 1, plain.stdout)
            self.assertNotIn("\u001b", plain.stdout)
            self.assertNotIn("evil", plain.stdout)
            self.assertRegex(done[0], r"^done +page\d\.mp4 +/videos/\d+$")
            listed = json.loads(self.vimeo_up("list", "--json").stdout)
            self.assertFalse(listed[-1].get("link"), listed[-1])
