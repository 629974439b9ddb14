"""A test case that runs vimeo-up --no-tui against its own sandbox, with the
journal and the config directory in its scratch directory."""
import os
import subprocess

from harness import TOKEN, VIMEO_UP, SandboxTest


class CliRun(SandboxTest):
    def vimeo_up(self, *args, stdin=None, sandbox=None, env=None):
        environment = dict(os.environ, VIMEO_TOKEN=TOKEN, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"))
        environment.pop("VIMEO_API_URL", None)
        environment.update(env or {})
        return subprocess.run([VIMEO_UP, "--no-tui", "--api", (sandbox or self.sandbox).url, "--state",
                               os.path.join(self.tmp, "state"), *args], input=stdin, capture_output=True, text=True,
                              env=environment, cwd=self.tmp, timeout=120)
