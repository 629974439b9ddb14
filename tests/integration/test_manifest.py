"""--manifest: each file with its own metadata, from JSON lines checked
whole before anything is uploaded."""
import json
import os
import unittest

from cli_run import CliRun
from harness import make_file


class Manifest(CliRun):
    def manifest(self, *lines):
        path = os.path.join(self.tmp, "manifest.jsonl")
        with open(path, "w") as f:
            for line in lines:
                f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
        return path

    def video(self, name):
        status, _, data = self.sandbox.api("GET", self.sandbox.upload_named(name)["video"])
        self.assertEqual(status, 200)
        return json.loads(data)

    def secret(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, 0o600)
        return path

    def test_each_file_gets_its_own_metadata(self):
        a, b, c, d = (make_file(self.tmp, f"{x}.mp4", 1000 + i) for i, x in enumerate("abcd"))
        password = self.secret("pw", "hunter2")
        manifest = self.manifest(
            {"path": a, "name": "Deliverable A ☃", "description": "first cut", "privacy": "unlisted",
             "tags": ["client", "v2"]},
            "",
            {"path": "b.mp4", "name": "B ({stem})", "privacy": "password", "password_file": password, "tags": []},
            {"path": c, "folder": "/users/1/projects/42"})
        proc = self.vimeo_up("--name", "Run {stem}", "--tag", "run", "--manifest", manifest, d)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("4 verified, 0 failed", proc.stdout)
        first = self.video("Deliverable A ☃")
        self.assertEqual((first["description"], first["privacy"]["view"]), ("first cut", "unlisted"))
        self.assertEqual([t["name"] for t in first["tags"]], ["client", "v2"])
        second = self.video("B (b)")
        self.assertEqual(second["privacy"]["view"], "password")
        self.assertEqual(second["tags"], [], "tags: [] replaces the run's tags with none")
        third = self.video("Run c")
        self.assertEqual(self.sandbox.upload_named("Run c")["folder"], "/users/1/projects/42")
        self.assertEqual([t["name"] for t in third["tags"]], ["run"], "what a line does not say, the run does")
        self.assertEqual([t["name"] for t in self.video("Run d")["tags"]], ["run"])
        self.assertNotIn("hunter2", proc.stdout + proc.stderr)

    def test_a_bad_line_names_its_number_and_field_before_anything_is_sent(self):
        good = make_file(self.tmp, "good.mp4", 100)
        loose = os.path.join(self.tmp, "loose")
        with open(loose, "w") as f:
            f.write("x\n")
        os.chmod(loose, 0o644)
        cases = [
            ("not json", "1: not a JSON object"),
            ({"name": "no path"}, "1: path: missing"),
            ({"path": good, "titel": "typo"}, "1: titel: not a field of a manifest line"),
            ({"path": good, "replace": True}, "1: replace: not a string"),
            ({"path": good, "replace": "holiday"}, "1: replace: not a video (/videos/N, /videos/N:HASH, N or "),
            ({"path": good, "name": 5}, "1: name: not a string"),
            ({"path": good, "privacy": "everyone"}, "1: privacy: one of anybody, contacts, disable, nobody, password"),
            ({"path": good, "tags": "one"}, "1: tags: not an array of strings"),
            ({"path": good, "tags": ["ok", ""]}, "1: tags: an empty tag"),
            ({"path": good, "folder": "42"}, "1: folder: a folder URI (/users/N/projects/M), not 42"),
            ({"path": good, "privacy": "password"}, "1: privacy: password needs password_file"),
            ({"path": good, "password_file": loose}, "1: password_file: goes with privacy password"),
            ({"path": good, "privacy": "password", "password_file": loose},
             f"1: password_file {loose}: readable by others; run chmod 600 {loose}"),
        ]
        for line, message in cases:
            with self.subTest(line=line):
                manifest = self.manifest({"path": good}, line)
                proc = self.vimeo_up("--manifest", manifest)
                self.assertIn(proc.returncode, (2, 3), proc.stderr)
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                number, rest = message.split(": ", 1)
                self.assertTrue(proc.stderr.startswith(f"vimeo-up: --manifest {manifest}:{int(number) + 1}: {rest}"),
                                proc.stderr)
        self.assertEqual(self.sandbox.uploads(), [], "nothing uploaded from a bad manifest")

    def test_a_manifest_that_cannot_be_read(self):
        proc = self.vimeo_up("--manifest", os.path.join(self.tmp, "nope.jsonl"))
        self.assertEqual((proc.returncode, proc.stderr),
                         (2, f"vimeo-up: --manifest {self.tmp}/nope.jsonl: No such file or directory\n"))


if __name__ == "__main__":
    unittest.main()
