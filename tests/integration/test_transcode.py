"""Transcode follow-up (issue 11): once a video's bytes are verified, Vimeo
transcodes it; transcode.status is complete | error | in_progress and there
is no webhook, so it is polled (VIMEO-API.md, Corrections). The sandbox's
transcode_status fault sets what it answers."""
import json
import os
import subprocess

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file


class Transcode(SandboxTest):
    def vimeo_up(self, *args, json_output=True):
        return subprocess.run([VIMEO_UP, "--json" if json_output else "--no-tui", "--api", self.sandbox.url,
                               "--state", os.path.join(self.tmp, "state"), *args], capture_output=True, text=True,
                              env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=120)

    def events(self, proc):
        return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]

    def kinds(self, proc):
        return [e["event"] for e in self.events(proc) if e["event"] not in ("progress", "queued", "created", "summary")]

    def listed(self):
        proc = subprocess.run([VIMEO_UP, "list", "--json", "--state", os.path.join(self.tmp, "state")],
                              capture_output=True, text=True, timeout=30)
        return [row["transcode"] for row in json.loads(proc.stdout)]

    def test_available_at_once_is_said_after_done(self):
        path = make_file(self.tmp, "quick.mp4", 2000)
        proc = self.vimeo_up(path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        self.assertEqual(self.kinds(proc), ["verified", "done", "available"])
        available = [e for e in self.events(proc) if e["event"] == "available"][0]
        self.assertEqual(available["message"], available["link"])
        self.assertEqual(self.listed(), ["available"])
        plain = self.vimeo_up("--again", path, json_output=False)
        self.assertRegex(plain.stdout, r"(?m)^available +quick\.mp4  https://vimeo\.com/\d+$")

    def test_without_wait_the_run_does_not_wait_for_transcoding(self):
        self.sandbox.fault("transcode_status=in_progress,for=30")
        proc = self.vimeo_up(make_file(self.tmp, "slow.mp4", 2000))
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        self.assertEqual(self.kinds(proc), ["verified", "done", "transcoding"])
        self.assertEqual(self.listed(), ["transcoding"])

    def test_wait_transcode_follows_until_available(self):
        self.sandbox.fault("transcode_status=in_progress,for=3")
        proc = self.vimeo_up("--wait-transcode", make_file(self.tmp, "slow.mp4", 2000))
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        self.assertEqual(self.kinds(proc), ["verified", "done", "transcoding", "available"])
        self.assertEqual(self.listed(), ["available"])
        calls = json.loads(self.sandbox.request("GET", "/_sandbox/calls")[2])
        self.assertLessEqual(calls["total"], 12, "polls back off: a few calls, not a loop")

    def test_wait_transcode_ends_when_vimeo_refuses_to_say(self):
        self.sandbox.fault("transcode_status=in_progress,for=600")
        path = make_file(self.tmp, "revoked.mp4", 2000)
        proc = subprocess.Popen([VIMEO_UP, "--json", "--api", self.sandbox.url, "--state",
                                 os.path.join(self.tmp, "state"), "--wait-transcode", path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        self.addCleanup(proc.kill)
        self.wait_for(lambda: any(u["offset"] == u["size"] for u in self.sandbox.uploads()), what="the bytes")
        # The token revoked once the bytes are in: Vimeo answers no question now.
        self.sandbox.fault("revoked")
        stdout, stderr = proc.communicate(timeout=90)
        self.assertEqual(proc.returncode, 1, stderr + stdout[-800:])  # not known available: not a success
        said = [e["message"] for e in self.events(subprocess.CompletedProcess([], 1, stdout, stderr))
                if e["event"] == "transcoding" and "no longer followed" in e["message"]]
        self.assertEqual(len(said), 1, stdout[-1500:])
        self.assertRegex(said[0], r"^/videos/\d+: no longer followed: .*401.*; 'vimeo-up --wait-transcode FILE' "
                                  r"asks again$")
        self.assertEqual(self.listed(), ["transcoding"])  # as last known: a rerun follows it again

    def test_a_transcode_error_fails_the_run_only_with_wait(self):
        for wait, status in ((False, 0), (True, 1)):
            self.sandbox.fault("transcode_status=error,times=1")
            path = make_file(self.tmp, f"broken{int(wait)}.mp4", 2000, seed=int(wait))
            proc = self.vimeo_up(*(["--wait-transcode"] if wait else []), path)
            self.assertEqual(proc.returncode, status, (wait, proc.stderr, proc.stdout[-800:]))
            error = [e for e in self.events(proc) if e["event"] == "transcode_error"][0]["error"]
            self.assertIn("Vimeo could not transcode the video (transcode.status error)", error)
        self.assertEqual(self.listed(), ["transcode error", "transcode error"])

    def test_a_generic_tus_server_has_nothing_to_transcode(self):
        proc = subprocess.run([VIMEO_UP, "--json", "--wait-transcode", "--tus-endpoint", self.sandbox.url + "/files",
                               "--state", os.path.join(self.tmp, "state"), make_file(self.tmp, "t.bin", 1000)],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.kinds(proc), ["verified", "done"])

    def test_a_rerun_with_wait_follows_a_video_still_transcoding(self):
        self.sandbox.fault("transcode_status=in_progress,for=3")
        path = make_file(self.tmp, "later.mp4", 2000)
        self.assertEqual(self.vimeo_up(path).returncode, 0)
        proc = self.vimeo_up("--wait-transcode", path)  # already uploaded: only its transcoding is left
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        self.assertEqual(self.kinds(proc), ["done", "available"])  # transcoding, as the journal had it
