"""--dry-run: what would be uploaded, skipped and refused, the total and the
quota, and nothing created: only GET /me and GET /oauth/verify go out."""
import json
import os
import sqlite3
import subprocess
import unittest

from cli_run import CliRun
from harness import VIMEO_UP, Sandbox, make_file


class DryRun(CliRun):
    def calls(self, sandbox=None):
        status, _, body = (sandbox or self.sandbox).request("GET", "/_sandbox/calls")
        self.assertEqual(status, 200)
        return json.loads(body)

    def journal(self):
        proc = subprocess.run([VIMEO_UP, "list", "--json", "--state", os.path.join(self.tmp, "state")],
                              capture_output=True, text=True)
        return json.loads(proc.stdout)

    def test_verdicts_and_nothing_created(self):
        done = make_file(self.tmp, "done.mp4", 1000)
        self.assertEqual(self.vimeo_up(done).returncode, 0)
        new = make_file(self.tmp, "new.mp4", 3 << 20)
        empty = make_file(self.tmp, "empty.mp4", 0)
        before, uploads, rows = self.calls(), self.sandbox.uploads(), self.journal()
        proc = self.vimeo_up("--dry-run", done, new, empty, os.path.join(self.tmp, "missing.mp4"))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        video = rows[0]["video"]
        self.assertEqual(proc.stdout.splitlines(), [
            f"skip      {done}  already uploaded as {video}",
            f"upload    {new}  (3.0 MiB)",
            f"refuse    {empty}: empty file (Vimeo cannot take 0 bytes)",
            f"refuse    {self.tmp}/missing.mp4: No such file or directory",
            "dry run: 1 to upload (3.0 MiB), 1 skipped, 2 refused; free upload quota: no limit known"])
        after = self.calls()
        changed = {route: n - before["by_route"][route] for route, n in after["by_route"].items()
                   if n != before["by_route"][route]}
        self.assertEqual(changed, {"/me": 1, "/oauth/verify": 1})
        self.assertEqual(self.sandbox.uploads(), uploads, "no upload created")
        self.assertEqual(self.journal(), rows, "the journal is as it was")

        proc = self.vimeo_up("--dry-run", "--json", new, done)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        events = [json.loads(line) for line in proc.stdout.splitlines()]
        self.assertEqual([(e["event"], e["file"]) for e in events[:2]], [("would_upload", new), ("would_skip", done)])
        self.assertEqual(events[1]["video"], video)
        self.assertEqual(events[2], {"event": "dry_run", "upload_files": 1, "upload_bytes": 3 << 20,
                                     "skipped_files": 1, "refused_files": 0, "quota_free": -1, "fits": True})
        self.assertEqual(self.sandbox.uploads(), uploads)

    def test_the_quota_check(self):
        small = Sandbox("--quota", "4000")
        self.addCleanup(small.stop)
        a, b = make_file(self.tmp, "a.bin", 3000), make_file(self.tmp, "b.bin", 2000)
        proc = self.vimeo_up("--dry-run", a, sandbox=small)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("dry run: 1 to upload (2.9 KiB), 0 skipped, 0 refused; free upload quota: 3.9 KiB\n", proc.stdout)
        proc = self.vimeo_up("--dry-run", a, b, sandbox=small)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("free upload quota: 3.9 KiB (too small: the run would fail files)", proc.stdout)
        self.assertEqual(small.uploads(), [])

    def test_a_first_dry_run_leaves_no_state_behind(self):
        # Before any upload: no state directory, no journal made for it.
        new = make_file(self.tmp, "new.mp4", 1000)
        proc = self.vimeo_up("--dry-run", new)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("dry run: 1 to upload", proc.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "state")))
        proc = subprocess.run([VIMEO_UP, "list", "--state", os.path.join(self.tmp, "state")],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "state")), "list makes none either")

    def test_an_older_journal_is_read_not_upgraded(self):
        done = make_file(self.tmp, "done.mp4", 1000)
        self.assertEqual(self.vimeo_up(done).returncode, 0)
        journal = os.path.join(self.tmp, "state", "journal.db")
        # As vimeo-up 0.4 left it: version 4, before the transcode column.
        with sqlite3.connect(journal) as db:
            db.execute("ALTER TABLE uploads DROP COLUMN transcode")
            db.execute("PRAGMA user_version=4")
        db.close()
        proc = self.vimeo_up("--dry-run", done)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("dry run: 0 to upload (0 B), 1 skipped", proc.stdout)
        with sqlite3.connect(journal) as db:
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 4)
        db.close()

    def test_dry_run_is_for_uploads(self):
        proc = self.vimeo_up("--dry-run", "resume")
        self.assertEqual((proc.returncode, proc.stderr),
                         (2, "vimeo-up: --dry-run goes with uploads, not with a command (see vimeo-up --help)\n"))


if __name__ == "__main__":
    unittest.main()
