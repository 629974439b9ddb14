"""The config file: defaults for the options, as ~/.curlrc gives curl's."""
import json
import os
import subprocess
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file


class ConfigTest(SandboxTest):
    def setUp(self):
        super().setUp()
        self.xdg = os.path.join(self.tmp, "xdg")
        os.makedirs(os.path.join(self.xdg, "vimeo-up"))
        self.default = os.path.join(self.xdg, "vimeo-up", "config")

    def vimeo_up(self, *args, env=None):
        environment = dict(os.environ, VIMEO_TOKEN=TOKEN, XDG_CONFIG_HOME=self.xdg)
        environment.pop("VIMEO_API_URL", None)
        environment.update(env or {})
        return subprocess.run([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state",
                               os.path.join(self.tmp, "state"), *args], capture_output=True, text=True,
                              env=environment, cwd=self.tmp, timeout=120)

    def write(self, path, text):
        with open(path, "w") as f:
            f.write(text)
        return path

    def video(self, name):
        status, _, data = self.sandbox.api("GET", self.sandbox.upload_named(name)["video"])
        self.assertEqual(status, 200)
        return json.loads(data)

    def test_the_default_file_sets_the_options(self):
        self.write(self.default, "# defaults for every upload\n\n  name = \"Shot {stem}\"\nprivacy=unlisted\n"
                   "chunk-size = 1M\ntag = one\ntag = two words\nwait-transcode = no\n")
        path = make_file(self.tmp, "a.mp4", (2 << 20) + 1)
        proc = self.vimeo_up(path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.sandbox.upload_named("Shot a")["requests"]["PATCH"], 3)
        video = self.video("Shot a")
        self.assertEqual(video["privacy"]["view"], "unlisted")
        self.assertEqual([t["name"] for t in video["tags"]], ["one", "two words"])

    def test_home_dot_config_without_xdg(self):
        home = os.path.join(self.tmp, "home")
        os.makedirs(os.path.join(home, ".config", "vimeo-up"))
        self.write(os.path.join(home, ".config", "vimeo-up", "config"), "name = from home\n")
        env = dict(os.environ, VIMEO_TOKEN=TOKEN, HOME=home)
        env.pop("XDG_CONFIG_HOME", None)
        proc = subprocess.run([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state",
                               os.path.join(self.tmp, "state"), make_file(self.tmp, "h.mp4", 1000)],
                              capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.sandbox.upload_named("from home")

    def test_the_command_line_wins(self):
        self.write(self.default, "name = from config\ntag = config-tag\nprivacy = nobody\n")
        proc = self.vimeo_up("--name", "from the line", "--tag", "line-tag", make_file(self.tmp, "b.mp4", 1000))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        video = self.video("from the line")
        self.assertEqual([t["name"] for t in video["tags"]], ["line-tag"])
        self.assertEqual(video["privacy"]["view"], "nobody", "what the line does not say, the config does")

    def test_config_names_another_file_instead_of_the_default(self):
        self.write(self.default, "name = default file\n")
        other = self.write(os.path.join(self.tmp, "other.conf"), "name = other file\n")
        proc = self.vimeo_up("--config", other, make_file(self.tmp, "c.mp4", 1000))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.sandbox.upload_named("other file")

    def test_a_bad_line_is_one_line_naming_file_and_line(self):
        path = make_file(self.tmp, "d.mp4", 1000)
        cases = [("jobs = 2\nbogus = 1\n", "2: unknown key 'bogus'"),
                 ("\n# x\njobs = 0\n", "3: --jobs: not a number from 1 to 64: 0"),
                 ("privacy = everyone\n", "1: --privacy: one of anybody"),
                 ("limit-rate = 5Mb\n", "1: --limit-rate: bytes per second; did you mean 5M?"),
                 ("stall-timeout = 1K\n", "1: --stall-timeout: not a number of seconds"),
                 ("just words\n", "1: not key = value: just words"),
                 ("state = /tmp\n", "1: unknown key 'state'"),
                 ("wait-transcode = maybe\n", "1: wait-transcode: true or false, not maybe"),
                 ("token = sandbox-token-7f3a\n", "1: no token in a config file")]
        for text, message in cases:
            with self.subTest(text=text):
                self.write(self.default, text)
                proc = self.vimeo_up(path)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                self.assertTrue(proc.stderr.startswith(f"vimeo-up: config: {self.default}:{message}"), proc.stderr)
                self.assertNotIn(TOKEN, proc.stderr)
        self.assertEqual(self.sandbox.uploads(), [], "nothing is uploaded after a bad config")

    def test_a_bad_config_does_not_hide_help_nor_block_logout_and_stop(self):
        self.write(self.default, "limit-rate = 5Mb\n")
        env = dict(os.environ, XDG_CONFIG_HOME=self.xdg, XDG_RUNTIME_DIR=os.path.join(self.tmp, "run"))
        os.mkdir(env["XDG_RUNTIME_DIR"], 0o700)
        for args, code in ((["--help"], 0), (["logout"], 0), (["status"], 3), (["stop"], 3)):
            with self.subTest(args=args):
                proc = subprocess.run([VIMEO_UP, *args, "--state", os.path.join(self.tmp, "state")],
                                      capture_output=True, text=True, env=env, timeout=60)
                self.assertEqual(proc.returncode, code, proc.stderr)
                self.assertNotIn("config:", proc.stderr)

    def test_a_missing_config_named_is_an_error_a_missing_default_is_not(self):
        proc = self.vimeo_up("--config", os.path.join(self.tmp, "nope"), make_file(self.tmp, "e.mp4", 1000))
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stderr, f"vimeo-up: config: {os.path.join(self.tmp, 'nope')}: No such file or directory\n")
        proc = self.vimeo_up(make_file(self.tmp, "f.mp4", 1000))
        self.assertEqual(proc.returncode, 0, proc.stderr)


if __name__ == "__main__":
    unittest.main()
