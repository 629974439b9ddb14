"""What a hostile environment does to vimeo-up: closed standard streams, a
corrupt journal, a TLS server that refuses the handshake."""
import os
import sqlite3
import subprocess

from harness import TOKEN, VIMEO_UP, make_file, sha256_file
from test_cli import CliTest


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
    def test_a_damaged_table_page_makes_list_exit_3(self):
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
        for args in (("list",), ("list", "--json")):
            proc = self.vimeo_up(*args, check_one_line=True)
            self.assertEqual(proc.returncode, 3, (args, proc.stdout))
            self.assertEqual(proc.stderr, f"vimeo-up: journal unreadable: {journal}: database disk image is malformed\n")
