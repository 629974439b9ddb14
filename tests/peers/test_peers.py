"""Real clients upload into the sandbox and the sandbox stores exactly their bytes."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import DEBIAN_PYTHON, PEERS, TOKEN, Sandbox, make_file, sha256_file

BIG = 200 * 1024 * 1024 + 12345
NON_ASCII = "Fête à Zürich — 東京 ☃.mp4"


class Peers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vimeo-up-peers.")
        cls.big = make_file(cls.tmp, "big.bin", BIG, seed=1)
        cls.big_sha = sha256_file(cls.big)
        cls.small = make_file(cls.tmp, "small.bin", 3 * 1024 * 1024 + 7, seed=2)
        cls.small_sha = sha256_file(cls.small)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.sandbox = Sandbox("--sink")

    def tearDown(self):
        self.sandbox.stop()

    def run_peer(self, argv, timeout=300):
        env = dict(os.environ, VIMEO_TOKEN=TOKEN)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
        self.assertEqual(proc.returncode, 0, f"{argv[:2]}: {proc.stderr[-2000:]}")
        return proc.stdout.strip()

    def tus_js(self, *args):
        return self.run_peer(["node", os.path.join(PEERS, "tus_js_upload.js"), *args])

    def tuspy(self, *args):
        return self.run_peer([DEBIAN_PYTHON, os.path.join(PEERS, "tuspy_upload.py"), *args])

    def vimeo_link(self, path, name):
        status, _, data = self.sandbox.api("POST", "/me/videos", {
            "upload": {"approach": "tus", "size": os.path.getsize(path)}, "name": name})
        self.assertEqual(status, 200)
        return json.loads(data)["upload"]["upload_link"]

    def assert_stored(self, name, sha):
        upload = self.sandbox.upload_named(name)
        self.assertTrue(upload["complete"], upload)
        self.assertEqual(upload["sha256"], sha)
        return upload

    def test_tus_js_client_by_creation(self):
        self.tus_js("--endpoint", self.sandbox.url + "/files", "--file", self.small, "--name", NON_ASCII)
        self.assert_stored(NON_ASCII, self.small_sha)
        self.tus_js("--endpoint", self.sandbox.url + "/files", "--file", self.big, "--name", "big")
        self.assert_stored("big", self.big_sha)

    def test_tus_js_client_on_a_vimeo_upload_link(self):
        link = self.vimeo_link(self.big, "big via link")
        self.tus_js("--upload-url", link, "--file", self.big, "--chunk-size", str(64 << 20))
        self.assert_stored("big via link", self.big_sha)

    def test_tuspy_by_creation_and_on_a_link(self):
        self.tuspy("--endpoint", self.sandbox.url + "/files", "--file", self.small, "--name", NON_ASCII)
        self.assert_stored(NON_ASCII, self.small_sha)
        link = self.vimeo_link(self.big, "big via tuspy")
        self.tuspy("--upload-url", link, "--file", self.big)
        self.assert_stored("big via tuspy", self.big_sha)

    def test_tuspy_empty_metadata_header_is_accepted(self):
        url = self.tuspy("--endpoint", self.sandbox.url + "/files", "--file", self.small, "--no-metadata")
        uploads = [u for u in self.sandbox.uploads() if url.endswith(u["id"])]
        self.assertEqual(uploads[0]["sha256"], self.small_sha)

    def test_vimeo_node_sdk(self):
        uri = self.run_peer(["node", os.path.join(PEERS, "vimeo_sdk_upload.js"), self.sandbox.url, self.big, NON_ASCII])
        self.assertRegex(uri, r"^/videos/\d+$")
        upload = self.assert_stored(NON_ASCII, self.big_sha)
        self.assertEqual(upload["video"], uri)
        self.assertEqual(upload["authorization_seen"], 0)
        status, _, data = self.sandbox.api("GET", uri)
        self.assertEqual(json.loads(data)["upload"]["status"], "complete")
