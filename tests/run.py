#!/usr/bin/python3
"""Run every test suite and end with one line: "N passed, N failed".

Unit tests are the cmocka programs in $VIMEO_UP_BUILD/tests/unit (each test
case counts, read from their TAP output); integration, conformance and
screen tests are the Python unittest modules tests/*/test_*.py. Arguments
narrow the run to names containing any of them.
"""
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def run_unit(build, wanted):
    passed, failed = 0, []
    unit_dir = os.path.join(build, "tests", "unit")
    names = sorted(os.listdir(unit_dir)) if os.path.isdir(unit_dir) else []
    for name in names:
        path = os.path.join(unit_dir, name)
        if not name.startswith("test_") or name.endswith(".d") or not os.access(path, os.X_OK):
            continue
        if wanted and not any(w in name for w in wanted):
            continue
        env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
        proc = subprocess.run([path], capture_output=True, text=True, env=env, cwd=os.path.dirname(HERE))
        ok = len(re.findall(r"^ok \d+", proc.stdout, re.M))
        bad = re.findall(r"^not ok \d+ - (.*)$", proc.stdout, re.M)
        passed += ok
        failed += [f"{name}: {b}" for b in bad]
        if proc.returncode != 0 and not bad:
            failed.append(f"{name}: exit status {proc.returncode}")
        if bad or proc.returncode != 0:
            sys.stdout.write(proc.stdout + proc.stderr)
        print(f"unit  {name}: {ok} passed, {len(bad)} failed")
    return passed, failed


SLOWEST_SHOWN = 8


class TimedResult(unittest.TextTestResult):
    """Also keeps how long each test took, to see where CI's time goes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seconds = {}

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        self.seconds[test.id()] = time.monotonic() - self._started
        super().stopTest(test)


def run_python(wanted):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for sub in ("integration", "peers", "screen"):
        top = os.path.join(HERE, sub)
        if os.path.isdir(top):
            suite.addTests(loader.discover(top, pattern="test_*.py", top_level_dir=top))

    def flatten(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from flatten(t)
            else:
                yield t

    tests = [t for t in flatten(suite) if not wanted or any(w in t.id() for w in wanted)]
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=TimedResult).run(
        unittest.TestSuite(tests))
    slowest = sorted(result.seconds.items(), key=lambda kv: -kv[1])[:SLOWEST_SHOWN]
    print("slowest: " + ", ".join(f"{name.split('.', 1)[1]} {took:.0f} s" for name, took in slowest))
    bad = [t.id() for t, _ in result.failures + result.errors + result.unexpectedSuccesses]
    bad += [f"{t.id()} (skipped: {why})" for t, why in result.skipped]
    return result.testsRun - len(bad), bad


def main():
    build = os.environ.setdefault("VIMEO_UP_BUILD", os.path.join(os.path.dirname(HERE), "build"))
    wanted = sys.argv[1:]
    started = time.monotonic()
    unit_passed, unit_failed = run_unit(build, wanted)
    py_passed, py_failed = run_python(wanted)
    failed = unit_failed + py_failed
    for f in failed:
        print(f"FAILED {f}")
    print(f"({time.monotonic() - started:.0f} s)")
    print(f"{unit_passed + py_passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
