"""make check-reliability: vimeo-up under sustained faults and repeated kills.

- Soak: 200 files, 8 workers, the sandbox injecting cuts, 5xx, 429, 423,
  stalls and expired links at random (seeded): every file verified with an
  equal SHA-256, and open descriptors and memory do not grow with the
  number of files done.
- Crash loop: kill -9 at 10 seeded moments of one 1 GiB upload, resuming
  each time: the SHA-256 is equal and the sandbox counts at most 8 MiB
  received twice per kill.
- Journal durability: kill -9 at seeded moments while many small files are
  being recorded: the journal opens after every kill, and a resume finishes.

Not part of `make check`: these take minutes, and the sanitizer reruns of
the suites would multiply that for nothing they do not already cover.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import TOKEN, VIMEO_UP, Sandbox, make_file, sha256_file  # noqa: E402

SEED = int(os.environ.get("VIMEO_UP_SEED", "20261125"))


def complete_by_name(sandbox):
    """The SHA-256 of each name's finished uploads. An expired link leaves an
    unfinished upload beside the new one; and when the faults also refuse
    both Vimeo's word that it was complete and the deletion of the old
    video, a second finished copy: a waste, but never a wrong byte."""
    found = {}
    for upload in sandbox.uploads():
        if upload["complete"]:
            found.setdefault(upload["name"], set()).add(upload["sha256"])
    return found


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


class Reliability(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vimeo-up-reliability.")
        self.state = os.path.join(self.tmp, "state")
        self.random = random.Random(SEED)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sandbox(self, *args):
        sandbox = Sandbox(*args)
        self.addCleanup(sandbox.stop)
        return sandbox

    def start(self, sandbox, *args, stdout=subprocess.PIPE):
        return subprocess.Popen([VIMEO_UP, "--api", sandbox.url, "--state", self.state, *args],
                                stdout=stdout, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, VIMEO_TOKEN=TOKEN), cwd=self.tmp)

    def run_vimeo_up(self, sandbox, *args, timeout=600):
        return subprocess.run([VIMEO_UP, *args, "--api", sandbox.url, "--state", self.state], capture_output=True,
                              text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN), cwd=self.tmp, timeout=timeout)

    def journal(self):
        proc = subprocess.run([VIMEO_UP, "list", "--json", "--state", self.state], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)

    def test_soak_200_files_8_workers_random_faults(self):
        sandbox = self.sandbox(
            "--sink", "--seed", str(SEED), "--rate-limit", "100000",
            # A create that fails after it was sent may have made a video,
            # so a file whose create fails twice fails (core/upload.c): at 3%
            # of the creates, 1 run in 6 would see that; two of the first
            # creates fail instead, and their second tries succeed.
            "--fault", "cut=100000,rate=0.03,on=upload", "--fault", "error=503,rate=0.03,on=upload",
            "--fault", "error=503,rate=0.03,on=api,method=GET", "--fault", "error=503,on=api,method=POST,times=2",
            "--fault", "error=500,rate=0.01,on=upload", "--fault", "throttle=1,rate=0.01,on=api",
            "--fault", "locked,rate=0.02", "--fault", "stall=2,rate=0.005,on=upload",
            "--fault", "expire=*,after=200000,rate=0.01")
        sizes = [self.random.randrange(1, 1 << 20) for _ in range(200)]
        paths = [make_file(self.tmp, f"soak{i:03d}.mp4", size, seed=SEED) for i, size in enumerate(sizes)]
        started = time.monotonic()
        # Events go to a file: a pipe nobody reads while sampling would fill
        # and stop vimeo-up in its tracks.
        events_file = open(os.path.join(self.tmp, "events.jsonl"), "w+")
        self.addCleanup(events_file.close)
        proc = self.start(sandbox, "--json", "-j", "8", "-c", "256K", "--stall-timeout", "5", *paths,
                          stdout=events_file)
        samples = []  # (files done, descriptors, RSS KiB)
        while proc.poll() is None and time.monotonic() - started < 300:
            done = sum(1 for u in sandbox.uploads() if u["complete"])
            try:
                samples.append((done, fd_count(proc.pid), rss_kib(proc.pid)))
            except (FileNotFoundError, StopIteration):
                break
            time.sleep(0.5)
        _, err = proc.communicate(timeout=30)
        events_file.seek(0)
        out = events_file.read()
        failed = "".join(line + "\n" for line in out.splitlines() if '"event":"failed"' in line)
        self.assertEqual(proc.returncode, 0, err + failed + out[-3000:])
        self.assertLess(time.monotonic() - started, 300)
        events = [json.loads(line) for line in out.splitlines()]
        retries = [e for e in events if e["event"] == "retry"]
        self.assertGreater(len(retries), 10, "the faults were met")
        # A dead kept-alive connection is curl's to handle, by sending the
        # body again on a new one: it must never cost a retry.
        self.assertFalse([e for e in retries if "rewind" in e.get("error", "")])
        stored = complete_by_name(sandbox)
        for path in paths:
            self.assertEqual(stored[os.path.basename(path)], {sha256_file(path)}, path)
        # Early (a quarter to half done) against late (all but the last few):
        # no growth but the job records themselves, a few KiB each. One
        # sample can catch the workers between connections (a connection a
        # fault cut is reopened by the next request), so each side is the
        # highest of its window, not one moment.
        early = [s for s in samples if 50 <= s[0] < 100] or samples[:1]
        late = [s for s in samples if s[0] >= 180] or samples[-1:]
        self.assertLessEqual(max(s[1] for s in late), max(s[1] for s in early) + 4, (early, late))
        self.assertLessEqual(max(s[2] for s in late), max(s[2] for s in early) + 4096, (early, late))

    def test_crash_loop_on_one_1_gib_upload(self):
        sandbox = self.sandbox("--sink")
        size = 1 << 30
        path = make_file(self.tmp, "big.mov", size, seed=SEED)
        moments = sorted(self.random.uniform(0.03, 0.97) for _ in range(10))
        twice = []  # bytes the sandbox had received twice after each run
        for kill in range(10):
            target = int(moments[kill] * size)
            proc = self.start(sandbox, "resume", "--no-tui") if kill else self.start(sandbox, "--no-tui", path)
            # Watch the server's offset and kill as it passes the target.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                uploads = sandbox.uploads()
                if uploads and uploads[0]["offset"] >= target:
                    break
                time.sleep(0.005)
            self.assertIsNone(proc.poll(), f"kill {kill + 1}: vimeo-up ended before the moment: "
                                           f"{proc.communicate()[1]}")
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            up = sandbox.uploads()[0]
            twice.append(up["received"] - up["offset"])
        proc = self.run_vimeo_up(sandbox, "resume", "--no-tui")
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        up = sandbox.uploads()[0]
        self.assertEqual(len(sandbox.uploads()), 1, "every run resumed the same upload")
        self.assertEqual(up["sha256"], sha256_file(path))
        twice.append(up["received"] - up["size"])
        # What each resume sent again, at most 8 MiB: the run after kill k
        # is the difference between two counts.
        self.assertLessEqual(twice[0], 8 << 20, twice)
        for kill in range(10):
            self.assertLessEqual(twice[kill + 1] - twice[kill], 8 << 20, (kill + 1, twice))
        self.assertEqual(self.journal()[0]["state"], "done")

    def test_journal_survives_kills_while_recording(self):
        sandbox = self.sandbox("--sink")
        paths = [make_file(self.tmp, f"small{i:03d}.bin", 4096 + i, seed=SEED) for i in range(300)]
        # Naming the files again on each run resumes what the journal has
        # and queues the rest, as a user re-running the same command would.
        for kill in range(10):
            proc = self.start(sandbox, "--no-tui", *paths)
            time.sleep(self.random.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            rows = self.journal()  # it opens, every time
            self.assertLessEqual(len(rows), len(paths))
        proc = self.run_vimeo_up(sandbox, "--no-tui", *paths)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout[-2000:])
        rows = self.journal()
        self.assertEqual(len(rows), len(paths))
        self.assertTrue(all(r["state"] == "done" for r in rows), [r for r in rows if r["state"] != "done"][:3])
        stored = complete_by_name(sandbox)
        for path in paths:
            self.assertEqual(stored[os.path.basename(path)], {sha256_file(path)}, path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
