"""Shell completion: the bash script, sourced in bash, completes options,
commands, files and --privacy's values; the zsh one names the same."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import VIMEO_UP


class Completion(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vimeo-up-test.")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.work)
        for name in ("clip.mov", "list-of-files.txt"):
            open(os.path.join(self.work, name), "w").close()
        os.mkdir(os.path.join(self.work, "journal-dir"))
        script = subprocess.run([VIMEO_UP, "completion", "bash"], capture_output=True, text=True)
        self.assertEqual(script.returncode, 0, script.stderr)
        self.script = os.path.join(self.tmp, "vimeo-up.bash")
        with open(self.script, "w") as f:
            f.write(script.stdout)

    def complete(self, line):
        """COMPREPLY for the command line typed so far (the cursor at its end)."""
        words = line.split(" ")
        program = (f"source {self.script}\n"
                   f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
                   f"COMP_CWORD={len(words) - 1}\nCOMP_LINE={line!r}\n"
                   "_vimeo_up vimeo-up\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
                   "complete -p vimeo-up\n")
        proc = subprocess.run(["bash", "--norc", "--noprofile"], input=program, capture_output=True, text=True,
                              cwd=self.work)
        self.assertEqual(proc.stderr, "")
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[-1], "complete -o filenames -F _vimeo_up vimeo-up")
        return sorted(l for l in lines[:-1] if l)

    def test_options_commands_files_and_values(self):
        self.assertEqual(self.complete("vimeo-up --pri"), ["--privacy"])
        self.assertEqual(self.complete("vimeo-up --privacy u"), ["unlisted", "users"])
        self.assertEqual(self.complete("vimeo-up lo"), ["login", "logout"])
        self.assertEqual(self.complete("vimeo-up l"), ["list", "list-of-files.txt", "login", "logout"])
        self.assertEqual(self.complete("vimeo-up resume l"), ["list-of-files.txt"], "one command only")
        self.assertEqual(self.complete("vimeo-up -j 3 c"), ["clip.mov", "completion"])
        self.assertEqual(self.complete("vimeo-up --token-file "), ["clip.mov", "journal-dir", "list-of-files.txt"])
        self.assertEqual(self.complete("vimeo-up --state j"), ["journal-dir"])
        self.assertEqual(self.complete("vimeo-up --files-from l"), ["list-of-files.txt"])
        self.assertEqual(self.complete("vimeo-up -j "), [], "a number: nothing to offer")
        self.assertEqual(self.complete("vimeo-up completion "), ["bash", "zsh"])

    def test_every_option_of_the_help_is_completed(self):
        usage = subprocess.run([VIMEO_UP, "--help"], capture_output=True, text=True).stdout
        documented = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+|-[a-zA-Z0-9])\b", usage))
        offered = set(self.complete("vimeo-up -"))
        self.assertEqual(documented - offered, set())
        self.assertEqual(offered - documented, set(), "an option --help does not mention")
        zsh = subprocess.run([VIMEO_UP, "completion", "zsh"], capture_output=True, text=True).stdout
        self.assertTrue(zsh.startswith("#compdef vimeo-up\n"))
        for option in documented:
            self.assertIn(option, zsh)

    def test_another_shell_is_a_usage_error(self):
        proc = subprocess.run([VIMEO_UP, "completion", "fish"], capture_output=True, text=True)
        self.assertEqual((proc.returncode, proc.stderr),
                         (2, "vimeo-up: completion: bash or zsh, not fish (see vimeo-up --help)\n"))


if __name__ == "__main__":
    unittest.main()
