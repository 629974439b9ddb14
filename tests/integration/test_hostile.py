"""What a hostile environment does to vimeo-up: closed standard streams, a
corrupt journal, a TLS server that refuses the handshake."""
import os
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
