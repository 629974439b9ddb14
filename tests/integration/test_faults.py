"""Every fault the sandbox injects, met by curl or a real tus client."""
import hashlib
import os
import subprocess
import time

from harness import PEERS, Sandbox, SandboxTest, http_request, make_file, sha256_file, tus_headers

PATCH_TYPE = "application/offset+octet-stream"


def curl_patch(url, path, offset=0, *extra):
    """PATCH a whole file with the curl tool; returns (exit code, HTTP status, headers text)."""
    proc = subprocess.run(["curl", "-s", "-S", "-D", "-", "-o", "/dev/null", "-X", "PATCH", "-T", path,
                           "-H", "Tus-Resumable: 1.0.0", "-H", f"Upload-Offset: {offset}", "-H", "Expect:",
                           "-H", f"Content-Type: {PATCH_TYPE}", *extra, url],
                          capture_output=True, text=True, timeout=60)
    status = 0
    for line in proc.stdout.splitlines():
        if line.startswith("HTTP/"):
            status = int(line.split()[1])
    return proc.returncode, status, proc.stdout


class FaultsFromFlags(SandboxTest):
    sandbox_args = ("--fault", "cut=300000,times=1", "--fault", "locked,times=1,on=upload")

    def test_locked_then_cut_keeps_bytes_then_resume(self):
        path = make_file(self.tmp, "f", 1 << 20)
        url = self.create_tus_upload(1 << 20)
        # Both faults are drawn for the first PATCH; 423 is answered before any byte is read.
        code, status, _ = curl_patch(url, path)
        self.assertEqual((code, status), (0, 423))
        code, status, _ = curl_patch(url, path)
        self.assertNotEqual(code, 0, "curl should see the connection cut")
        head = http_request("HEAD", url, tus_headers())[1]
        self.assertEqual(head["upload-offset"], "300000")
        self.assertEqual(self.sandbox.uploads()[0]["sha256"], sha256_file(path, 300000))
        with open(path, "rb") as f:
            f.seek(300000)
            rest = f.read()
        hdr = tus_headers(Upload_Offset=300000, Content_Type=PATCH_TYPE)
        self.assertEqual(http_request("PATCH", url, hdr, rest)[0], 204)
        self.assertEqual(self.sandbox.uploads()[0]["sha256"], sha256_file(path))


class FaultsAtRunTime(SandboxTest):
    def tus_js(self, path, *extra):
        return subprocess.run(["node", os.path.join(PEERS, "tus_js_upload.js"), "--endpoint",
                               self.sandbox.url + "/files", "--file", path, "--name", os.path.basename(path),
                               *extra], capture_output=True, text=True, timeout=120)

    def test_tus_js_client_rides_through_cuts(self):
        path = make_file(self.tmp, "cuts", 3 << 20)
        self.sandbox.fault("cut=700000,times=2,on=upload")
        proc = self.tus_js(path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        up = self.sandbox.upload_named("cuts")
        self.assertEqual(up["sha256"], sha256_file(path))
        self.assertGreaterEqual(up["requests"]["PATCH"], 3)
        self.assertEqual(up["received"], 3 << 20, "kept bytes are not sent again")

    def test_tus_js_client_retries_server_errors(self):
        path = make_file(self.tmp, "errors", 100000)
        faults = self.sandbox.fault("error=503,times=2,on=upload")
        self.assertEqual(faults["faults"][0]["times_left"], 2)
        proc = self.tus_js(path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.sandbox.upload_named("errors")["sha256"], sha256_file(path))
        listed = self.sandbox.request("GET", "/_sandbox/faults")[2].decode()
        self.assertIn('"hits":2', listed)

    def test_curl_meets_each_error_code(self):
        for code in (500, 502, 503):
            self.sandbox.fault(f"error={code},times=1")
            self.assertEqual(self.sandbox.request("OPTIONS", "/files")[0], code)
        self.assertEqual(self.sandbox.request("OPTIONS", "/files")[0], 204)

    def test_seeded_fraction_is_reproducible(self):
        def pattern(seed):
            sb = Sandbox("--seed", str(seed), "--fault", "error=500,rate=0.5")
            try:
                return [sb.request("OPTIONS", "/files")[0] for _ in range(120)]
            finally:
                sb.stop()
        first, again = pattern(7), pattern(7)
        self.assertEqual(first, again)
        self.assertTrue(30 < first.count(500) < 90, first.count(500))
        self.assertNotEqual(first, pattern(8))

    def test_throttle_gives_429_with_retry_after(self):
        self.sandbox.fault("throttle=2,times=1,on=api")
        status, headers, _ = self.sandbox.api("GET", "/me")
        self.assertEqual((status, headers["retry-after"]), (429, "2"))
        self.assertEqual(self.sandbox.api("GET", "/me")[0], 200)

    def test_stall_trips_curls_low_speed_limit(self):
        path = os.path.join(self.tmp, "zeros")
        with open(path, "wb") as f:
            f.truncate(64 << 20)
        url = self.create_tus_upload(64 << 20)
        self.sandbox.fault("stall=30,times=1")
        started = time.monotonic()
        code, _, _ = curl_patch(url, path, 0, "--speed-limit", "1024", "--speed-time", "2")
        self.assertEqual(code, 28, "curl's low-speed limit gives up on a stalled server")
        self.assertLess(time.monotonic() - started, 25)

    def test_expire_named_upload(self):
        url = self.create_tus_upload(10)
        upload_id = url.rsplit("/", 1)[1]
        self.sandbox.fault(f"expire={upload_id},code=410")
        self.assertEqual(http_request("HEAD", url, tus_headers())[0], 410)
        self.assertEqual(http_request("PATCH", url, tus_headers(Upload_Offset=0, Content_Type=PATCH_TYPE),
                                      b"x")[0], 410)
        other = self.create_tus_upload(10)
        self.assertEqual(http_request("HEAD", other, tus_headers())[0], 200)

    def test_expire_any_upload_after_an_offset(self):
        url = self.create_tus_upload(10)
        self.sandbox.fault("expire=*,after=4,times=1")
        self.assertEqual(http_request("HEAD", url, tus_headers())[0], 200)
        http_request("PATCH", url, tus_headers(Upload_Offset=0, Content_Type=PATCH_TYPE), b"abcd")
        self.assertEqual(http_request("HEAD", url, tus_headers())[0], 404)
        self.assertTrue(self.sandbox.uploads()[0]["expired"])

    def test_bandwidth_caps_a_connection(self):
        path = make_file(self.tmp, "slow", 3 << 20)
        url = self.create_tus_upload(3 << 20)
        self.sandbox.fault("bandwidth=1M")
        started = time.monotonic()
        code, status, _ = curl_patch(url, path)
        self.assertEqual((code, status), (0, 204))
        self.assertGreater(time.monotonic() - started, 1.8, "3 MiB at 1 MiB/s takes about 3 s")

    def test_latency_delays_requests(self):
        self.sandbox.fault("latency=400")
        started = time.monotonic()
        self.assertEqual(self.sandbox.request("OPTIONS", "/files")[0], 204)
        self.assertGreaterEqual(time.monotonic() - started, 0.4)

    def test_faults_can_be_listed_and_cleared(self):
        self.sandbox.fault("locked")
        self.assertEqual(self.sandbox.request("GET", "/_sandbox/faults")[2].count(b"spec"), 1)
        self.sandbox.clear_faults()
        self.assertEqual(self.sandbox.request("GET", "/_sandbox/faults")[2].count(b"spec"), 0)
        status, _, body = self.sandbox.request("POST", "/_sandbox/faults", body=b"explode=1")
        self.assertEqual(status, 400)
        self.assertIn(b"unknown fault", body)

    def test_conflict_and_method_filter(self):
        path = make_file(self.tmp, "c", 1000)
        url = self.create_tus_upload(1000)
        self.sandbox.fault("conflict,times=1")
        self.sandbox.fault("error=502,method=HEAD,times=1")
        code, status, _ = curl_patch(url, path)
        self.assertEqual((code, status), (0, 409))
        self.assertEqual(http_request("HEAD", url, tus_headers())[0], 502)
        self.assertEqual(http_request("HEAD", url, tus_headers())[1]["upload-offset"], "0")
        self.assertEqual(curl_patch(url, path)[1], 204)
