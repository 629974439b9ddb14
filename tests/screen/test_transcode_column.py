"""A done video's transcode status has a column of its own (TRANSCODE) and a
line in the details: transcoding, then available or transcode error."""
import re
import unittest

from test_dashboard import Dashboard


class TranscodeColumn(Dashboard):
    def test_the_column_follows_transcoding_to_available(self):
        self.sandbox.fault("transcode_status=in_progress,for=4,times=1")
        self.sandbox.fault("transcode_status=error,times=1")
        slow, broken = self.files(("slow.mp4", 1000), ("broken.mp4", 2000))
        pane = self.open("-j", "1", slow, broken, width=120)
        screen = self.see(pane, r"slow\.mp4 .*done +transcoding")
        self.see(pane, r"all done, 1 still transcoding on Vimeo . q quits")
        header = [line for line in screen.split("\n") if line.startswith("NAME")][0]
        self.assertRegex(header, r"STATE +TRANSCODE")
        self.see(pane, r"broken\.mp4 .*done +transcode error")
        screen = self.see(pane, r"slow\.mp4 .*done +available", timeout=30)
        row = [line for line in screen.split("\n") if "slow.mp4" in line][0]
        self.assertEqual(row.index("available"), header.index("TRANSCODE"), "under its title")
        pane.keys("Enter")
        self.see(pane, r"(?m)^transcode available")
        self.see(pane, r"(?m)^page +https://vimeo\.com/\d+")
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 0)

    def test_an_80_column_terminal_keeps_the_columns_it_had(self):
        (a,) = self.files(("a-rather-long-name-for-a-clip.mp4", 1000))
        pane = self.open(a)
        screen = self.see(pane, r"all done")
        self.assertNotIn("TRANSCODE", screen)
        self.assertTrue(re.search(r"(?m)^NAME .* ETA +STATE *$", screen), screen)


def load_tests(loader, standard_tests, pattern):
    """Only this file's tests: the Dashboard tests it builds on run from their own file."""
    return unittest.TestSuite(TranscodeColumn(name) for name in vars(TranscodeColumn) if name.startswith("test_"))
