"""Shared pieces of the Python tests: start and steer the sandbox, make files,
send raw HTTP. Standard library only."""
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("VIMEO_UP_BUILD", os.path.join(ROOT, "build"))
SANDBOX = os.path.join(BUILD, "vimeo-sandbox")
VIMEO_UP = os.path.join(BUILD, "vimeo-up")
NODE_MODULES = os.path.join(ROOT, "tests", "node_modules")
PEERS = os.path.join(ROOT, "tests", "peers")
TOKEN = "sandbox-token-7f3a"
# tuspy comes from Debian, so it is Debian's Python that runs it.
DEBIAN_PYTHON = "/usr/bin/python3"


class Sandbox:
    """A vimeo-sandbox process on a free loopback port."""

    def __init__(self, *args, token=TOKEN):
        self.stderr = tempfile.TemporaryFile()
        env = dict(os.environ, VIMEO_SANDBOX_TOKEN=token)
        self.proc = subprocess.Popen([SANDBOX, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on http://"):
            self.proc.kill()
            raise RuntimeError(f"sandbox did not start: {line!r} {self.log()}")
        self.url = line.split()[2]
        self.host_port = self.url[len("http://"):]
        self.token = token

    def log(self):
        if self.stderr.closed:
            return self.final_log
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def request(self, method, path, headers=None, body=None, timeout=30):
        return http_request(method, self.url + path, headers, body, timeout)

    def api(self, method, path, body=None, token=None):
        headers = {"Authorization": f"bearer {token or self.token}",
                   "Accept": "application/vnd.vimeo.*+json;version=3.4"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body).encode()
        return self.request(method, path, headers, body)

    def uploads(self):
        status, _, body = self.request("GET", "/_sandbox/uploads")
        assert status == 200, status
        return json.loads(body)["uploads"]

    def upload_named(self, name):
        """The one upload of that name still on the account: a video the
        client deleted again (one the journal could not record) is gone."""
        found = [u for u in self.uploads() if u["name"] == name and not u["deleted"]]
        assert len(found) == 1, f"{len(found)} uploads named {name!r}"
        return found[0]

    def fault(self, spec):
        status, _, body = self.request("POST", "/_sandbox/faults", body=spec.encode())
        assert status == 200, (status, body)
        return json.loads(body)

    def fault_hits(self):
        """Requests the faults have met so far, counted as they arrive."""
        status, _, body = self.request("GET", "/_sandbox/faults")
        assert status == 200, status
        return sum(f["hits"] for f in json.loads(body)["faults"])

    def clear_faults(self):
        status, _, _ = self.request("DELETE", "/_sandbox/faults")
        assert status == 200

    def stop(self):
        """SIGTERM, then expect a clean exit: status 0 (sanitizer reports fail it)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sandbox did not stop within 10 s of SIGTERM")
        self.proc.stdout.close()
        # Its stderr is kept as text: the file would otherwise stay open
        # until the garbage collector found it.
        self.final_log = self.log()
        self.stderr.close()
        if code != 0:
            raise AssertionError(f"sandbox exited {code}: {self.final_log[-2000:]}")


def http_request(method, url, headers=None, body=None, timeout=30):
    """One request on a fresh connection: (status, lower-cased headers, body)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def tus_headers(**extra):
    h = {"Tus-Resumable": "1.0.0"}
    h.update({k.replace("_", "-"): str(v) for k, v in extra.items()})
    return h


def make_file(directory, name, size, seed=0):
    """A file of pseudo-random bytes (incompressible, reproducible)."""
    path = os.path.join(directory, name)
    block = hashlib.sha256(f"{seed}:{name}".encode()).digest() * 32768  # 1 MiB
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
            block = hashlib.sha256(block[:64]).digest() * 32768
    return path


def many_tiny_files(test, count, prefix):
    """count files of 16 distinct bytes on tmpfs where there is one (20,000
    take 14 s on this disk), removed after test; returns a --files-from list."""
    folder = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else test.tmp)
    test.addCleanup(shutil.rmtree, folder, True)
    listing = os.path.join(test.tmp, f"{prefix}-list")
    with open(listing, "w") as f:
        for i in range(count):
            path = os.path.join(folder, f"{prefix}{i:05}.mp4")
            with open(path, "wb") as video:
                video.write(i.to_bytes(16, "big"))
            f.write(path + "\n")
    return listing


def sha256_file(path, limit=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        left = limit
        while True:
            chunk = f.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


class SandboxTest(unittest.TestCase):
    """A test case with a fresh sandbox and a scratch directory per test."""

    sandbox_args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vimeo-up-test.")
        self.sandbox = Sandbox(*self.sandbox_args)

    def tearDown(self):
        try:
            self.sandbox.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_for(self, predicate, timeout=10, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        self.fail(f"timed out waiting for {what}")

    def create_tus_upload(self, length, headers=None):
        h = tus_headers(Upload_Length=length)
        h.update(headers or {})
        status, hdrs, _ = self.sandbox.request("POST", "/files", h)
        self.assertEqual(status, 201)
        return hdrs["location"]


class TlsSandbox(Sandbox):
    """A vimeo-sandbox serving HTTPS (--tls); ca_file is the CA it made."""

    def __init__(self, *args, token=TOKEN):
        self.stderr = tempfile.TemporaryFile()
        env = dict(os.environ, VIMEO_SANDBOX_TOKEN=token)
        self.proc = subprocess.Popen([SANDBOX, "--port", "0", "--tls", *args], stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, text=True)
        line, ca_line = self.proc.stdout.readline(), self.proc.stdout.readline()
        if not line.startswith("listening on https://") or not ca_line.startswith("CA certificate: "):
            self.proc.kill()
            raise RuntimeError(f"sandbox did not start: {line!r} {ca_line!r} {self.log()}")
        self.url = line.split()[2]
        self.host_port = self.url[len("https://"):]
        self.ca_file = ca_line.split(": ", 1)[1].strip()
        self.token = token

    def request(self, method, path, headers=None, body=None, timeout=30):
        return https_request(method, self.url + path, self.ca_file, headers, body, timeout)


def https_request(method, url, ca_file, headers=None, body=None, timeout=30):
    """http_request over TLS, trusting only ca_file (None: the system's CAs).
    A certificate refused raises urllib.error.URLError whose reason is the
    ssl error."""
    import ssl
    import urllib.error
    import urllib.request
    context = ssl.create_default_context(cafile=ca_file)
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()
