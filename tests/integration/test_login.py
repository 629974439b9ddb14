"""vimeo-up login and logout: a token kept for SSH users, never echoed, never in argv."""
import os
import pty
import select
import stat
import subprocess
import time
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file


class LoginTest(SandboxTest):
    def setUp(self):
        super().setUp()
        self.xdg = os.path.join(self.tmp, "xdg")
        self.token_path = os.path.join(self.xdg, "vimeo-up", "token")
        self.state = os.path.join(self.tmp, "state")

    def env(self, **extra):
        environment = dict(os.environ, XDG_CONFIG_HOME=self.xdg)
        for name in ("VIMEO_TOKEN", "VIMEO_API_URL"):
            environment.pop(name, None)
        environment.update(extra)
        return environment

    def vimeo_up(self, *args, stdin="", **env):
        return subprocess.run([VIMEO_UP, *args, "--api", self.sandbox.url, "--state", self.state], input=stdin,
                              capture_output=True, text=True, env=self.env(**env), cwd=self.tmp, timeout=60)

    def test_login_from_stdin_stores_the_token_privately_and_uploads_use_it(self):
        proc = self.vimeo_up("login", stdin=f"  {TOKEN}\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("logged in as Sandbox User", proc.stdout)
        self.assertRegex(proc.stdout, r"scopes: .*\bupload\b")
        self.assertNotIn(TOKEN, proc.stdout + proc.stderr)
        with open(self.token_path) as f:
            self.assertEqual(f.read().strip(), TOKEN)
        self.assertEqual(stat.S_IMODE(os.stat(self.token_path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.token_path)).st_mode), 0o700)
        self.assertEqual([f for f in os.listdir(os.path.dirname(self.token_path))], ["token"], "no temporary left")

        path = make_file(self.tmp, "a.mp4", 1000)
        proc = self.vimeo_up("--no-tui", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("1 verified", proc.stdout)
        # VIMEO_TOKEN comes first: a wrong one is refused rather than passed over.
        proc = self.vimeo_up("--no-tui", path, VIMEO_TOKEN="wrong")
        self.assertEqual(proc.returncode, 3, proc.stderr)

        proc = self.vimeo_up("logout")
        self.assertEqual((proc.returncode, proc.stdout), (0, f"removed {self.token_path}\n"))
        self.assertFalse(os.path.exists(self.token_path))
        proc = self.vimeo_up("--no-tui", path)
        self.assertEqual(proc.returncode, 3)
        self.assertIn("no access token: set VIMEO_TOKEN, use --token-file FILE or run 'vimeo-up login'", proc.stderr)
        proc = self.vimeo_up("logout")
        self.assertEqual((proc.returncode, proc.stdout), (0, f"not logged in: no {self.token_path}\n"))

    def test_login_needs_no_state_and_makes_none(self):
        home = os.path.join(self.tmp, "home")
        os.mkdir(home)
        env = self.env(HOME=home)
        env.pop("XDG_STATE_HOME", None)
        proc = subprocess.run([VIMEO_UP, "login", "--api", self.sandbox.url], input=TOKEN, capture_output=True,
                              text=True, env=env, cwd=self.tmp, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("logged in as Sandbox User", proc.stdout)
        self.assertEqual(os.listdir(home), [], "no state directory made")

    def test_a_refused_token_is_not_stored_nor_shown(self):
        proc = self.vimeo_up("login", stdin="not-the-token\n")
        self.assertEqual(proc.returncode, 3)
        self.assertIn("vimeo-up: login: the token was not accepted: Vimeo API: ", proc.stderr)
        self.assertIn("HTTP 401", proc.stderr)
        self.assertNotIn("not-the-token", proc.stdout + proc.stderr)
        self.assertFalse(os.path.exists(self.token_path))

    def test_a_new_login_replaces_the_old_token_and_bad_input_is_refused(self):
        os.makedirs(os.path.dirname(self.token_path), mode=0o755)
        with open(self.token_path, "w") as f:
            f.write("old\n")
        self.assertEqual(self.vimeo_up("login", stdin=TOKEN).returncode, 0)
        with open(self.token_path) as f:
            self.assertEqual(f.read(), TOKEN + "\n")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.token_path)).st_mode), 0o700)
        for stdin, message in (("", "vimeo-up: login: no token given\n"),
                               ("a b\n", "vimeo-up: login: a token is one word; this has spaces or several lines\n")):
            proc = self.vimeo_up("login", stdin=stdin)
            self.assertEqual((proc.returncode, proc.stderr), (2, message))
        proc = self.vimeo_up("login", TOKEN)
        self.assertEqual(proc.returncode, 2)
        self.assertNotIn(TOKEN, proc.stderr)
        self.assertIn("login reads the token from standard input, never from the command line", proc.stderr)

    def test_a_stored_token_others_can_read_is_refused(self):
        self.assertEqual(self.vimeo_up("login", stdin=TOKEN).returncode, 0)
        os.chmod(self.token_path, 0o644)
        proc = self.vimeo_up("--no-tui", make_file(self.tmp, "b.mp4", 100))
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(proc.stderr, f"vimeo-up: token file {self.token_path}: readable by others; run chmod 600 "
                                      f"{self.token_path}\n")

    def test_a_terminal_does_not_echo_the_token(self):
        master, slave = pty.openpty()
        proc = subprocess.Popen([VIMEO_UP, "login", "--api", self.sandbox.url, "--state", self.state],
                                stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=self.env(), cwd=self.tmp)
        os.close(slave)
        self.addCleanup(os.close, master)
        seen = b""
        deadline = time.monotonic() + 10
        while b"(it is not shown): " not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 1024)
        self.assertIn(b"Paste a Vimeo access token", seen)
        os.write(master, TOKEN.encode() + b"\n")
        out, _ = proc.communicate(timeout=30)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        self.assertEqual(proc.returncode, 0, seen)
        self.assertNotIn(TOKEN.encode(), seen, "the terminal showed the token")
        self.assertIn(b"logged in as Sandbox User", out)
        with open(self.token_path) as f:
            self.assertEqual(f.read().strip(), TOKEN)


if __name__ == "__main__":
    unittest.main()
