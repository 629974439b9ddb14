"""The shape the code promises (README, Layout): checks anyone can run."""
import glob
import os
import re
import unittest

from harness import ROOT

FUNCTION_MAX_LINES = 60
ENGINE_C_MAX_LINES = 500
TUI_OWN_HEADERS = {"cli.h", "config.h", "dashboard.h", "headless.h", "login.h", "text.h", "batch.h", "runlog.h", "hook.h", "completion.h", "manifest.h",
                   "agent.h", "protocol.h", "source.h"}


def quoted_includes(path):
    with open(path) as f:
        return re.findall(r'^#include "([^"]+)"', f.read(), re.M)


def functions(path):
    """(name line, length) of each function: a body from '{' to '}' in column 0."""
    with open(path) as f:
        lines = f.read().split("\n")
    found, start = [], None
    for i, line in enumerate(lines):
        if line.startswith("{") and i > 0:
            start = i
        elif line.startswith("}") and start is not None:
            head = start - 1
            while head > 0 and "(" not in lines[head]:
                head -= 1
            found.append((lines[head].strip(), i - start + 1))
            start = None
    return found


class Layout(unittest.TestCase):
    def test_front_ends_see_the_engine_and_the_borrowable_layer_only(self):
        for path in glob.glob(os.path.join(ROOT, "tui", "*.[ch]")):
            for header in quoted_includes(path):
                self.assertTrue(header == "engine.h" or header.startswith("util/") or header in TUI_OWN_HEADERS,
                                f"{os.path.relpath(path, ROOT)} includes {header}")

    def test_the_borrowable_layer_stands_alone(self):
        for path in glob.glob(os.path.join(ROOT, "core", "util", "*.[ch]")):
            for header in quoted_includes(path):
                self.assertTrue(os.path.exists(os.path.join(ROOT, "core", "util", header)),
                                f"{os.path.relpath(path, ROOT)} includes {header}, outside core/util")

    def test_core_functions_are_short(self):
        for path in glob.glob(os.path.join(ROOT, "core", "**", "*.c"), recursive=True):
            for name, length in functions(path):
                self.assertLessEqual(length, FUNCTION_MAX_LINES, f"{os.path.relpath(path, ROOT)}: {name}")

    def test_engine_c_stays_small(self):
        with open(os.path.join(ROOT, "core", "engine.c")) as f:
            self.assertLess(len(f.readlines()), ENGINE_C_MAX_LINES)

    def test_states_come_from_one_list(self):
        """No state name spelled out as a string outside the X-macro list."""
        with open(os.path.join(ROOT, "core", "engine.h")) as f:
            names = re.findall(r'X\(\w+, "(\w+)", \w+\)', f.read())
        self.assertIn("cancelled", names)
        for path in glob.glob(os.path.join(ROOT, "core", "*.c")):
            if path.endswith("journal.c"):
                continue  # SQL names the finished states in its queries
            with open(path) as f:
                text = f.read()
            for name in names:
                self.assertNotRegex(text, rf'"{name}"', f"{os.path.relpath(path, ROOT)} spells out {name!r}")


if __name__ == "__main__":
    unittest.main()
