"""--replace VIDEO FILE: a new version of a video, not a new video (issue 11).
POST /videos/{id}/versions answers 201 and a version object whose upload
link takes the file (VIMEO-API.md, Corrections); the video keeps its URI."""
import json
import os
import signal
import subprocess

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file, sha256_file


class Replace(SandboxTest):
    sandbox_args = ("--hash-uris=unlisted",)

    def vimeo_up(self, *args, command=()):
        return subprocess.run(self.argv(*command, "--json", *args), capture_output=True, text=True,
                              env=dict(os.environ, VIMEO_TOKEN=TOKEN), cwd=self.tmp, timeout=120)

    def argv(self, *args):
        return [VIMEO_UP, "--api", self.sandbox.url, "--state", os.path.join(self.tmp, "state"), *args]

    def events(self, proc):
        return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]

    def original(self, *args):
        """A video uploaded the usual way; returns its URI."""
        path = make_file(self.tmp, "original.mp4", 5000, seed=9)
        proc = self.vimeo_up(*args, path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        return [e for e in self.events(proc) if e["event"] == "done"][0]["video"]

    def uploads_of(self, video):
        return [u for u in self.sandbox.uploads() if u["video"] == video]

    def test_a_new_version_of_the_same_video_by_uri_number_or_page(self):
        video = self.original("--privacy", "unlisted")  # /videos/N:HASH
        number, hash_ = video[len("/videos/"):].split(":")
        for i, named in enumerate((video, number, f"https://vimeo.com/{number}/{hash_}")):
            path = make_file(self.tmp, f"new{i}.mp4", 300000 + i, seed=i)
            proc = self.vimeo_up("--replace", named, path)
            self.assertEqual(proc.returncode, 0, (named, proc.stderr, proc.stdout[-800:]))
            done = [e for e in self.events(proc) if e["event"] == "done"][0]
            self.assertEqual(done["video"], "/videos/" + named.split("/")[-1] if i < 2 else video, named)
            self.assertEqual(done["link"], f"https://vimeo.com/{number}/{hash_}", named)
            self.assertEqual(self.uploads_of(video)[-1]["sha256"], sha256_file(path), named)
            self.assertEqual(len(self.uploads_of(video)), 2 + i, "one version each, on the same video")
        self.assertEqual(len({u["video"] for u in self.sandbox.uploads()}), 1, "no other video was made")
        listing = json.loads(subprocess.run([VIMEO_UP, "list", "--json", "--state", os.path.join(self.tmp, "state")],
                                            capture_output=True, text=True).stdout)
        self.assertEqual([row["video"].split(":")[0] for row in listing], ["/videos/" + number] * 4)

    def test_a_manifest_line_replaces_its_own_video(self):
        video = self.original()
        number = video[len("/videos/"):]
        new, other = make_file(self.tmp, "new.mp4", 4000, seed=5), make_file(self.tmp, "other.mp4", 3000, seed=6)
        manifest = os.path.join(self.tmp, "manifest.jsonl")
        with open(manifest, "w") as f:
            f.write(json.dumps({"path": new, "replace": f"https://vimeo.com/{number}"}) + "\n")
            f.write(json.dumps({"path": other, "name": "a video of its own"}) + "\n")
        proc = self.vimeo_up("--manifest", manifest)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-800:])
        self.assertEqual([u["sha256"] for u in self.uploads_of(video)][-1], sha256_file(new))
        self.assertEqual(len(self.uploads_of(video)), 2, "the line's file is a version of its video")
        self.assertEqual(self.sandbox.upload_named("a video of its own")["sha256"], sha256_file(other))
        self.assertEqual(len({u["video"] for u in self.sandbox.uploads()}), 2, "one new video, for the other line")

    def test_a_bad_video_is_a_usage_error_in_one_line(self):
        path = make_file(self.tmp, "x.mp4", 100)
        for bad in ("holiday", "/videos/", "https://example.com/123", "https://vimeo.com/12/zz!"):
            proc = self.vimeo_up("--replace", bad, path)
            self.assertEqual((proc.returncode, len(proc.stderr.splitlines())), (2, 1), (bad, proc.stderr))
            self.assertIn(f"--replace: not a video (/videos/N, /videos/N:HASH, N or https://vimeo.com/N[/HASH]): "
                          f"{bad}", proc.stderr)
        two = self.vimeo_up("--replace", "5", path, path)
        self.assertEqual(two.returncode, 2)
        self.assertIn("--replace takes one FILE", two.stderr)
        self.assertEqual(self.sandbox.uploads(), [])

    def kill_during_a_replace(self):
        """A replace killed with part of its bytes sent: the video and file."""
        video = self.original()
        path = make_file(self.tmp, "big.mp4", 6 << 20, seed=4)
        proc = subprocess.Popen(self.argv("--no-tui", "-r", "2M", "-c", "1M", "--replace", video, path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, VIMEO_TOKEN=TOKEN))
        self.wait_for(lambda: len(self.uploads_of(video)) == 2 and self.uploads_of(video)[1]["offset"] >= 1 << 20,
                      timeout=30, what="part of the version's bytes")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return video, path

    def test_kill_9_then_resume_continues_the_same_version(self):
        video, path = self.kill_during_a_replace()
        resumed = self.vimeo_up(command=["resume"])
        self.assertEqual(resumed.returncode, 0, resumed.stderr + resumed.stdout[-800:])
        self.assertEqual([e["video"] for e in self.events(resumed) if e["event"] == "done"], [video])
        versions = self.uploads_of(video)
        self.assertEqual(len(versions), 2, "the version was continued, not made again")
        self.assertEqual(versions[1]["sha256"], sha256_file(path))
        self.assertLess(versions[1]["received"], 2 * (6 << 20))
        self.assertEqual(self.sandbox.api("GET", video)[0], 200)

    def test_an_expired_link_makes_a_new_version_and_keeps_the_video(self):
        video = self.original()
        path = make_file(self.tmp, "expiring.mp4", 3 << 20, seed=5)
        self.sandbox.fault("expire=*,after=1000000,times=1")
        proc = self.vimeo_up("-c", "1M", "--replace", video, path)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-1000:])
        retries = [e["error"] for e in self.events(proc) if e["event"] == "retry"]
        self.assertIn("upload link expired; starting a new version", retries)
        self.assertEqual([e["video"] for e in self.events(proc) if e["event"] == "done"], [video])
        self.assertEqual(self.sandbox.api("GET", video)[0], 200, "the replaced video is never deleted")
        versions = self.uploads_of(video)
        self.assertEqual(len(versions), 3, "the original, the expired version, the new one")
        self.assertEqual(versions[-1]["sha256"], sha256_file(path))
        self.assertEqual(len({u["video"] for u in self.sandbox.uploads()}), 1, "no new video")

    def test_kill_9_then_an_expired_link_on_resume_makes_a_version(self):
        # The journal says the row replaces the video: a resume whose link is
        # gone makes a new version of it, never a video of its own.
        video, path = self.kill_during_a_replace()
        self.sandbox.fault("expire=*,times=1")
        resumed = self.vimeo_up(command=["resume"])
        self.assertEqual(resumed.returncode, 0, resumed.stderr + resumed.stdout[-800:])
        self.assertEqual([e["video"] for e in self.events(resumed) if e["event"] == "done"], [video])
        versions = self.uploads_of(video)
        self.assertEqual(len(versions), 3, "the original, the version cut short, a new version")
        self.assertEqual(versions[-1]["sha256"], sha256_file(path))
        self.assertEqual(len({u["video"] for u in self.sandbox.uploads()}), 1, "no new video")
        self.assertEqual(self.sandbox.api("GET", video)[0], 200)
