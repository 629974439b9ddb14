"""The dashboard in a real terminal: vimeo-up in a tmux pane against the sandbox."""
import json
import os
import re
import shlex
import signal
import subprocess
import time

from harness import ROOT, TOKEN, VIMEO_UP, SandboxTest, make_file, sha256_file


PANE_ENV = {"VIMEO_TOKEN": TOKEN, "LANG": "C.UTF-8", "TERM": "xterm-256color"}


class Tmux:
    """One tmux server of our own (its own socket), one pane running cmd."""

    def __init__(self, name, cmd, width=80, height=24, env=None):
        self.socket = f"vimeo-up-test-{os.getpid()}-{name}"
        self.tmux("kill-server", check=False)
        environment = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height), "-s", "t",
                  f"env {environment} sh -c {shlex.quote(cmd)}")

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def kill(self):
        self.tmux("kill-server", check=False)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_of(pid):
    """The first child of pid, or None."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
    except FileNotFoundError:
        return None
    return int(children[0]) if children else None


def process_state(pid):
    """The one-letter state of pid (T: stopped), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def head_rate(header):
    """The head line's overall rate in bytes/s and its time left, or None."""
    found = re.search(r"  ([\d.]+) (B|KiB|MiB|GiB)/s  ETA (\S+)", header)
    if not found:
        return None
    return float(found.group(1)) * {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[found.group(2)], found.group(3)


def alive(pid):
    """Running (a zombie has ended)."""
    return process_state(pid) not in (None, "Z")


class Dashboard(SandboxTest):
    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp, "state")
        self.pidfile = os.path.join(self.tmp, "pid")
        self.statusfile = os.path.join(self.tmp, "status")
        self.panes = []

    def tearDown(self):
        for pane in self.panes:
            pane.kill()
        super().tearDown()

    def command(self, *args):
        """The shell command line that runs vimeo-up against the sandbox, the
        engine in-process (--foreground): these tests are the dashboard's own;
        test_agent_screen.py has the dashboard over the agent."""
        return " ".join(shlex.quote(a) for a in (VIMEO_UP, "--foreground", "--api", self.sandbox.url, "--state",
                                                 self.state, *args))

    def open(self, *args, width=80, height=24, env=None, name="main"):
        argv = self.command(*args)
        environment = dict(PANE_ENV, **(env or {}))
        # The shell writes the exit status; tmux's own record of it can lag.
        pane = Tmux(name, f"cd {shlex.quote(self.tmp)} && echo $$ > {shlex.quote(self.pidfile)} && {argv}; "
                          f"echo $? > {shlex.quote(self.statusfile)}; sleep 600", width, height, environment)
        self.panes.append(pane)
        self.pid = self.child_of_shell()
        return pane

    def child_of_shell(self):
        """vimeo-up's pid: the child of the shell that wrote its own pid to self.pidfile."""
        shell = int(self.wait_for(lambda: os.path.exists(self.pidfile) and open(self.pidfile).read().strip(),
                                  what="the shell's pid"))
        return int(self.wait_for(lambda: child_of(shell), what="vimeo-up's pid"))

    def exit_status(self, pane, timeout=10):
        try:
            return int(self.wait_for(lambda: os.path.exists(self.statusfile) and open(self.statusfile).read().strip(),
                                     timeout=timeout, what="exit"))
        except AssertionError as failure:
            raise AssertionError(f"{failure}; the screen:\n{pane.screen()}") from None

    def see(self, pane, pattern, timeout=20):
        """The screen with pattern on it, as two captures in a row agree:
        a capture taken while tmux is still drawing a frame holds half of
        it (a slow sanitizer build makes that likely)."""
        def matching():
            screen = pane.screen()
            return re.search(pattern, screen) and screen
        try:
            screen = self.wait_for(matching, timeout=timeout, what=f"{pattern!r} on screen")
        except AssertionError as failure:
            raise AssertionError(f"{failure}; the screen:\n{pane.screen()}") from None
        for _ in range(20):
            time.sleep(0.05)
            again = matching()
            if not again or again == screen:
                break  # settled, or moved on from what was asked for
            screen = again
        return screen

    def offset(self, name):
        found = [u for u in self.sandbox.uploads() if u["name"] == name]
        return found[0]["offset"] if found else 0

    def files(self, *specs):
        return [make_file(self.tmp, name, size, seed=i) for i, (name, size) in enumerate(specs)]

    def test_rows_progress_pause_resume(self):
        a, b = self.files(("alpha.mp4", 12 << 20), ("beta.mov", 12 << 20))
        pane = self.open("-r", "2M", "-c", "1M", "-j", "2", a, b)
        screen = self.see(pane, r"alpha\.mp4 +12\.0 MiB .*uploading")
        self.assertRegex(screen, r"beta\.mov +12\.0 MiB")
        first = self.offset("alpha.mp4")
        self.wait_for(lambda: self.offset("alpha.mp4") > first, what="progress")
        pane.keys("p")  # the first row is selected
        self.see(pane, r"alpha\.mp4 .*paused")
        time.sleep(0.5)
        held = self.offset("alpha.mp4")
        time.sleep(1.5)
        self.assertEqual(self.offset("alpha.mp4"), held, "no bytes while paused")
        pane.keys("r")
        self.see(pane, r"alpha\.mp4 .*uploading")
        self.wait_for(lambda: self.offset("alpha.mp4") > held, what="progress after resume")
        pane.keys("P")
        self.see(pane, r"alpha\.mp4 .*paused")
        self.see(pane, r"beta\.mov .*paused")
        time.sleep(0.5)
        held = (self.offset("alpha.mp4"), self.offset("beta.mov"))
        time.sleep(1.5)
        self.assertEqual((self.offset("alpha.mp4"), self.offset("beta.mov")), held)
        pane.keys("R")
        self.wait_for(lambda: self.offset("beta.mov") > held[1], what="beta resumes")

    def test_verify_workers_cap_and_details(self):
        (a,) = self.files(("done.mp4", 1000))
        pane = self.open("-j", "2", a)
        self.see(pane, r"done\.mp4 .*done")
        pane.keys("v")
        self.see(pane, r"verify done\.mp4: complete: offset = length = 1000")
        self.see(pane, r"workers 2 ")
        pane.keys("+", "+")
        self.see(pane, r"workers 4 ")
        pane.keys("-")
        self.see(pane, r"workers 3 ")
        self.see(pane, r"cap none")
        pane.keys("[")
        self.see(pane, r"cap 100 MiB/s")
        pane.keys("[", "[")
        self.see(pane, r"cap 20\.0 MiB/s")
        pane.keys("]")
        self.see(pane, r"cap 50\.0 MiB/s")
        pane.keys("Enter")
        screen = self.see(pane, r"path +" + re.escape(a))
        self.assertRegex(screen, r"verified +complete: offset = length = 1000")
        self.assertNotIn(TOKEN, screen)
        pane.keys("l")
        self.see(pane, r"Log")

    def test_a_pause_while_creating_makes_no_second_video(self):
        (a,) = self.files(("slowstart.mp4", 3000))
        self.sandbox.fault("create=timeout,for=2,times=1")  # the video is made, its answer takes 2 s
        pane = self.open(a)
        self.see(pane, r"slowstart\.mp4 .*creating")
        pane.keys("p")
        self.see(pane, r"slowstart\.mp4 .*paused", timeout=10)
        pane.keys("r")
        self.see(pane, r"slowstart\.mp4 .*done")
        made = [u["video"] for u in self.sandbox.uploads() if u["name"] == "slowstart.mp4" and not u["deleted"]]
        self.assertEqual(len(made), 1, f"videos on the account: {made}")

    def test_a_quit_while_vimeo_sits_on_a_create_says_a_video_may_exist(self):
        (a,) = self.files(("stuck.mp4", 3000))
        self.sandbox.fault("latency=20000,on=api,method=POST")  # the create's answer never comes in time
        pane = self.open(a, width=140)  # the message on one line
        self.see(pane, r"stuck\.mp4 .*creating")
        self.wait_for(lambda: self.sandbox.fault_hits(), timeout=30, what="the create to reach the sandbox")
        pane.keys("q")
        self.see(pane, r"Quit\?")
        pane.keys("y")
        self.assertEqual(self.exit_status(pane), 4)
        self.see(pane, r"vimeo-up: stuck\.mp4: stopped before Vimeo answered its create: a video may have been "
                       r"made; look in your Vimeo library")

    def test_details_call_a_note_a_note(self):
        (a,) = self.files(("twice.mp4", 1000))
        pane = self.open(a)
        self.see(pane, r"twice\.mp4 .*done")
        pane.keys("Enter")
        self.see(pane, r"error +-")
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 0)
        os.unlink(self.statusfile)
        os.unlink(self.pidfile)
        again = self.open(a, name="again")
        self.see(again, r"twice\.mp4 .*done")
        again.keys("Enter")
        screen = self.see(again, r"note +already uploaded as /videos/\d+")
        self.assertNotRegex(screen, r"error +already")

    def test_add_and_remove(self):
        slow, gone = self.files(("slow.mp4", 20 << 20), ("gone.mp4", 20 << 20))
        later = make_file(self.tmp, "later.mp4", 3000)
        pane = self.open("-r", "1M", "-j", "2", slow, gone)
        self.see(pane, r"gone\.mp4 .*uploading")
        pane.keys("a")
        self.see(pane, "Add file:")
        pane.keys(os.path.join(self.tmp, "lat"), "Tab")
        self.see(pane, r"Add file: .*later\.mp4")
        pane.keys("Enter")
        self.see(pane, r"later\.mp4")
        pane.keys("j", "d")
        self.see(pane, r"Remove gone\.mp4")
        pane.keys("y")
        self.see(pane, r"Also delete its video")
        pane.keys("y")
        self.wait_for(lambda: "gone.mp4" not in pane.screen(), what="the row to go")
        video = [u for u in self.sandbox.uploads() if u["name"] == "gone.mp4"][0]["video"]
        self.wait_for(lambda: self.sandbox.api("GET", video)[0] == 404, what="the video to be deleted")
        rows = json.loads(subprocess.run([VIMEO_UP, "list", "--json", "--state", self.state],
                                         capture_output=True, text=True).stdout)
        self.assertEqual([r["state"] for r in rows if r["file"] == gone], ["cancelled"],
                         "a removed upload is not resumed later")
        pane.keys("]", "]")  # no cap: let the rest finish quickly
        self.see(pane, r"later\.mp4 .*done", timeout=60)
        self.assertEqual(self.sandbox.upload_named("later.mp4")["sha256"], sha256_file(later))

    def test_resize_and_too_small(self):
        (a,) = self.files(("resize.mp4", 4 << 20))
        pane = self.open("-r", "1M", a)
        self.see(pane, r"resize\.mp4")
        for width, height in ((60, 20), (200, 50)):
            pane.resize(width, height)

            def redrawn():
                lines = pane.screen().rstrip("\n").split("\n")
                return (len(lines) == height and re.match(r"qQuit \?Help", lines[-1]) and
                        re.match(r" \d+/1 done", lines[0]) and lines)
            lines = self.wait_for(redrawn, what=f"a redraw at {width}x{height}")
            self.assertTrue(all(len(line) <= width for line in lines), (width, lines))
            self.assertEqual(sum("resize.mp4" in line for line in lines), 1, lines)
            self.assertEqual(sum("done" in line and "workers" in line for line in lines), 1, "one header")
        pane.resize(30, 6)
        self.see(pane, r"too small: 30x6")
        pane.resize(80, 24)
        self.see(pane, r"resize\.mp4")

    def stray_write(self, pane, text):
        """Write to the dashboard's terminal behind its back, as another process might."""
        with open(os.readlink(f"/proc/{self.pid}/fd/1"), "w") as tty:
            tty.write(text)
        self.see(pane, r"STRAY")

    def assert_whole(self, pane, width, height, name):
        """The screen is the dashboard and nothing else: header, one row, key bar."""
        def whole():
            lines = pane.screen().rstrip("\n").split("\n")
            return (len(lines) == height and re.match(r" \d+/1 done", lines[0]) and
                    re.match(r"qQuit \?Help", lines[-1]) and not any("STRAY" in line for line in lines) and
                    lines)
        try:
            lines = self.wait_for(whole, what=f"the whole dashboard at {width}x{height}")
        except AssertionError as failure:
            raise AssertionError(f"{failure}; the screen:\n{pane.screen()}") from None
        self.assertEqual(sum(name in line for line in lines), 1, lines)

    def test_ctrl_l_and_resize_redraw_everything(self):
        (a,) = self.files(("redraw.mp4", 100))
        pane = self.open(a)
        self.see(pane, r"redraw\.mp4 .*done")
        self.stray_write(pane, "STRAY one\r\nSTRAY two\r\n")
        pane.keys("C-l")
        self.assert_whole(pane, 80, 24, "redraw.mp4")
        self.stray_write(pane, "STRAY three\r\n")
        pane.resize(90, 30)
        self.assert_whole(pane, 90, 30, "redraw.mp4")

    def test_all_done_says_q_quits(self):
        a, b = self.files(("first.mp4", 1000), ("second.mp4", 2000))
        pane = self.open(a, b)
        screen = self.see(pane, r"all done — q quits")
        self.assertEqual(len(re.findall(r"\.mp4 .* done", screen)), 2, screen)
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 0)

    def test_small_terminal_keeps_what_matters(self):
        names = [f"clip-shot-{n:04d}.mov" for n in range(10, 70, 10)]
        paths = self.files(*((name, 8 << 20) for name in names))
        pane = self.open("-r", "1M", "-c", "1M", "-j", "2", *paths, width=60, height=15)
        # Done of all, the rate and the time left, whatever else gives way.
        screen = self.see(pane, r"(?m)^ \d/6 done .*[KM]iB/s  ETA (\d+m)?\d+s", timeout=20)
        for name in names[:4]:
            self.assertIn(name + " ", screen, "each name whole")
        # Log and details take the table's room; closing them gives it back.
        pane.keys("l", "Enter", *["j"] * 5)
        self.see(pane, r"path +/.*clip-shot-0060\.mov")
        pane.keys("l", "Enter")

        def table():
            lines = pane.screen().split("\n")
            rows = [line for line in lines if line.startswith("clip-shot-")]
            return len(rows) == 6 and rows
        rows = self.wait_for(table, what="all 6 rows after closing log and details")
        self.assertEqual([row.split()[0] for row in rows], names)
        # The "too small" message is never cut: the longest form that fits.
        for width, height, message in ((30, 8, "too small: 30x8"), (20, 4, "too small: 20x4"), (9, 2, "too small"),
                                       (49, 20, "terminal too small: 49x20, need 50x10")):
            pane.resize(width, height)
            self.see(pane, "^" + re.escape(message) + " *\n")

    def test_percent_counts_bytes_sent(self):
        # One PATCH for the whole file: nothing is acknowledged until the end.
        (a,) = self.files(("one-patch.mp4", 8 << 20))
        pane = self.open("-r", "1M", "-c", "16M", a)
        self.wait_for(lambda: self.offset("one-patch.mp4") > (2 << 20), what="2 MiB sent")
        self.see(pane, r"one-patch\.mp4 +8\.0 MiB \S+ +([2-9]\d)% .*uploading", timeout=3)
        # The header counts the same bytes: not "0 B/8.0 MiB" until the end.
        self.see(pane, r"(?m)^ 0/1 done .*  [2-7]\.\d MiB/8\.0 MiB  ", timeout=3)

    def test_overall_rate_and_eta_are_steady(self):
        # Many small files at a capped rate: files end all the time, bytes never stop.
        paths = self.files(*((f"small-{i:02d}.mp4", 300 << 10) for i in range(60)))
        pane = self.open("-r", "2M", "-j", "4", *paths, width=100)
        # Until the first file ends and the next have sent a byte, nothing moves:
        # "0 B/s" is then the truth (a slow build, e.g. under TSan, shows it).
        self.see(pane, r"(?m)^ [1-9]\d*/60 done .*  [1-9][\d.]* (B|KiB|MiB)/s  ETA \d")
        started = time.monotonic()
        rates = []
        while time.monotonic() < started + 5:
            header = pane.screen().split("\n")[0]
            found = head_rate(header)
            self.assertTrue(found, header)
            self.assertNotEqual(found[1], "-", header)
            self.assertNotEqual(found[0], 0, header)
            if time.monotonic() > started + 1:  # past the first second's burst
                rates.append(found[0])
            time.sleep(0.25)
        self.assertLess(max(rates) / min(rates), 1.3, rates)

    def test_full_log_scrolls(self):
        paths = self.files(*((f"log-{i:02d}.mp4", 1000) for i in range(12)))
        pane = self.open(*paths)
        self.see(pane, r"all done")
        pane.keys("L")
        screen = self.see(pane, r"Log: ")
        first = re.compile(r"\d\d:\d\d:\d\d created  log-\d\d\.mp4: /videos/100000000\n")
        self.assertNotRegex(screen, first, "the oldest lines are above")
        self.assertRegex(screen, r"done +log-\d\d\.mp4")
        pane.keys("g")  # the oldest, as in less
        self.see(pane, first.pattern)
        pane.keys("G")
        self.wait_for(lambda: not first.search(pane.screen()), what="the newest lines again")
        pane.keys("Escape")
        self.see(pane, r"NAME +SIZE")

    def test_follow_keeps_the_active_upload_in_view(self):
        names = [f"follow-{i:02d}.mp4" for i in range(24)]
        paths = self.files(*((name, 200 << 10) for name in names))
        pane = self.open("-r", "1M", "-j", "1", *paths, height=12)

        def active_row_shown():
            screen = pane.screen()
            done = re.match(r" (\d+)/24 done", screen)
            return done and int(done.group(1)) >= 12 and re.search(r"follow-(1[3-9]|2\d)\.mp4 .*(uploading|creating|verifying)", screen)
        self.wait_for(active_row_shown, timeout=20, what=f"the active upload, past the first screen, in view")

    def test_sort_and_filter(self):
        paths = self.files(("charlie.mp4", 3000), ("alpha.mov", 1000), ("bravo.mp4", 2000))
        pane = self.open(*paths)
        self.see(pane, r"all done")

        def order():
            return [line.split()[0] for line in pane.screen().split("\n") if re.match(r"\w+\.mp4|\w+\.mov", line)]
        self.assertEqual(order(), ["charlie.mp4", "alpha.mov", "bravo.mp4"])
        pane.keys("s")
        self.see(pane, r"sorted by state")
        pane.keys("s")
        self.see(pane, r"sorted by name")
        self.wait_for(lambda: order() == ["alpha.mov", "bravo.mp4", "charlie.mp4"], what="rows by name")
        pane.keys("s")
        self.see(pane, r"sorted by progress")
        pane.keys("s")
        self.see(pane, r"in queue order")
        self.wait_for(lambda: order() == ["charlie.mp4", "alpha.mov", "bravo.mp4"], what="rows in queue order")
        pane.keys("/")
        self.see(pane, r"Filter:")
        pane.keys("MP4", "Enter")
        self.wait_for(lambda: order() == ["charlie.mp4", "bravo.mp4"], what="only the .mp4 rows")
        self.assertRegex(pane.screen(), r"(?m)^ 3/3 done", "the header still counts every file")
        self.see(pane, r"filter: MP4 \(2 of 3\)")
        pane.keys("/", "Enter")
        self.wait_for(lambda: len(order()) == 3, what="every row again")

    def test_quit_asks_then_resume_finishes(self):
        (a,) = self.files(("quit.mp4", 16 << 20))
        pane = self.open("-r", "2M", "-c", "1M", a)
        self.wait_for(lambda: self.offset("quit.mp4") > (2 << 20), what="progress")
        pane.keys("q")
        self.see(pane, r"Quit\? Progress is saved")
        pane.keys("n")
        self.wait_for(lambda: "Quit?" not in pane.screen(), what="the question to go")
        pane.keys("q")
        self.see(pane, r"Quit\?")
        pane.keys("y")
        # Not 0: `vimeo-up *.mov && rm *.mov` must not delete what never arrived.
        self.assertEqual(self.exit_status(pane), 4)
        self.see(pane, r"vimeo-up: uploads unfinished, state saved")
        proc = subprocess.run([VIMEO_UP, "list", "--json", "--state", self.state], capture_output=True, text=True)
        self.assertGreater(json.loads(proc.stdout)[0]["acked"], 0)
        proc = subprocess.run([VIMEO_UP, "resume", "--no-tui", "--api", self.sandbox.url, "--state", self.state],
                              capture_output=True, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.sandbox.upload_named("quit.mp4")["sha256"], sha256_file(a))

    def test_sigint_is_named_and_exits_130(self):
        (a,) = self.files(("interrupt.mp4", 16 << 20))
        pane = self.open("-r", "2M", "-c", "1M", a)
        self.see(pane, r"interrupt\.mp4 .*uploading")
        os.kill(self.pid, signal.SIGINT)
        self.assertEqual(self.exit_status(pane), 130)
        self.see(pane, r"vimeo-up: stopping on SIGINT; progress is saved")

    def test_hangup_ends_within_half_a_second_and_rerun_resumes(self):
        (a,) = self.files(("hangup.mp4", 16 << 20))
        pane = self.open("-r", "2M", "-c", "1M", a)
        self.wait_for(lambda: self.offset("hangup.mp4") > (1 << 20), what="progress")
        pane.kill()
        started = time.monotonic()
        self.wait_for(lambda: not alive(self.pid), timeout=2.5, what="vimeo-up to end after SIGHUP")
        self.assertLess(time.monotonic() - started, 0.5)
        proc = subprocess.run([VIMEO_UP, "--no-tui", "--api", self.sandbox.url, "--state", self.state, a],
                              capture_output=True, text=True, env=dict(os.environ, VIMEO_TOKEN=TOKEN), timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        up = self.sandbox.upload_named("hangup.mp4")
        self.assertEqual(up["sha256"], sha256_file(a))
        self.assertLessEqual(up["received"] - up["size"], 8 << 20)

    def test_ctrl_z_suspends_and_fg_restores(self):
        (a,) = self.files(("suspend.mp4", 6 << 20))
        # Job control needs an interactive shell in the pane.
        shell = f"echo $$ > {shlex.quote(self.pidfile)} && PS1='shell$ ' exec bash --norc --noprofile -i"
        pane = Tmux("suspend", shell, env=PANE_ENV)
        self.panes.append(pane)
        self.see(pane, r"shell\$")
        pane.keys(self.command("-r", "2M", "-c", "1M", a), "Enter")
        self.see(pane, r"suspend\.mp4 .*uploading")
        pid = self.child_of_shell()
        pane.keys("C-z")
        screen = self.see(pane, r"Stopped")
        self.assertNotIn("uploading", screen, "the dashboard is put away")
        self.wait_for(lambda: process_state(pid) == "T", what="vimeo-up to stop")
        pane.keys("fg", "Enter")
        self.see(pane, r"suspend\.mp4 .*(uploading|done)")
        self.see(pane, r"suspend\.mp4 .*done", timeout=60)
        self.assertEqual(self.sandbox.upload_named("suspend.mp4")["sha256"], sha256_file(a))
        pane.keys("q")
        self.see(pane, r"1 verified, 0 failed\nshell\$")
        pane.keys("echo status=$?", "Enter")
        self.see(pane, r"status=0")

    def test_idle_when_done_and_escaped_names(self):
        (a,) = self.files(("evil\x1b[2Jname.mp4", 100))
        stats = os.path.join(self.tmp, "frames.jsonl")
        pane = self.open(a, width=120, env={"VIMEO_UP_FRAME_STATS": stats})
        screen = self.see(pane, r"evil\\x1b\[2Jname\.mp4 .*done")
        self.assertNotIn("\x1b", screen)
        time.sleep(0.5)
        before = cpu_seconds(self.pid)
        time.sleep(5)
        self.assertLess(cpu_seconds(self.pid) - before, 0.05)
        pane.keys("q")
        self.assertEqual(self.exit_status(pane), 0)
        with open(stats) as f:
            frames = json.loads(f.read())
        self.assertEqual(frames["rows"], 1)
        self.assertGreaterEqual(frames["frames"], 1)
        # The first frame is reported on its own, out of the maximum of the others.
        self.assertLessEqual(frames["cpu_ms_mean"], max(frames["cpu_ms_first"], frames["cpu_ms_max"]))
        self.assertGreater(frames["cpu_ms_first"], 0)

    def test_monochrome_and_ascii(self):
        (a,) = self.files(("plain.mp4", 100))
        pane = self.open(a, env={"NO_COLOR": "1", "LANG": "C", "LC_ALL": "C"})
        screen = self.see(pane, r"plain\.mp4 .*done")
        self.assertRegex(screen, r"#{5,}")
        self.assertNotIn("\u2588", screen)

    def test_non_utf8_locale_escapes_each_byte_and_keeps_columns(self):
        names = ("caf\u00e9 \u2603.mp4", "plain.mp4", "\u6771\u4eac.mov")
        paths = self.files(*((name, 1000 + i) for i, name in enumerate(names)))
        pane = self.open(*paths, width=140, env={"LANG": "C", "LC_ALL": "C"})
        screen = self.see(pane, r"all done")
        shown = {"caf\u00e9 \u2603.mp4": r"caf\xc3\xa9 \xe2\x98\x83.mp4", "plain.mp4": "plain.mp4",
                 "\u6771\u4eac.mov": r"\xe6\x9d\xb1\xe4\xba\xac.mov"}
        rows = [line for line in screen.split("\n") if re.search(r"\d B .* done", line)]
        self.assertEqual(sorted(row.split("  ")[0].strip() for row in rows), sorted(shown.values()), screen)
        # Every column where the header says: the SIZE column ends at the same cell.
        header = [line for line in screen.split("\n") if line.startswith("NAME")][0]
        size_end = header.index("SIZE") + len("SIZE")
        for row in rows:
            self.assertRegex(row[:size_end], r"\d B$", row)
            self.assertEqual(row[header.index("STATE"):].split()[0], "done", row)
            self.assertTrue(row.isascii(), row)
        pane.keys("l")
        escaped = "|".join(re.escape(name) for name in shown.values() if name != "plain.mp4")
        log = self.see(pane, rf"\d\d (created|verified|done) +({escaped}): ")
        self.assertTrue(log.isascii(), log)
        # Home: the first row, whichever upload the selection followed last.
        pane.keys("Home", "Enter")
        details = self.see(pane, r"path +/.*caf\\xc3\\xa9 ")
        self.assertTrue(details.isascii(), details)

    def test_help_shows_every_key_on_a_24_line_terminal(self):
        (a,) = self.files(("keys.mp4", 100))
        pane = self.open(a)
        self.see(pane, r"keys\.mp4")
        pane.keys("?")
        screen = self.see(pane, r"any key closes this help")
        with open(os.path.join(ROOT, "man", "vimeo-up.1")) as f:
            section = f.read().split(".SH KEYS", 1)[1].split(".SH ", 1)[0]
        for key in re.findall(r"^\.B (.+)$", section, re.M):
            key = key.replace("\\-", "-").replace('"', "")
            self.assertRegex(screen, r"(^|  )" + re.escape(key) + r" +\w", key)

    def test_help_overlay_matches_the_man_page(self):
        (a,) = self.files(("help.mp4", 100))
        pane = self.open(a, height=40)
        self.see(pane, r"help\.mp4")
        pane.keys("?")
        # The overlay's last line: a capture taken while tmux is still drawing it holds half of it.
        screen = self.see(pane, r"any key closes this help")
        with open(os.path.join(ROOT, "man", "vimeo-up.1")) as f:
            man = f.read()
        section = man.split(".SH KEYS", 1)[1].split(".SH ", 1)[0]
        entries = re.findall(r"^\.TP\n\.B (.+)\n(.+)$", section, re.M)
        self.assertGreater(len(entries), 15)
        for key, text in entries:
            key = key.replace("\\-", "-").replace('"', "")
            self.assertRegex(screen, re.escape(key) + r" +" + re.escape(text.replace("\\-", "-")), key)
        self.assertGreaterEqual(len(entries), 21)
