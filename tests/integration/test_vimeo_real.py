"""Vimeo as it is, not as we first thought (issue 11): each test runs
vimeo-up against a sandbox answering the way Vimeo's documents say."""
import http.server
import json
import os
import subprocess
import threading
import time
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, TlsSandbox, make_file, sha256_file


class VimeoCase(SandboxTest):
    def vimeo_up(self, *args, command=()):
        return subprocess.run([VIMEO_UP, *command, "--json", "--api", self.sandbox.url, "--state",
                               os.path.join(self.tmp, "state"), *args], capture_output=True, text=True,
                              env=dict(os.environ, VIMEO_TOKEN=TOKEN), cwd=self.tmp, timeout=120)

    def events(self, proc):
        return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


class HashedUris(VimeoCase):
    # Unlisted videos are /videos/{id}:{hash} (VIMEO-API.md, Corrections).
    sandbox_args = ("--hash-uris",)

    def test_a_video_uri_with_a_hash_uploads_verifies_and_lists(self):
        path = make_file(self.tmp, "unlisted.mp4", 300000)
        proc = self.vimeo_up("--privacy", "unlisted", path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-1000:])
        video = [e for e in self.events(proc) if e["event"] == "done"][0]["video"]
        self.assertRegex(video, r"^/videos/\d+:[0-9a-f]+$")
        self.assertEqual(self.sandbox.upload_named("unlisted.mp4")["sha256"], sha256_file(path))
        verify = self.vimeo_up(video, command=["verify"])
        self.assertEqual(verify.returncode, 0, verify.stderr)
        listing = subprocess.run([VIMEO_UP, "list", "--json", "--state", os.path.join(self.tmp, "state")],
                                 capture_output=True, text=True)
        self.assertEqual(json.loads(listing.stdout)[0]["video"], video)


class PageLink(VimeoCase):
    # Vimeo's "link" is the video's page: https://vimeo.com/{id}, or
    # https://vimeo.com/{id}/{hash} for an unlisted one (VIMEO-API.md, section 1).
    sandbox_args = ("--hash-uris=unlisted",)

    def listing(self, *args):
        return subprocess.run([VIMEO_UP, "list", *args, "--state", os.path.join(self.tmp, "state")],
                              capture_output=True, text=True, timeout=30)

    def test_the_page_shows_in_json_plain_and_list(self):
        unlisted = make_file(self.tmp, "unlisted.mp4", 3000)
        proc = self.vimeo_up("--privacy", "unlisted", unlisted)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-1000:])
        done = [e for e in self.events(proc) if e["event"] == "done"][0]
        number, hash_ = done["video"][len("/videos/"):].split(":")
        self.assertEqual(done["link"], f"https://vimeo.com/{number}/{hash_}")

        public = make_file(self.tmp, "public.mp4", 2000, seed=2)
        plain = subprocess.run([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state",
                                os.path.join(self.tmp, "state"), public], capture_output=True, text=True,
                               env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=60)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        line = [l for l in plain.stdout.splitlines() if l.startswith("done ")][0]
        video = self.sandbox.upload_named("public.mp4")["video"]
        self.assertEqual(line.split(), ["done", "public.mp4", video, f"https://vimeo.com/{video[len('/videos/'):]}"])

        rows = {os.path.basename(r["file"]): r for r in json.loads(self.listing("--json").stdout)}
        self.assertEqual(rows["unlisted.mp4"]["link"], done["link"])
        self.assertEqual(rows["public.mp4"]["link"], line.split()[-1])
        table = self.listing().stdout.splitlines()
        self.assertIn("LINK", table[0].split())
        self.assertIn(done["link"], [l for l in table if "unlisted.mp4" in l][0].split())
        # The hash does not push the file's column out of line.
        self.assertEqual({l.index(self.tmp) for l in table[1:]}, {table[0].index("FILE")})


class ExpiredWith403(VimeoCase):
    def test_a_403_on_the_upload_link_starts_a_new_upload(self):
        # tus lets a server answer 404, 410 or 403 for an unknown or expired upload.
        path = make_file(self.tmp, "forbidden.mp4", 4 << 20)
        self.sandbox.fault("expire=*,after=1000000,times=1,code=403")
        proc = self.vimeo_up("-c", "1M", path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-1000:])
        self.assertTrue(any("expired" in (e.get("error") or "") for e in self.events(proc) if e["event"] == "retry"))
        done = [e for e in self.events(proc) if e["event"] == "done"][0]["video"]
        upload = [u for u in self.sandbox.uploads() if u["video"] == done][0]
        self.assertEqual(upload["sha256"], sha256_file(path))


class UploadStatusDecides(VimeoCase):
    # upload.status is complete | error | in_progress (VIMEO-API.md, Corrections).
    def test_error_after_every_byte_is_a_failure(self):
        path = make_file(self.tmp, "short.mp4", 200000)
        self.sandbox.fault("upload_status=error")
        proc = self.vimeo_up(path)
        self.assertEqual(proc.returncode, 1, proc.stdout[-1000:])
        failed = [e for e in self.events(proc) if e["event"] == "failed"]
        self.assertIn("upload.status is error", failed[0]["error"])

    def test_in_progress_is_asked_again_until_complete(self):
        path = make_file(self.tmp, "slow.mp4", 200000)
        self.sandbox.fault("upload_status=in_progress,for=3")
        proc = self.vimeo_up(path)
        self.assertEqual(proc.returncode, 0, proc.stdout[-1000:])
        verified = [e for e in self.events(proc) if e["event"] == "verified"][0]["message"]
        self.assertIn("Vimeo upload.status complete", verified)


class NoOrphans(VimeoCase):
    # A create whose answer cannot be used leaves no video behind (issue 11, item 7).
    def test_an_unusable_create_answer_deletes_the_video(self):
        for fault, why in (("create=no-link", "no upload.upload_link"), ("create=not-tus", "not tus")):
            self.sandbox.fault(fault + ",times=1")
            path = make_file(self.tmp, f"{fault[7:]}.mp4", 1000)
            proc = self.vimeo_up(path)
            self.assertEqual(proc.returncode, 1, proc.stdout[-1000:])
            error = [e for e in self.events(proc) if e["event"] == "failed"][0]["error"]
            self.assertIn(why, error)
            self.assertRegex(error, r"the video it made, /videos/\d+, was deleted")
            video = error.split("the video it made, ")[1].split(",")[0]
            self.assertEqual(self.sandbox.api("GET", video)[0], 404, fault)


class PasswordPrivacy(VimeoCase):
    # A top-level "password", required with privacy.view password (OpenAPI
    # POST /me/videos bodies); never on the command line.
    def test_password_comes_from_a_private_file(self):
        path = make_file(self.tmp, "secret.mp4", 1000)
        secret = os.path.join(self.tmp, "password")
        with open(secret, "w") as f:
            f.write("hunter2\n")
        os.chmod(secret, 0o644)
        loose = self.vimeo_up("--privacy", "password", "--password-file", secret, path)
        self.assertEqual((loose.returncode, loose.stderr.strip()),
                         (3, f"vimeo-up: --password-file {secret}: readable by others; run chmod 600 {secret}"))
        os.chmod(secret, 0o600)
        proc = self.vimeo_up("--privacy", "password", "--password-file", secret, path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        video = self.sandbox.upload_named("secret.mp4")["video"]
        self.assertEqual(json.loads(self.sandbox.api("GET", video)[2])["privacy"]["view"], "password")
        self.assertNotIn("hunter2", proc.stdout + proc.stderr)
        missing = self.vimeo_up("--privacy", "password", path)
        self.assertEqual(missing.returncode, 2, missing.stderr)
        self.assertIn("--password-file", missing.stderr)


class NameTemplates(VimeoCase):
    def test_several_files_get_names_of_their_own(self):
        paths = [make_file(self.tmp, name, 1000, seed=i) for i, name in enumerate(("intro.mov", "outro.mov"))]
        proc = self.vimeo_up("-j", "1", "--name", "Trip: {stem} ({n})", *paths)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(sorted(u["name"] for u in self.sandbox.uploads()), ["Trip: intro (1)", "Trip: outro (2)"])


class TokenWithoutUploadScope(VimeoCase):
    sandbox_args = ("--scopes", "public private")

    def test_it_stops_before_any_work_and_says_how_to_fix_it(self):
        proc = self.vimeo_up(make_file(self.tmp, "x.mp4", 1000))
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(proc.stderr, "vimeo-up: cannot start: the token lacks the upload scope; make one with "
                                      "upload at developer.vimeo.com/apps\n")


class TokenWithoutDeleteScope(VimeoCase):
    sandbox_args = ("--scopes", "public private upload")

    def test_it_warns_once_and_uploads(self):
        proc = self.vimeo_up(make_file(self.tmp, "x.mp4", 1000))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr.count("warning: the token lacks the delete scope"), 1, proc.stderr)


class Quota(VimeoCase):
    # Vimeo enforces quota at the create (4101, 4102, 3428); space comes back
    # when videos are deleted. Nothing is subtracted on our side.
    sandbox_args = ("--quota", str(3 << 20))

    def test_a_recreate_after_an_expired_link_is_not_counted_twice(self):
        path = make_file(self.tmp, "twice.mp4", 2 << 20)
        self.sandbox.fault("expire=*,after=1000000,times=1")
        proc = self.vimeo_up("-c", "1M", path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])

    def test_a_file_larger_than_the_free_space_is_refused_before_a_create(self):
        path = make_file(self.tmp, "huge.mp4", 4 << 20)
        proc = self.vimeo_up(path)
        self.assertEqual(proc.returncode, 1)
        failed = [e for e in self.events(proc) if e["event"] == "failed"][0]["error"]
        self.assertIn("is larger than the free upload quota (3145728 bytes)", failed)
        self.assertEqual(self.sandbox.uploads(), [])


class CountQuota(VimeoCase):
    # Some accounts count videos: upload_quota.space.unit is video_count and
    # free a number of videos (vimeo-dot-net PR 192), not bytes.
    sandbox_args = ("--quota-videos", "5")

    def test_a_count_is_not_taken_for_bytes(self):
        proc = self.vimeo_up(make_file(self.tmp, "counted.mp4", 1000))
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])


class TagsAndFolders(VimeoCase):
    def test_tags_reach_the_video(self):
        path = make_file(self.tmp, "tagged.mp4", 1000)
        proc = self.vimeo_up("--tag", "holiday", "--tag", "Été ☃", path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        self.assertEqual(self.sandbox.upload_named("tagged.mp4")["tags"], ["holiday", "Été ☃"])

    def test_a_folder_by_uri_id_or_address(self):
        # folder_uri is /users/{uid}/projects/{pid} (vimeo.php issue 289); the user's uri is GET /me's.
        for i, folder in enumerate(("/users/1/projects/7", "7", "https://vimeo.com/manage/folders/7")):
            path = make_file(self.tmp, f"folder{i}.mp4", 1000, seed=i)
            proc = self.vimeo_up("--folder", folder, path)
            self.assertEqual(proc.returncode, 0, (folder, proc.stderr, proc.stdout[-800:]))
            self.assertEqual(self.sandbox.upload_named(f"folder{i}.mp4")["folder"], "/users/1/projects/7", folder)
        bad = self.vimeo_up("--folder", "holidays", make_file(self.tmp, "nofolder.mp4", 10))
        self.assertEqual(bad.returncode, 3)
        self.assertIn("--folder holidays: not a folder URI", bad.stderr)


class SlowAnswer(VimeoCase):
    """A server that takes a while to answer once a chunk's last byte is in
    (as one committing a big chunk does): not a stall."""

    def tus_server(self, delay):
        uploads = {}

        class Tus(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, status, headers=()):
                self.send_response(status)
                for name, value in (("Tus-Resumable", "1.0.0"), ("Content-Length", "0"), *headers):
                    self.send_header(name, value)
                self.end_headers()

            def do_POST(self):
                uploads["u"] = [int(self.headers["Upload-Length"]), 0]
                self.answer(201, (("Location", "/files/u"),))

            def do_HEAD(self):
                length, offset = uploads["u"]
                self.answer(200, (("Upload-Length", str(length)), ("Upload-Offset", str(offset))))

            def do_PATCH(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)  # taking the chunk in
                uploads["u"][1] += len(body)
                self.answer(204, (("Upload-Offset", str(uploads["u"][1])),))

            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tus)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}/files"

    def test_waiting_for_the_answer_after_the_last_byte_is_not_a_stall(self):
        endpoint = self.tus_server(delay=9)
        path = make_file(self.tmp, "commit.mp4", 1 << 20)
        proc = subprocess.run([VIMEO_UP, "--json", "--tus-endpoint", endpoint, "--state", os.path.join(self.tmp, "s"),
                               "--stall-timeout", "2", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        self.assertEqual([e.get("error") for e in self.events(proc) if e["event"] == "retry"], [])


class VerifyVerdicts(VimeoCase):
    def test_one_line_per_entry_and_not_started_is_no_failure(self):
        done = make_file(self.tmp, "done.mp4", 100000)
        self.assertEqual(self.vimeo_up(done).returncode, 0)
        self.sandbox.fault("latency=20000,on=api,method=POST")
        never = make_file(self.tmp, "never.mp4", 1000, seed=3)
        proc = subprocess.Popen([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state",
                                 os.path.join(self.tmp, "state"), never], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        time.sleep(1.5)
        proc.send_signal(__import__("signal").SIGINT)  # stopped before its create: nothing was sent
        proc.wait(timeout=10)
        self.sandbox.clear_faults()
        verify = subprocess.run([VIMEO_UP, "verify", "--api", self.sandbox.url, "--state",
                                 os.path.join(self.tmp, "state")], capture_output=True, text=True,
                                env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=60)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        lines = verify.stdout.splitlines()
        self.assertEqual(sorted(line.split()[1] for line in lines[:-1]), ["done.mp4", "never.mp4"], lines)
        self.assertIn("never.mp4  not started: nothing was sent yet", verify.stdout)
        self.assertRegex(verify.stdout, r"done\.mp4  complete: offset = length = 100000")
        self.assertEqual(lines[-1], "1 verified, 0 failed verification")


class OverHttps(VimeoCase):
    """Production is HTTPS: the sandbox with --tls, its own CA made at start."""

    def setUp(self):
        self.tmp = __import__("tempfile").mkdtemp(prefix="vimeo-up-test.")
        self.sandbox = TlsSandbox()

    def test_uploads_over_https_trusting_the_given_ca(self):
        path = make_file(self.tmp, "tls.mp4", 3 << 20)
        proc = self.vimeo_up("--cacert", self.sandbox.ca_file, "-c", "1M", path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        self.assertEqual(self.sandbox.upload_named("tls.mp4")["sha256"], sha256_file(path))
        env_path = make_file(self.tmp, "env.mp4", 100000, seed=2)
        proc = subprocess.run([VIMEO_UP, "--json", "--api", self.sandbox.url, "--state", os.path.join(self.tmp, "s2"),
                               env_path], capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, VIMEO_TOKEN=TOKEN, SSL_CERT_FILE=self.sandbox.ca_file))
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_a_certificate_from_another_ca_is_refused_in_one_line(self):
        proc = self.vimeo_up(make_file(self.tmp, "x.mp4", 1000))  # the system's CAs know not this one
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
        self.assertIn("certificate", proc.stderr)
        missing = self.vimeo_up("--cacert", os.path.join(self.tmp, "nope.pem"), make_file(self.tmp, "y.mp4", 10))
        self.assertEqual((missing.returncode, len(missing.stderr.splitlines())), (3, 1), missing.stderr)


if __name__ == "__main__":
    unittest.main()
