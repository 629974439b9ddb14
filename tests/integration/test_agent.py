"""The background agent: vimeo-up add/status/wait/stop, one agent per state
directory, its socket's modes and peer check, clients that misbehave, and
a kill -9 that loses nothing."""
import json
import os
import signal
import socket
import stat
import subprocess
import time
import unittest

from harness import TOKEN, VIMEO_UP, SandboxTest, make_file, many_tiny_files, sha256_file


def alive(pid):
    """Running: a zombie has ended (its lock and journal rows are free)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Client:
    """A raw protocol client, as a script with socat would be."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self.greeting = json.loads(self.file.readline())

    def send(self, obj):
        self.sock.sendall((json.dumps(obj) + "\n").encode())

    def line(self):
        raw = self.file.readline()
        return json.loads(raw) if raw else None

    def ask(self, obj):
        self.send(obj)
        return self.line()

    def close(self):
        self.file.close()
        self.sock.close()


class AgentTest(SandboxTest):
    def setUp(self):
        super().setUp()
        self.runtime = os.path.join(self.tmp, "run")
        os.mkdir(self.runtime, 0o700)
        self.state = os.path.join(self.tmp, "state")
        self.env = dict(os.environ, VIMEO_TOKEN=TOKEN, XDG_RUNTIME_DIR=self.runtime)
        # The agent's stderr is /dev/null: a sanitizer build reports to files instead.
        self.san = os.path.join(self.tmp, "san")
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
            self.env[name] = ":".join(filter(None, [os.environ.get(name), f"log_path={self.san}"]))
        self.pids = []

    def tearDown(self):
        try:
            self.vimeo_up("stop")
            for pid in self.pids:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            reports = [name for name in os.listdir(self.tmp) if name.startswith("san.")]
            for name in reports:
                with open(os.path.join(self.tmp, name)) as f:
                    print(f.read()[-3000:])
            self.assertEqual(reports, [], "sanitizer reports")
        finally:
            super().tearDown()

    def vimeo_up(self, *args, timeout=60):
        return subprocess.run([VIMEO_UP, "--state", self.state, *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout)

    def add(self, *args):
        proc = self.vimeo_up("add", "--api", self.sandbox.url, *args)
        if os.path.exists(self.lock_path()):
            self.pids.append(self.agent_pid())
        return proc

    def lock_path(self):
        return os.path.join(self.state, "agent.lock")

    def agent_pid(self):
        with open(self.lock_path()) as f:
            return int(f.read())

    def socket_path(self):
        names = os.listdir(os.path.join(self.runtime, "vimeo-up"))
        self.assertEqual(len(names), 1, names)
        return os.path.join(self.runtime, "vimeo-up", names[0])

    def log(self):
        with open(os.path.join(self.state, "agent.log")) as f:
            return f.read()

    def received(self):
        return sum(u["received"] for u in self.sandbox.uploads())

    def assert_still_uploading(self, seconds=2):
        """The sandbox's received bytes keep growing."""
        before = self.received()
        self.wait_for(lambda: self.received() > before, timeout=10, what="bytes arriving")
        middle = self.received()
        self.wait_for(lambda: self.received() > middle, timeout=seconds + 10, what="more bytes arriving")


class Commands(AgentTest):
    def test_add_status_wait_stop(self):
        a = make_file(self.tmp, "a.mp4", 3 << 20, seed=1)
        b = make_file(self.tmp, "b.mp4", 2 << 20, seed=2)
        started = time.monotonic()
        proc = self.add("-c", "1M", "-r", "2M", a, b)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertLess(time.monotonic() - started, 5, "add waited for the uploads")
        self.assertIn("2 queued", proc.stdout)
        pid = self.agent_pid()
        self.assertTrue(alive(pid))
        status = self.vimeo_up("status", "--json")
        self.assertEqual(status.returncode, 0, status.stderr)
        table = json.loads(status.stdout)
        self.assertEqual(sorted(r["name"] for r in table["rows"]), ["a.mp4", "b.mp4"])
        self.assertEqual(table["totals"]["files"], 2)
        plain = self.vimeo_up("status")
        self.assertIn("a.mp4", plain.stdout)
        done = self.vimeo_up("wait")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("2 verified, 0 failed", done.stdout)
        for path in (a, b):
            self.assertEqual(self.sandbox.upload_named(os.path.basename(path))["sha256"], sha256_file(path))
        started = time.monotonic()
        stop = self.vimeo_up("stop")
        self.assertEqual(stop.returncode, 0, stop.stderr)
        # Not until init reaps the agent: 2 s here, never where no init reaps.
        self.assertLess(time.monotonic() - started, 1, "stop waited for the zombie to be reaped")
        self.assertFalse(alive(pid), "the agent outlived stop")
        self.assertEqual(os.listdir(os.path.join(self.runtime, "vimeo-up")), [], "the socket was left behind")
        self.assertEqual(self.vimeo_up("status").returncode, 3)

    def test_add_sends_many_files_in_requests_under_the_line_limit(self):
        folder = os.path.join(self.tmp, "many")
        os.mkdir(folder)
        names = [f"{'long-name-' * 15}{i:05}.mp4" for i in range(1500)]  # 1500 x 160 bytes: 240 KB of paths
        for name in names:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(b"x")
        proc = self.add("-r", "1K", *[os.path.join(folder, n) for n in names])
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        self.assertIn("1500 queued", proc.stdout)
        table = json.loads(self.vimeo_up("status", "--json").stdout)
        self.assertEqual(table["totals"]["files"], 1500)

    def test_a_running_agent_takes_each_adds_name_privacy_and_tags(self):
        busy = make_file(self.tmp, "busy.mp4", 3 << 20, seed=1)
        self.assertEqual(self.add("-c", "1M", "-r", "1M", busy).returncode, 0)  # the agent, with the defaults
        secret = make_file(self.tmp, "secret.mp4", 1000, seed=2)
        proc = self.add("--privacy", "nobody", "--name", "Secret {stem}", "--tag", "t1", secret)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # What an add cannot carry is refused, never dropped in silence.
        other = make_file(self.tmp, "other.mp4", 1000, seed=3)
        proc = self.add("--folder", "/users/1/projects/2", other)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(proc.stderr, f"vimeo-up: --folder: the agent running for {self.state} keeps its own; "
                                      "'vimeo-up stop' first, or --foreground\n")
        self.assertEqual(self.vimeo_up("wait").returncode, 0)
        status, _, data = self.sandbox.api("GET", self.sandbox.upload_named("Secret secret")["video"])
        self.assertEqual(status, 200)
        video = json.loads(data)
        self.assertEqual(video["privacy"]["view"], "nobody")
        self.assertEqual([t["name"] for t in video["tags"]], ["t1"])
        self.assertEqual(len(self.sandbox.uploads()), 2, "other.mp4 was not queued")

    def test_the_agent_runs_the_hook_and_keeps_the_logs_of_the_add_that_started_it(self):
        hooks = os.path.join(self.tmp, "hooks")
        os.mkdir(hooks)
        with open(os.path.join(self.tmp, "hook.sh"), "w") as f:
            f.write(f'#!/bin/sh\necho "$VIMEO_UP_FILE $PWD" > "{hooks}/$$"\n')
        os.chmod(os.path.join(self.tmp, "hook.sh"), 0o755)
        events = os.path.join(self.tmp, "events.log")
        first = make_file(self.tmp, "first.mp4", 1000, seed=1)
        # A relative program: the agent runs it from /, and still finds it.
        proc = subprocess.run([VIMEO_UP, "--state", self.state, "add", "--api", self.sandbox.url, "--on-done",
                               "./hook.sh", "--log-file", events, "-v", first], capture_output=True, text=True,
                              env=self.env, cwd=self.tmp, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.pids.append(self.agent_pid())
        self.assertEqual(self.vimeo_up("wait").returncode, 0)

        def runs():
            found = []
            for name in os.listdir(hooks):
                with open(os.path.join(hooks, name)) as f:
                    found.append(f.read())
            return found if found and all(r.endswith("\n") for r in found) else None
        self.assertEqual(self.wait_for(runs, what="the hook's run"), [f"{first} /\n"])
        with open(events) as f:
            logged = f.read()
        self.assertRegex(logged, r"Z done +first\.mp4  /videos/\d+\n")
        self.assertRegex(logged, r"Z request +PATCH http://\S+ 204 ")
        self.assertRegex(self.log(), r"Z request +PATCH http://\S+ 204 ")
        # The agent now running keeps them: another add's are refused, never dropped.
        second = make_file(self.tmp, "second.mp4", 1000, seed=2)
        for option in (["--on-done", "/bin/true"], ["--log-file", events], ["-v"]):
            proc = self.add(*option, second)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertEqual(proc.stderr, f"vimeo-up: {option[0]}: the agent running for {self.state} keeps its "
                                          "own; 'vimeo-up stop' first, or --foreground\n")
        self.assertEqual(len(self.sandbox.uploads()), 1, "second.mp4 was not queued")

    def test_resume_beside_a_busy_agent_is_not_nothing_to_resume(self):
        path = make_file(self.tmp, "slow.mp4", 3 << 20)
        self.assertEqual(self.add("-c", "1M", "-r", "512K", path).returncode, 0)
        self.wait_for(lambda: self.received() > 0, what="the agent uploading")
        proc = self.vimeo_up("resume", "--no-tui", "--api", self.sandbox.url)
        # Not 0: 'vimeo-up resume && rm slow.mp4' must not delete a file still on its way.
        self.assertEqual(proc.returncode, 4, proc.stdout + proc.stderr)
        self.assertEqual(proc.stderr, f"vimeo-up: 1 unfinished upload in {self.state} belongs to another vimeo-up "
                                      "('vimeo-up status' shows the agent's)\n")

    def test_a_folder_from_the_config_file_is_the_agents_too(self):
        # The agent read the same file: a later add is not refused for it.
        xdg = os.path.join(self.tmp, "xdg")
        os.makedirs(os.path.join(xdg, "vimeo-up"))
        with open(os.path.join(xdg, "vimeo-up", "config"), "w") as f:
            f.write("folder = /users/1/projects/7\n")
        self.env["XDG_CONFIG_HOME"] = xdg
        busy = make_file(self.tmp, "busy.mp4", 3 << 20, seed=1)
        self.assertEqual(self.add("-c", "1M", "-r", "1M", busy).returncode, 0)
        later = make_file(self.tmp, "later.mp4", 1000, seed=2)
        proc = self.add(later)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.vimeo_up("wait").returncode, 0)
        self.assertEqual(self.sandbox.upload_named("later.mp4")["folder"], "/users/1/projects/7")

    def test_add_takes_a_tree_and_a_list_as_an_upload_does(self):
        tree = os.path.join(self.tmp, "tree")
        os.makedirs(os.path.join(tree, "day1"))
        make_file(os.path.join(tree, "day1"), "a.mov", 1000, seed=1)
        make_file(tree, "notes.txt", 10, seed=2)
        listed = make_file(self.tmp, "listed.mp4", 1000, seed=3)
        proc = self.add("-R", "--include", "*.mov", tree)
        self.assertEqual((proc.returncode, proc.stdout.split(";")[0]), (0, "1 queued in the agent"), proc.stderr)
        proc = subprocess.run([VIMEO_UP, "--state", self.state, "add", "--files-from", "-"], input=listed + "\n",
                              capture_output=True, text=True, env=self.env, timeout=60)
        self.assertEqual((proc.returncode, proc.stdout.split(";")[0]), (0, "1 queued in the agent"), proc.stderr)
        self.assertEqual(self.vimeo_up("wait").returncode, 0)
        self.assertEqual(sorted(u["name"] for u in self.sandbox.uploads()), ["a.mov", "listed.mp4"])
        # Files the agent has, or that are uploaded already, are not counted as queued.
        fresh = make_file(self.tmp, "fresh.mp4", 1000, seed=4)
        proc = self.add("-r", "1K", listed, fresh, fresh)
        self.assertEqual((proc.returncode, proc.stdout.split(";")[0]),
                         (0, "1 queued in the agent, 2 already queued or uploaded"), proc.stderr)
        self.vimeo_up("stop")
        proc = self.add(listed)  # a new agent: the journal has it done
        self.assertEqual((proc.returncode, proc.stdout.split(";")[0]),
                         (0, "0 queued in the agent, 1 already queued or uploaded"), proc.stderr)
        proc = self.vimeo_up("add", "--manifest", listed)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--manifest goes with an upload in this process", proc.stderr)

    def test_add_refuses_a_missing_file_and_queues_the_rest(self):
        a = make_file(self.tmp, "a.mp4", 1 << 20)
        proc = self.add(a, os.path.join(self.tmp, "missing.mp4"))
        self.assertEqual(proc.returncode, 1)
        self.assertIn("missing.mp4", proc.stderr)
        self.assertIn("1 queued", proc.stdout)
        # The refused file has its failed row, with the reason, as in-process:
        # the table shows it and wait counts it (exit 1, as for an upload).
        states = {r["name"]: r["state"] for r in json.loads(self.vimeo_up("status", "--json").stdout)["rows"]}
        self.assertEqual((sorted(states), states["missing.mp4"]), (["a.mp4", "missing.mp4"], "failed"))
        self.assertRegex(self.vimeo_up("status").stdout, r"(?m) failed .* missing\.mp4: \S+missing\.mp4: No such file")
        done = self.vimeo_up("wait")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("1 verified, 1 failed", done.stdout)

    def test_wait_exits_1_on_a_failure(self):
        self.sandbox.fault("expire=*,code=404")
        a = make_file(self.tmp, "a.mp4", 1 << 20)
        self.assertEqual(self.add(a).returncode, 0)
        done = self.vimeo_up("wait")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("1 failed", done.stdout)

    def test_wait_exits_4_when_uploads_are_paused(self):
        a = make_file(self.tmp, "a.mp4", 8 << 20)
        self.assertEqual(self.add("-r", "1M", "-c", "1M", a).returncode, 0)
        client = Client(self.socket_path())
        self.assertEqual(client.ask({"cmd": "pause_all"}), {"ok": True})
        done = self.vimeo_up("wait")
        self.assertEqual(done.returncode, 4, done.stdout + done.stderr)
        self.assertEqual(done.stderr, "vimeo-up: uploads unfinished (1 of 1), paused in the agent; 'vimeo-up attach' "
                                      "and R resumes them\n")
        client.close()

    def test_a_waiting_client_hears_the_stop(self):
        a = make_file(self.tmp, "a.mp4", 8 << 20)
        self.assertEqual(self.add("-r", "1M", "-c", "1M", a).returncode, 0)
        client = Client(self.socket_path())
        client.send({"cmd": "wait"})
        # Answered in order on one connection: once this comes, the wait is in.
        self.assertFalse(client.ask({"cmd": "settled"})["settled"])
        self.assertEqual(self.vimeo_up("stop").returncode, 0)
        answer = client.line()
        self.assertEqual((answer["settled"], answer["unfinished"], answer["stopping"]), (False, 1, True), answer)
        client.close()

    def test_wait_across_a_stop_says_the_agent_stopped(self):
        a = make_file(self.tmp, "a.mp4", 8 << 20)
        self.assertEqual(self.add("-r", "1M", "-c", "1M", a).returncode, 0)
        # Its upload connection open, the next descriptor is the wait's.
        self.wait_for(lambda: self.received() > 0, what="the upload under way")
        descriptors = lambda: len(os.listdir(f"/proc/{self.agent_pid()}/fd"))
        before = descriptors()
        waiting = subprocess.Popen([VIMEO_UP, "--state", self.state, "wait"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=self.env)
        self.wait_for(lambda: descriptors() > before, what="the wait's connection")
        self.assertEqual(self.vimeo_up("stop").returncode, 0)
        out, err = waiting.communicate(timeout=30)
        self.assertEqual(waiting.returncode, 4, out + err)
        self.assertEqual(err, "vimeo-up: the agent stopped before its uploads settled (1 of 1 unfinished); "
                              "'vimeo-up resume' continues\n")

    def test_json_attach_streams_the_agents_events(self):
        a = make_file(self.tmp, "a.mp4", 2 << 20)
        self.assertEqual(self.add("-r", "2M", "-c", "1M", a).returncode, 0)
        proc = self.vimeo_up("--json", "attach")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        events = [json.loads(line) for line in proc.stdout.splitlines()]
        self.assertIn("done", [e["event"] for e in events])
        done = next(e for e in events if e["event"] == "done")
        self.assertEqual(done["file"], a)
        self.assertTrue(done["video"].startswith("/videos/"))

    def attach_behind(self, prefix, read, *faults):
        """500 files (under the sandbox's 600 API calls a minute) through
        an agent whose `attach --json` reader is slower than the uploads:
        read(attach) takes the attach process's output. The agent drops its events
        and later sends the whole table; each file's "done" must still
        come, and once."""
        listing = many_tiny_files(self, 500, prefix)
        with open(listing) as f:
            files = set(f.read().split())
        self.sandbox.fault("latency=1500,on=api,method=POST,times=4")  # time to attach before any ends
        for fault in faults:
            self.sandbox.fault(fault)
        self.assertEqual(self.add("-j", "4", "--files-from", listing).returncode, 0)
        attach = subprocess.Popen([VIMEO_UP, "--state", self.state, "--json", "attach"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=self.env)
        self.addCleanup(attach.kill)
        out = read(attach)
        self.assertEqual(attach.wait(timeout=60), 0, attach.stderr.read())
        self.assertIn("fell behind", self.log())  # the case under test happened
        done = [e["file"] for e in map(json.loads, out.splitlines()) if e["event"] == "done"]
        self.assertEqual(len(done), len(set(done)), "a file's done came twice")
        self.assertEqual(set(done), files, f"{len(files - set(done))} files without their done")

    def test_json_attach_unread_until_the_end_still_hears_every_outcome(self):
        def read(attach):
            # Stopped once it hears the first event, so that it reads
            # nothing until every file ended: left merely unread, a slow
            # build's attach could take it all in and never fall behind.
            first = attach.stdout.readline()
            attach.send_signal(signal.SIGSTOP)
            self.assertEqual(self.vimeo_up("wait", timeout=120).returncode, 0)
            attach.send_signal(signal.SIGCONT)
            return first + attach.stdout.read()
        self.attach_behind("late", read)

    def test_json_attach_read_slowly_hears_every_outcome_once(self):
        # Behind, caught up and behind again while jobs end: a table and
        # the events it overtook must not both tell of one ending.
        def read(attach):
            # Unread until it is behind (a machine under load may keep
            # up with a slow reader), then slowly, while jobs go on ending.
            self.wait_for(lambda: "fell behind" in self.log(), timeout=60, what="attach to fall behind")
            lines = []
            for line in attach.stdout:
                lines.append(line)
                time.sleep(0.001)
            return "".join(lines)
        self.attach_behind("slow", read, "latency=10,on=upload")  # jobs end over seconds, not one

    def test_a_stop_while_vimeo_sits_on_a_create_is_in_the_log(self):
        a = make_file(self.tmp, "stuck.mp4", 1000)
        self.sandbox.fault("latency=20000,on=api,method=POST")  # the create's answer never comes in time
        self.assertEqual(self.add(a).returncode, 0)
        self.wait_for(lambda: self.sandbox.fault_hits(), timeout=30, what="the create to reach the sandbox")
        self.assertEqual(self.vimeo_up("stop").returncode, 0)
        self.assertRegex(self.log(), r"stuck\.mp4.*stopped before Vimeo answered its create: a video may have "
                                     r"been made; look in your Vimeo library")

    def test_attach_without_an_agent(self):
        proc = self.vimeo_up("attach")
        self.assertEqual(proc.returncode, 3)
        self.assertIn("no agent runs for", proc.stderr)

    def test_status_wait_stop_without_an_agent(self):
        for command in ("status", "wait", "stop"):
            proc = self.vimeo_up(command)
            self.assertEqual(proc.returncode, 3, command)
            self.assertIn("no agent runs for", proc.stderr)

    def test_idle_exit(self):
        a = make_file(self.tmp, "a.mp4", 1 << 20)
        self.assertEqual(self.add("--idle-exit", "1", a).returncode, 0)
        pid = self.agent_pid()
        self.assertEqual(self.vimeo_up("wait").returncode, 0)
        self.wait_for(lambda: not alive(pid), timeout=15, what="the idle agent to exit")
        self.assertIn("nothing to do and no client for 1 s; exiting", self.log())

    def test_no_idle_exit_while_a_client_is_attached(self):
        a = make_file(self.tmp, "a.mp4", 1 << 20)
        self.assertEqual(self.add("--idle-exit", "1", a).returncode, 0)
        pid = self.agent_pid()
        client = Client(self.socket_path())
        self.assertEqual(self.vimeo_up("wait").returncode, 0)
        time.sleep(2.5)  # the idle time passes twice over: a client attached keeps it
        self.assertTrue(alive(pid))
        client.close()
        self.wait_for(lambda: not alive(pid), timeout=15, what="the agent to exit once alone")

    def test_single_instance(self):
        procs = [subprocess.Popen([VIMEO_UP, "--state", self.state, "agent", "--api", self.sandbox.url],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
                 for _ in range(3)]
        results = [p.communicate(timeout=30) for p in procs]
        self.assertEqual([p.returncode for p in procs], [0, 0, 0], results)
        self.assertEqual(sum("already runs" in err for _, err in results), 2, results)
        pid = self.agent_pid()
        self.pids.append(pid)
        again = self.vimeo_up("agent", "--api", self.sandbox.url)
        self.assertIn("an agent already runs for", again.stderr)
        self.assertEqual(self.agent_pid(), pid)
        self.assertEqual(self.log().count("started (pid"), 1)

    def test_the_token_is_not_in_argv_nor_the_log(self):
        a = make_file(self.tmp, "a.mp4", 1 << 20)
        self.assertEqual(self.add(a).returncode, 0)
        with open(f"/proc/{self.agent_pid()}/cmdline", "rb") as f:
            self.assertNotIn(TOKEN.encode(), f.read())
        self.assertEqual(self.vimeo_up("wait").returncode, 0)
        self.assertNotIn(TOKEN, self.log())


class Socket(AgentTest):
    def test_socket_and_directory_modes(self):
        self.assertEqual(self.add(make_file(self.tmp, "a.mp4", 1 << 20)).returncode, 0)
        directory = os.path.join(self.runtime, "vimeo-up")
        st = os.lstat(directory)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        self.assertEqual(st.st_uid, os.getuid())
        sock = os.lstat(self.socket_path())
        self.assertTrue(stat.S_ISSOCK(sock.st_mode))
        self.assertEqual(stat.S_IMODE(sock.st_mode), 0o600)

    def test_a_directory_others_may_enter_is_refused(self):
        os.mkdir(os.path.join(self.runtime, "vimeo-up"), 0o755)
        os.chmod(os.path.join(self.runtime, "vimeo-up"), 0o755)
        proc = self.add(make_file(self.tmp, "a.mp4", 1 << 20))
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn("lets others in; run chmod 700", proc.stderr)
        self.assertFalse(os.path.exists(self.lock_path()), "an agent started anyway")

    def test_a_directory_of_another_user_is_refused(self):
        directory = os.path.join(self.runtime, "vimeo-up")
        os.mkdir(directory, 0o700)
        os.chown(directory, 65534, 65534)
        proc = self.add(make_file(self.tmp, "a.mp4", 1 << 20))
        self.assertEqual(proc.returncode, 3)
        self.assertIn("owned by uid 65534, not by you", proc.stderr)

    def test_another_uid_is_refused_and_logged(self):
        self.assertEqual(self.add("-r", "1M", make_file(self.tmp, "a.mp4", 4 << 20)).returncode, 0)
        path = self.socket_path()
        # The modes keep other users out already; opened up here (as root),
        # the peer check is what still stops them.
        os.chmod(self.tmp, 0o711)
        os.chmod(self.runtime, 0o711)
        os.chmod(os.path.dirname(path), 0o711)
        os.chmod(path, 0o666)
        probe = ("import socket,sys\n"
                 "s=socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])\n"
                 "print('greeted' if s.recv(4096) else 'closed')\n")
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "/usr/bin/python3", "-c", probe, path], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.stdout.strip(), "closed", proc.stdout + proc.stderr)
        self.wait_for(lambda: "refused a connection from uid 65534" in self.log(), what="the refusal logged")
        self.assertEqual(Client(path).greeting["agent"], "vimeo-up")  # the user's own still served


class HostileClients(AgentTest):
    def test_bad_clients_neither_slow_nor_stop_uploads(self):
        path = make_file(self.tmp, "big.mp4", 24 << 20)
        self.assertEqual(self.add("-r", "2M", "-c", "1M", path).returncode, 0)
        sock = self.socket_path()
        self.wait_for(lambda: self.received() > 0, what="the upload to start")
        # One that subscribes and never reads.
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(sock)
        stuck.sendall(b'{"cmd":"subscribe"}\n')
        for bad, error in ((b"garbage\n", "not a JSON line"), (b'{"cmd":"dance"}\n', "unknown command: dance"),
                           (b'{"cmd":"status","protocol":1}\n', "the agent is version"),
                           (b'[1,2]\n', "not a JSON object")):
            client = Client(sock)
            client.sock.sendall(bad)
            answer = client.line()
            self.assertIn(error, answer["error"])
            self.assertIsNone(client.line(), "still connected after an error")
            client.close()
        huge = Client(sock)
        try:
            huge.sock.sendall(b"x" * (10 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass
        huge.close()
        self.assert_still_uploading()
        # The agent still answers, and the stuck client held nothing up.
        status = json.loads(self.vimeo_up("status", "--json").stdout)
        self.assertEqual(status["rows"][0]["state"], "uploading")
        self.assertIn("request longer than 64 KiB", self.log())
        stuck.close()

    def test_a_line_over_64_kib_is_refused_even_when_it_comes_whole(self):
        self.assertEqual(self.add("-r", "1K", make_file(self.tmp, "a.mp4", 4096)).returncode, 0)
        for size, refused in ((60 << 10, False), (70 << 10, True)):
            client = Client(self.socket_path())
            line = json.dumps({"cmd": "settled", "pad": "x" * size}).encode() + b"\n"
            client.sock.sendall(line)
            answer = client.line()
            self.assertEqual("error" in answer, refused, (size, answer))
            client.close()
        self.assertIn("request longer than 64 KiB", self.log())

    def test_a_subscriber_that_fell_behind_gets_a_missed_marker_and_the_full_table(self):
        files = [make_file(self.tmp, f"f{i}.mp4", 64 << 10, seed=i) for i in range(40)]
        self.assertEqual(self.add("-r", "4M", *files[:1]).returncode, 0)
        client = Client(self.socket_path())
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.send({"cmd": "subscribe"})
        self.assertEqual(client.line(), {"ok": True})
        self.assertTrue(client.line()["full"])
        # Many events while the client does not read, until they are more than its buffer holds.
        # What made it fall behind may have been a table line, not an
        # event: one more round, while it still does not read, drops events.
        def more_events():
            other = Client(self.socket_path())
            other.ask({"cmd": "add", "files": files[1:]})
            for row in other.ask({"cmd": "snapshot"})["rows"]:
                other.ask({"cmd": "cancel", "job": row["id"]})
            other.close()
        deadline = time.monotonic() + 60
        while "fell behind" not in self.log():
            self.assertLess(time.monotonic(), deadline, "the stuck client never fell behind")
            more_events()
        more_events()
        lines = []
        client.sock.settimeout(10)
        while True:
            line = client.line()
            lines.append(line)
            if "missed" in line:
                break
        self.assertGreater(line["missed"], 0)
        self.assertTrue(client.line()["full"], "no full table after the missed marker")
        client.close()


class BigTable(AgentTest):
    def test_a_table_of_20000_rows_reaches_status_and_a_subscriber_whole(self):
        # One line of 20,000 rows was more values than a client's JSON reader
        # takes (about 18,000 rows): status said the agent did not answer.
        listing = many_tiny_files(self, 20000, "f")
        proc = self.add("-r", "1K", "--files-from", listing)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        status = self.vimeo_up("status", "--json")
        self.assertEqual(status.returncode, 0, status.stderr)
        table = json.loads(status.stdout)
        self.assertEqual(len({r["id"] for r in table["rows"]}), 20000)
        self.assertEqual(table["totals"]["files"], 20000)
        plain = self.vimeo_up("status").stdout.splitlines()
        self.assertEqual((len(plain), plain[-1].split()[-1]), (20001, "f19999.mp4"))
        # A subscriber gets the whole table in lines, every one but the last saying "more".
        client = Client(self.socket_path())
        client.send({"cmd": "subscribe"})
        self.assertEqual(client.line(), {"ok": True})
        lines = [client.line()]
        while lines[-1].get("more"):
            lines.append(client.line())
        self.assertTrue(lines[0]["full"])
        self.assertGreater(len(lines), 1)
        self.assertEqual(sum(len(line["rows"]) for line in lines), 20000)
        client.close()


class Stream(AgentTest):
    def test_subscribe_streams_only_changed_rows_at_most_4_times_a_second(self):
        a = make_file(self.tmp, "a.mp4", 16 << 20, seed=1)
        b = make_file(self.tmp, "b.mp4", 16 << 20, seed=2)
        self.assertEqual(self.add("-r", "2M", "-c", "1M", a, b).returncode, 0)
        client = Client(self.socket_path())
        self.assertEqual(client.greeting["protocol"], 2)
        rows = client.ask({"cmd": "snapshot"})["rows"]
        paused = next(r["id"] for r in rows if r["name"] == "b.mp4")
        self.assertEqual(client.ask({"cmd": "pause", "job": paused}), {"ok": True})
        client.send({"cmd": "subscribe"})
        self.assertEqual(client.line(), {"ok": True})
        self.assertEqual(len(client.line()["rows"]), 2)
        updates, started = [], time.monotonic()
        while time.monotonic() - started < 3:
            line = client.line()
            if "totals" in line:
                updates.append((time.monotonic(), line))
        self.assertGreater(len(updates), 3, "no stream while bytes move")
        self.assertLessEqual(len(updates), 3 * 4 + 1, "more than 4 pushes a second")
        later = [line for when, line in updates if when - started > 1]
        changed = {r["id"] for line in later for r in line["rows"]}
        self.assertNotIn(paused, changed, "a paused row that did not change was sent again")
        self.assertTrue(changed, "the moving row was not sent")
        client.close()

    def test_idle_agent_uses_no_cpu(self):
        a = make_file(self.tmp, "a.mp4", 1 << 20)
        self.assertEqual(self.add(a).returncode, 0)
        self.assertEqual(self.vimeo_up("wait").returncode, 0)
        client = Client(self.socket_path())  # a client attached, subscribed, idle
        client.send({"cmd": "subscribe"})
        client.line()
        client.line()

        def cpu():
            with open(f"/proc/{self.agent_pid()}/stat") as f:
                fields = f.read().split(") ", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        before = cpu()
        time.sleep(5)
        self.assertLess(cpu() - before, 0.05)
        client.close()


class Kill(AgentTest):
    def test_kill_9_mid_upload_then_resume(self):
        path = make_file(self.tmp, "a.mp4", 8 << 20)
        self.assertEqual(self.add("-r", "2M", "-c", "1M", path).returncode, 0)
        self.wait_for(lambda: self.sandbox.uploads() and self.sandbox.uploads()[0]["offset"] >= 3 << 20,
                      timeout=30, what="3 MiB acknowledged")
        os.kill(self.agent_pid(), signal.SIGKILL)
        self.wait_for(lambda: not alive(self.agent_pid()), what="the agent to die")
        proc = subprocess.run([VIMEO_UP, "--no-tui", "--state", self.state, "resume"], capture_output=True,
                              text=True, env=self.env, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("1 verified", proc.stdout)
        upload = self.sandbox.upload_named("a.mp4")
        self.assertEqual(upload["sha256"], sha256_file(path))
        self.assertLessEqual(upload["received"], (8 << 20) + (1 << 20), "more than one chunk sent twice")


if __name__ == "__main__":
    unittest.main()
