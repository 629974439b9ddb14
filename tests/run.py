#!/usr/bin/python3
"""Run every test suite and end with one line: "N passed, N failed".

Unit tests are the cmocka programs in $VIMEO_UP_BUILD/tests/unit (each test
case counts, read from their TAP output); integration, conformance and
screen tests are the Python unittest modules tests/*/test_*.py. Arguments
narrow the run to names containing any of them.

TEST_JOBS=N runs the Python tests in N processes, a test class at a time
each (the longest first, as the last run timed them), so that two cores
are both busy while most tests wait on a sandbox, a timer or a screen.
"""
import io
import json
import os
import re
import selectors
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


def python_tests(wanted):
    """Every Python test wanted, in discovery order."""
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

    return [t for t in flatten(suite) if not wanted or any(w in t.id() for w in wanted)]


def run_tests(tests, stream):
    """Run tests; their verbose lines to stream. Passed, failed ids, seconds by id."""
    result = unittest.TextTestRunner(verbosity=2, stream=stream, resultclass=TimedResult).run(
        unittest.TestSuite(tests))
    bad = [t.id() for t, _ in result.failures + result.errors + result.unexpectedSuccesses]
    bad += [f"{t.id()} (skipped: {why})" for t, why in result.skipped]
    return result.testsRun - len(bad), bad, result.seconds


def test_class(test):
    return test.id().rsplit(".", 1)[0]


# How long each test class took the last time it ran, in any build (TEST_JOBS
# > 1 starts the longest first; a clean clone has none, and goes by how
# many tests each class has).
TIMINGS = os.path.join(os.path.dirname(HERE), "build", "python-times.json")


def run_worker(commands, answers, wanted):
    """TEST_JOBS > 1, in a child: run each test class the parent names on
    the commands pipe, a JSON line of its outcome to the answers pipe; an
    empty line ends. The tests' own output and their children's stay on
    this process's standard output and error."""
    by_class = {}
    for t in python_tests(wanted):
        by_class.setdefault(test_class(t), []).append(t)
    with os.fdopen(commands) as read, os.fdopen(answers, "w") as write:
        for line in read:
            name = line.strip()
            if not name:
                break
            out = io.StringIO()
            passed, bad, seconds = run_tests(by_class.get(name, []), out)
            write.write(json.dumps({"name": name, "out": out.getvalue(), "passed": passed, "bad": bad,
                                    "seconds": seconds}) + "\n")
            write.flush()
    return 0


def run_parallel(tests, jobs, wanted):
    """The tests in jobs processes, a class at a time each, the longest
    first; each class's lines printed whole as it ends."""
    classes = {}
    for t in tests:
        classes.setdefault(test_class(t), []).append(t)
    try:
        with open(TIMINGS) as f:
            took = json.load(f)
    except (OSError, ValueError):
        took = {}
    queue = sorted(classes, key=lambda name: -took.get(name, len(classes[name])))
    selector = selectors.DefaultSelector()
    children = []
    for _ in range(min(jobs, len(queue))):
        command_read, command_write = os.pipe()
        answer_read, answer_write = os.pipe()
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", str(command_read),
                                  str(answer_write), *wanted], pass_fds=(command_read, answer_write))
        os.close(command_read)
        os.close(answer_write)
        worker = {"commands": os.fdopen(command_write, "w"), "answers": os.fdopen(answer_read), "running": ""}
        children.append((child, worker))
        selector.register(worker["answers"], selectors.EVENT_READ, worker)

    def hand_next(worker):
        worker["running"] = queue.pop(0) if queue else ""
        worker["commands"].write(worker["running"] + "\n")
        worker["commands"].flush()

    for _, worker in children:
        hand_next(worker)
    passed, bad, seconds, busy = 0, [], {}, len(children)
    while busy:
        for key, _ in selector.select():
            worker = key.data
            line = worker["answers"].readline()
            if line:
                answer = json.loads(line)
                sys.stdout.write(answer["out"])
                sys.stdout.flush()
                passed += answer["passed"]
                bad += answer["bad"]
                seconds.update(answer["seconds"])
                took[answer["name"]] = sum(answer["seconds"].values())
                hand_next(worker)
            elif worker["running"]:
                bad.append(f"{worker['running']} (its test process ended before it did)")
                worker["running"] = ""
            if not worker["running"]:
                selector.unregister(worker["answers"])
                busy -= 1
    for child, worker in children:
        worker["commands"].close()
        child.wait()
        worker["answers"].close()
    try:
        with open(TIMINGS, "w") as f:
            json.dump(took, f)
    except OSError:
        pass
    return passed, bad, seconds


def run_python(wanted):
    tests = python_tests(wanted)
    jobs = int(os.environ.get("TEST_JOBS", "1") or 1)
    if jobs > 1:
        passed, bad, seconds = run_parallel(tests, jobs, wanted)
    else:
        passed, bad, seconds = run_tests(tests, sys.stdout)
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:SLOWEST_SHOWN]
    print("slowest: " + ", ".join(f"{name.split('.', 1)[1]} {took:.0f} s" for name, took in slowest))
    return passed, bad


def main():
    build = os.environ.setdefault("VIMEO_UP_BUILD", os.path.join(os.path.dirname(HERE), "build"))
    if sys.argv[1:2] == ["--worker"]:
        return run_worker(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
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
