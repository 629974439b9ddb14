"""The sandbox speaks tus 1.0.0 and the Vimeo API as the shared notes describe."""
import ctypes
import hashlib
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.parse

from harness import SANDBOX, TOKEN, Sandbox, SandboxTest, TlsSandbox, http_request, https_request, tus_headers

PATCH_TYPE = "application/offset+octet-stream"


class TusProtocol(SandboxTest):
    def patch(self, url, offset, data, **extra):
        h = tus_headers(Upload_Offset=offset, Content_Type=PATCH_TYPE)
        h.update(extra)
        return http_request("PATCH", url, h, data)

    def head(self, url, headers=None):
        return http_request("HEAD", url, headers if headers is not None else tus_headers())

    def test_options_lists_version_and_extensions(self):
        status, h, _ = self.sandbox.request("OPTIONS", "/files")
        self.assertIn(status, (200, 204))
        self.assertEqual(h["tus-version"], "1.0.0")
        self.assertIn("creation", h["tus-extension"].split(","))
        self.assertIn("termination", h["tus-extension"].split(","))
        self.assertTrue(int(h["tus-max-size"]) > 0)

    def test_create_patch_head_roundtrip(self):
        url = self.create_tus_upload(11)
        status, h, _ = self.head(url)
        self.assertEqual((status, h["upload-offset"], h["upload-length"]), (200, "0", "11"))
        self.assertEqual(h["cache-control"], "no-store")
        self.assertEqual(h["tus-resumable"], "1.0.0")
        status, h, _ = self.patch(url, 0, b"hello")
        self.assertEqual((status, h["upload-offset"]), (204, "5"))
        self.assertIn("GMT", h["upload-expires"])
        status, h, _ = self.patch(url, 5, b" world")
        self.assertEqual((status, h["upload-offset"]), (204, "11"))
        up = self.sandbox.uploads()[0]
        self.assertEqual(up["sha256"], hashlib.sha256(b"hello world").hexdigest())
        self.assertTrue(up["complete"])
        self.assertEqual(up["requests"]["PATCH"], 2)

    def test_next_patch_right_after_an_answer_is_not_locked(self):
        # A client may send its next PATCH on a new connection the moment it
        # has read the answer; the upload must already be free by then. Many
        # back-to-back rounds make the old window (release after the answer)
        # show up as a 423.
        rounds = 200
        url = self.create_tus_upload(rounds)
        for offset in range(rounds):
            status, h, body = self.patch(url, offset, b"x")
            self.assertEqual((status, h.get("upload-offset")), (204, str(offset + 1)), body)

    def test_connections_stay_open_across_requests(self):
        # Clients reuse one connection for HEAD, PATCH and API calls; a server
        # that closed after answering from the headers alone would cost every
        # one of them a reconnect.
        url = urllib.parse.urlsplit(self.create_tus_upload(3))
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            for method, path, headers, body in [
                    ("HEAD", url.path, tus_headers(), None), ("OPTIONS", "/files", {}, None),
                    ("PATCH", url.path, tus_headers(Upload_Offset=0, Content_Type=PATCH_TYPE), b"abc"),
                    ("POST", "/files", tus_headers(Upload_Length=1), None),
                    ("GET", "/me", {"Authorization": "bearer " + TOKEN}, None)]:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                self.assertLess(resp.status, 300, method)
                self.assertNotEqual((resp.getheader("Connection") or "").lower(), "close", method)
                if method == "HEAD":
                    sock = conn.sock
                self.assertIs(conn.sock, sock, f"{method} came on a new connection")
        finally:
            conn.close()

    def test_relative_or_absolute_location_resolves(self):
        url = self.create_tus_upload(3)
        self.assertTrue(url.startswith(self.sandbox.url + "/files/"), url)

    def test_wrong_version_is_412_and_changes_nothing(self):
        url = self.create_tus_upload(4)
        status, h, _ = http_request("PATCH", url, {"Tus-Resumable": "0.2.2", "Upload-Offset": "0",
                                                   "Content-Type": PATCH_TYPE}, b"abcd")
        self.assertEqual(status, 412)
        self.assertEqual(h["tus-version"], "1.0.0")
        status, _, _ = self.head(url, {})
        self.assertEqual(status, 412)
        self.assertEqual(self.head(url)[1]["upload-offset"], "0")

    def test_offset_mismatch_is_409(self):
        url = self.create_tus_upload(10)
        self.assertEqual(self.patch(url, 0, b"abc")[0], 204)
        status, _, body = self.patch(url, 0, b"abc")
        self.assertEqual(status, 409)
        self.assertEqual(self.head(url)[1]["upload-offset"], "3")

    def test_wrong_content_type_is_415(self):
        url = self.create_tus_upload(10)
        status, _, _ = http_request("PATCH", url, tus_headers(Upload_Offset=0, Content_Type="text/plain"), b"abc")
        self.assertEqual(status, 415)

    def test_body_past_length_is_refused(self):
        url = self.create_tus_upload(2)
        self.assertEqual(self.patch(url, 0, b"abc")[0], 413)
        self.assertEqual(self.head(url)[1]["upload-offset"], "0")

    def test_bytes_before_a_broken_connection_are_kept(self):
        url = urllib.parse.urlsplit(self.create_tus_upload(1000))
        sock = socket.create_connection((url.hostname, url.port))
        head = (f"PATCH {url.path} HTTP/1.1\r\nHost: {url.hostname}\r\nTus-Resumable: 1.0.0\r\n"
                f"Upload-Offset: 0\r\nContent-Type: {PATCH_TYPE}\r\nContent-Length: 1000\r\n\r\n")
        sock.sendall(head.encode() + b"x" * 600)
        self.wait_for(lambda: self.sandbox.uploads()[0]["offset"] == 600, what="600 bytes to arrive")
        sock.close()
        status, h, _ = self.head(url.geturl())
        self.assertEqual(h["upload-offset"], "600")
        self.assertEqual(self.sandbox.uploads()[0]["sha256"], hashlib.sha256(b"x" * 600).hexdigest())
        self.assertEqual(self.patch(url.geturl(), 600, b"y" * 400)[0], 204)

    def test_zero_length_upload_is_complete_at_once(self):
        url = self.create_tus_upload(0)
        status, h, _ = self.head(url)
        self.assertEqual((h["upload-offset"], h["upload-length"]), ("0", "0"))
        self.assertTrue(self.sandbox.uploads()[0]["complete"])

    def test_metadata_is_echoed_and_names_the_upload(self):
        name = "Été ☃.mp4"
        import base64
        meta = f"filename {base64.b64encode(name.encode()).decode()},empty"
        url = self.create_tus_upload(1, {"Upload-Metadata": meta})
        self.assertEqual(self.head(url)[1]["upload-metadata"], meta)
        self.assertEqual(self.sandbox.uploads()[0]["name"], name)

    def test_empty_metadata_header_is_accepted(self):
        self.create_tus_upload(1, {"Upload-Metadata": ""})

    def test_malformed_metadata_is_400(self):
        status, _, _ = self.sandbox.request("POST", "/files", tus_headers(Upload_Length=1, Upload_Metadata="k !!!"))
        self.assertEqual(status, 400)

    def test_over_max_size_is_413(self):
        status, _, _ = self.sandbox.request("POST", "/files", tus_headers(Upload_Length=1 << 50))
        self.assertEqual(status, 413)

    def test_delete_terminates(self):
        url = self.create_tus_upload(5)
        self.assertEqual(http_request("DELETE", url, tus_headers())[0], 204)
        self.assertEqual(self.head(url)[0], 404)
        self.assertEqual(self.patch(url, 0, b"abc")[0], 404)

    def test_unknown_upload_is_404_without_offset(self):
        status, h, _ = self.head(self.sandbox.url + "/files/00000000deadbeefdeadbeef")
        self.assertEqual(status, 404)
        self.assertNotIn("upload-offset", h)

    def test_get_on_upload_link_is_405(self):
        url = self.create_tus_upload(5)
        self.assertEqual(http_request("GET", url, tus_headers())[0], 405)

    def test_concurrent_patch_is_423(self):
        url = urllib.parse.urlsplit(self.create_tus_upload(1000))
        sock = socket.create_connection((url.hostname, url.port))
        sock.sendall((f"PATCH {url.path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                      f"Content-Type: {PATCH_TYPE}\r\nContent-Length: 1000\r\n\r\n").encode() + b"a" * 10)
        self.wait_for(lambda: self.sandbox.uploads()[0]["offset"] == 10, what="first PATCH to hold the upload")
        self.assertEqual(self.patch(url.geturl(), 10, b"b")[0], 423)
        sock.close()


class VimeoApi(SandboxTest):
    def create(self, body, token=None):
        status, h, data = self.sandbox.api("POST", "/me/videos?fields=uri,name,link,upload", body, token)
        return status, h, json.loads(data) if data else None

    def test_create_answers_like_vimeo(self):
        status, h, video = self.create({"upload": {"approach": "tus", "size": "1234"}, "name": "Holiday.mp4",
                                        "description": "d", "privacy": {"view": "unlisted"}})
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "application/vnd.vimeo.video+json")
        self.assertRegex(video["uri"], r"^/videos/\d+$")
        self.assertEqual(video["name"], "Holiday.mp4")
        self.assertEqual(video["upload"]["approach"], "tus")
        self.assertEqual(video["upload"]["size"], 1234)
        self.assertTrue(video["upload"]["upload_link"].startswith(self.sandbox.url + "/files/"))
        for name in ("x-ratelimit-limit", "x-ratelimit-remaining"):
            self.assertTrue(h[name].isdigit())
        self.assertRegex(h["x-ratelimit-reset"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")

    def test_size_as_integer_is_accepted(self):
        status, _, video = self.create({"upload": {"approach": "tus", "size": 7}})
        self.assertEqual((status, video["upload"]["size"]), (200, 7))

    def test_missing_or_wrong_token_is_401_with_error_json(self):
        for token in ("wrong", ""):
            status, h, err = self.create({"upload": {"approach": "tus", "size": 1}}, token=token or " ")
            self.assertEqual(status, 401)
            self.assertEqual(h["content-type"], "application/vnd.vimeo.error+json")
            self.assertEqual(err["error_code"], 8003)
            self.assertIn("error", err)
        status, _, _ = self.sandbox.request("GET", "/me")
        self.assertEqual(status, 401)

    def test_bearer_scheme_is_case_insensitive(self):
        status, _, _ = self.sandbox.request("GET", "/me", {"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200)

    def test_invalid_requests_name_the_field(self):
        # Vimeo answers 2204 at the top and the field's own code in
        # invalid_parameters (captured answers: vimeo-dot-net issue 194).
        cases = [({"upload": {"approach": "post", "size": 1}}, 2230, "upload.approach"),
                 ({"upload": {"approach": "tus"}}, 2204, "upload.size"),
                 ({"upload": {"approach": "tus", "size": 1}, "privacy": {"view": "everyone"}}, 2204, "privacy.view")]
        for body, code, field in cases:
            status, _, err = self.create(body)
            self.assertEqual((status, err["error_code"]), (400, 2204), body)
            self.assertEqual((err["invalid_parameters"][0]["field"], err["invalid_parameters"][0]["error_code"]),
                             (field, code))
        status, _, data = self.sandbox.request("POST", "/me/videos", {"Authorization": f"bearer {TOKEN}"}, b"{nope")
        self.assertEqual((status, json.loads(data)["error_code"]), (400, 2205))

    def test_zero_size_gets_an_empty_upload_block(self):
        status, _, video = self.create({"upload": {"approach": "tus", "size": 0}})
        self.assertEqual((status, video["upload"]), (200, {}))

    def test_status_turns_complete_when_all_bytes_arrive(self):
        _, _, video = self.create({"upload": {"approach": "tus", "size": 3}, "name": "a"})
        link = video["upload"]["upload_link"]
        status, _, data = self.sandbox.api("GET", video["uri"] + "?fields=uri,upload.status,transcode.status")
        self.assertEqual(json.loads(data)["upload"]["status"], "in_progress")
        self.assertEqual(http_request("PATCH", link, tus_headers(Upload_Offset=0, Content_Type=PATCH_TYPE),
                                      b"abc")[0], 204)
        status, _, data = self.sandbox.api("GET", video["uri"])
        got = json.loads(data)
        self.assertEqual((got["upload"]["status"], got["transcode"]["status"]), ("complete", "complete"))
        self.assertIsNone(got["upload"]["upload_link"])
        self.assertEqual(self.sandbox.upload_named("a")["video"], video["uri"])

    def test_delete_video_removes_its_upload(self):
        _, _, video = self.create({"upload": {"approach": "tus", "size": 3}})
        status, _, _ = self.sandbox.api("DELETE", video["uri"])
        self.assertEqual(status, 204)
        self.assertEqual(self.sandbox.api("GET", video["uri"])[0], 404)
        self.assertEqual(http_request("HEAD", video["upload"]["upload_link"], tus_headers())[0], 404)

    def test_versions_give_a_new_upload_link(self):
        _, _, video = self.create({"upload": {"approach": "tus", "size": 3}})
        status, _, data = self.sandbox.api("POST", video["uri"] + "/versions?fields=upload",
                                           {"file_name": "new.mp4", "upload": {"approach": "tus", "size": 5}})
        version = json.loads(data)
        self.assertEqual(status, 201)
        self.assertTrue(version["uri"].startswith(video["uri"] + "/versions/"))
        self.assertNotEqual(version["upload"]["upload_link"], video["upload"]["upload_link"])
        self.assertEqual(http_request("HEAD", version["upload"]["upload_link"], tus_headers())[1]["upload-length"], "5")

    def test_upload_links_take_no_token(self):
        _, _, video = self.create({"upload": {"approach": "tus", "size": 1}, "name": "n"})
        self.assertEqual(http_request("HEAD", video["upload"]["upload_link"], tus_headers())[0], 200)
        self.assertEqual(self.sandbox.upload_named("n")["authorization_seen"], 0)
        http_request("HEAD", video["upload"]["upload_link"], tus_headers(Authorization="bearer x"))
        self.assertEqual(self.sandbox.upload_named("n")["authorization_seen"], 1)


class Quota(SandboxTest):
    sandbox_args = ("--quota", "1000")

    def test_quota_is_shown_and_enforced(self):
        status, _, data = self.sandbox.api("GET", "/me?fields=upload_quota")
        self.assertEqual(json.loads(data)["upload_quota"]["space"]["free"], 1000)
        self.assertEqual(self.sandbox.api("POST", "/me/videos", {"upload": {"approach": "tus", "size": 600}})[0], 200)
        status, _, data = self.sandbox.api("POST", "/me/videos", {"upload": {"approach": "tus", "size": 600}})
        self.assertEqual((status, json.loads(data)["error_code"]), (403, 4101))
        self.assertEqual(json.loads(self.sandbox.api("GET", "/me")[2])["upload_quota"]["space"]["free"], 400)


class NoQuota(SandboxTest):
    def test_unknown_quota_is_null(self):
        space = json.loads(self.sandbox.api("GET", "/me")[2])["upload_quota"]["space"]
        self.assertIsNone(space["free"])


class Process(SandboxTest):
    def test_dir_mode_stores_the_bytes(self):
        store = os.path.join(self.tmp, "store")
        os.mkdir(store)
        sb = Sandbox("--dir", store)
        try:
            url = http_request("POST", sb.url + "/files", tus_headers(Upload_Length=3))[1]["location"]
            http_request("PATCH", url, tus_headers(Upload_Offset=0, Content_Type=PATCH_TYPE), b"xyz")
            with open(os.path.join(store, url.rsplit("/", 1)[1]), "rb") as f:
                self.assertEqual(f.read(), b"xyz")
        finally:
            sb.stop()

    def test_sink_mode_keeps_digest_not_bytes(self):
        sb = Sandbox("--sink")
        try:
            url = http_request("POST", sb.url + "/files", tus_headers(Upload_Length=3))[1]["location"]
            http_request("PATCH", url, tus_headers(Upload_Offset=0, Content_Type=PATCH_TYPE), b"xyz")
            self.assertEqual(sb.uploads()[0]["sha256"], hashlib.sha256(b"xyz").hexdigest())
        finally:
            sb.stop()

    def test_sink_mode_can_keep_xxh3_instead(self):
        # The bench's check (bench/compare.py), from the same library, over
        # two PATCHes: the digest runs on across requests.
        lib = ctypes.CDLL("libxxhash.so.0")
        lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        lib.XXH3_64bits.restype = ctypes.c_uint64
        data = os.urandom(300000)
        sb = Sandbox("--sink", "--check", "xxh3")
        try:
            url = http_request("POST", sb.url + "/files", tus_headers(Upload_Length=len(data)))[1]["location"]
            for start, end in ((0, 100000), (100000, len(data))):
                status = http_request("PATCH", url, tus_headers(Upload_Offset=start, Content_Type=PATCH_TYPE),
                                      data[start:end])[0]
                self.assertEqual(status, 204)
            upload = sb.uploads()[0]
            self.assertEqual(upload["xxh3"], f"{lib.XXH3_64bits(data, len(data)):016x}")
            self.assertNotIn("sha256", upload)
        finally:
            sb.stop()

    def test_sigint_stops_cleanly(self):
        sb = Sandbox()
        sb.proc.send_signal(2)
        self.assertEqual(sb.proc.wait(timeout=5), 0)
        sb.stop()

    def test_verbose_logs_a_line_per_request(self):
        sb = Sandbox("--verbose")
        try:
            sb.request("OPTIONS", "/files")
            sb.request("GET", "/me")
        finally:
            sb.stop()
        lines = sb.log().splitlines()
        self.assertTrue(any(line.startswith("OPTIONS /files 204") for line in lines), lines)
        self.assertTrue(any(line.startswith("GET /me 401") for line in lines), lines)

    def test_bad_options_exit_2_with_one_line(self):
        for args in (["--port", "x"], ["--fault", "explode=1"], ["--nope"], ["--fault", "error=404"],
                     ["--check", "md5"]):
            proc = subprocess.run([SANDBOX, *args], capture_output=True, text=True)
            self.assertEqual(proc.returncode, 2, args)
            self.assertIn("vimeo-sandbox", proc.stderr)


class RateLimit(SandboxTest):
    sandbox_args = ("--rate-limit", "2", "--rate-window", "60")

    def test_over_the_limit_is_429_without_retry_after_and_changes_nothing(self):
        body = {"upload": {"approach": "tus", "size": 5}}
        first = self.sandbox.api("POST", "/me/videos", body)
        self.assertEqual((first[0], first[1]["x-ratelimit-remaining"]), (200, "1"))
        second = self.sandbox.api("POST", "/me/videos", body)
        self.assertEqual((second[0], second[1]["x-ratelimit-remaining"]), (200, "0"))
        status, headers, _ = self.sandbox.api("POST", "/me/videos", body)
        self.assertEqual(status, 429)
        self.assertNotIn("retry-after", headers)
        self.assertIn("x-ratelimit-reset", headers)
        self.assertEqual(len(self.sandbox.uploads()), 2, "a refused call creates nothing")


class BulkUploads(SandboxTest):
    """Uploads over 1 MiB get links on a second port, served with a big
    memory pool per connection; the API and smaller uploads keep the first,
    with a small one (issue 16, item 1: bench/sandbox-speed)."""

    BULK = (1 << 20) + 1

    def port(self, url):
        return urllib.parse.urlsplit(url).port

    def test_links_by_size_from_tus_creation_videos_and_versions(self):
        api_port = self.port(self.sandbox.url)
        small, big = self.create_tus_upload(self.BULK - 1), self.create_tus_upload(self.BULK)
        self.assertEqual(self.port(small), api_port)
        self.assertNotEqual(self.port(big), api_port)
        status, _, data = self.sandbox.api("POST", "/me/videos", {"upload": {"approach": "tus", "size": self.BULK}})
        self.assertEqual(status, 200, data)
        video = json.loads(data)
        self.assertEqual(video["upload"]["upload_link"].rsplit("/files/", 1)[0], big.rsplit("/files/", 1)[0])
        status, _, data = self.sandbox.api("POST", video["uri"] + "/versions",
                                           {"file_name": "small.mp4", "upload": {"approach": "tus", "size": 10}})
        self.assertEqual(status, 201, data)
        self.assertEqual(self.port(json.loads(data)["upload"]["upload_link"]), api_port)

    def test_the_second_port_takes_the_bytes_and_answers_head(self):
        big = self.create_tus_upload(self.BULK)
        status, _, _ = http_request("PATCH", big, tus_headers(Upload_Offset=0,
                                                              Content_Type="application/offset+octet-stream"),
                                    b"x" * 100000)
        self.assertEqual(status, 204)
        status, h, _ = http_request("HEAD", big, tus_headers())
        self.assertEqual((status, h["upload-offset"], h["upload-length"]), (200, "100000", str(self.BULK)))
        self.assertEqual(self.sandbox.uploads()[0]["received"], 100000)


class BulkUploadsTls(SandboxTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vimeo-up-test.")
        self.sandbox = TlsSandbox()

    def test_the_second_port_serves_https_with_the_same_ca(self):
        big = self.create_tus_upload(2 << 20)
        self.assertTrue(big.startswith("https://127.0.0.1:"), big)
        self.assertNotEqual(urllib.parse.urlsplit(big).port, urllib.parse.urlsplit(self.sandbox.url).port)
        status, h, _ = https_request("HEAD", big, self.sandbox.ca_file, tus_headers())
        self.assertEqual((status, h["upload-offset"]), (200, "0"))
