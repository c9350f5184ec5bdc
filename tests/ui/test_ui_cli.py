"""End to end: `python -m hwdbg` in a subprocess on real C programs."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from ui_helpers import ROOT, as_args, lines, run_hwdbg, symbol

hw = pytest.mark.requires_hw_watchpoints

README = ["start", "watch counter --trace", "continue"]


def _changes(run) -> list[tuple[int, int]]:
    return [(h["old"], h["new"]) for h in run.of("hit") if h["kind"] == "watch"]


# ------------------------------------------------------------------ options without a target

def test_version():
    run = run_hwdbg("--version")
    assert run.returncode == 0
    assert run.stdout.startswith("hwdbg ")


def test_help_mentions_exitkill():
    run = run_hwdbg("--help")
    assert run.returncode == 0
    assert "--no-exitkill" in run.stdout and "SIGKILL" in run.stdout and "PTRACE_O_EXITKILL" in run.stdout


@pytest.mark.parametrize("argv", [["--no-such-option"], ["-p", "notapid"], ["-p", "1", "prog"], ["-ex"]])
def test_bad_usage_exits_2(argv):
    run = run_hwdbg(*argv)
    assert run.returncode == 2
    assert "usage:" in run.stderr


@pytest.mark.parametrize("forced, code", [("", 0), ("ptrace refused: seccomp", 3), ("no trap: a VM", 4),
                                          ("debug-register writes ignored: gVisor", 4)])
def test_probe_exit_status(forced, code):
    env = {"HWDBG_PROBE_FORCE": forced} if forced else {}
    if not forced:
        from hwdbg.probe import probe
        if not probe().hw_ok:
            pytest.skip(f"this machine: {probe()}")
    run = run_hwdbg("--probe", env=env)
    assert run.returncode == code, run
    assert run.stdout.startswith("hwdbg probe: ")
    run = run_hwdbg("--probe", "--json", env=env)
    assert json.loads(run.stdout)["event"] == "probe"


def test_missing_program_in_batch_is_an_error(tmp_path):
    run = run_hwdbg("--batch", "-ex", "info breakpoints", "-ex", "run", tmp_path / "nope")
    assert run.returncode == 1  # `run` failed too
    assert lines(run.stdout)[0].startswith("*** ") and "No breakpoints or watchpoints." in run.stdout


def test_batch_without_target_runs_commands():
    run = run_hwdbg("--batch", "-ex", "help watch", "-ex", "echo done\\n")
    assert run.returncode == 0, run
    assert "Usage: watch EXPR" in run.stdout and "done" in run.stdout


def test_command_error_in_batch_is_reported_and_the_next_runs():
    run = run_hwdbg("--batch", "-ex", "print 1 +", "-ex", "echo reached")
    assert run.returncode == 0  # the last command succeeded (gdb -batch)
    out = lines(run.stdout)
    assert len(out) == 2 and out[0].startswith("*** syntax error") and out[1] == "reached"
    assert "usage: print" in out[0]


def test_json_error_event():
    run = run_hwdbg("--batch", "--json", "-ex", "frobnicate")
    assert run.returncode == 1
    [event] = run.events
    assert event["event"] == "error" and event["kind"] == "UsageError"
    assert "frobnicate" in event["message"]


# ------------------------------------------------------------------ the main job

@hw
def test_readme_example_text(counter_exe):
    run = run_hwdbg("--batch", *as_args(README), counter_exe)
    assert run.returncode == 0, run
    trace = [line for line in run.stdout.splitlines() if line.startswith("[2] counter:")]
    pattern = re.compile(r"\[2\] counter: (\d+) -> (\d+)  thread (\d+)  0x[0-9a-f]+ in bump \(\) at ui_counter.c:10$")
    matches = [pattern.match(line) for line in trace]
    assert all(matches), trace
    assert [(int(m[1]), int(m[2])) for m in matches] == [(n, n + 1) for n in range(5)]
    assert run.stdout.rstrip().endswith("exited normally]")
    assert re.search(r"^Temporary breakpoint 1, main \(argc=1, argv=0x[0-9a-f]+\) at .*ui_counter\.c:\d+$",
                     run.stdout, re.M), run.stdout


@hw
def test_readme_example_json(counter_exe):
    run = run_hwdbg("--batch", "--json", *as_args(README), counter_exe)
    assert run.returncode == 0, run
    events = run.events  # every line is JSON: the program's own output went to stderr
    assert "counter = 5" in run.stderr
    hits = [e for e in events if e["event"] == "hit" and e["kind"] == "watch"]
    assert [(h["old"], h["new"]) for h in hits] == [(n, n + 1) for n in range(5)]
    for h in hits:
        assert set(h) == {"event", "id", "kind", "expr", "address", "length", "tid", "pc", "old", "new",
                          "function", "file", "line"}
        assert h["function"] == "bump" and h["address"] == symbol(counter_exe, "counter") and h["length"] == 8
        assert isinstance(h["pc"], int)
    assert events[-1] == {"event": "exited", "code": 0, "pid": events[0]["pid"]}
    results = [e["command"] for e in events if e["event"] == "result"]
    assert results == ["run", "hbreak", "watch"]


@hw
def test_demo_script_command_line(counter_exe):
    """scripts/demo.sh's exact command, through the console script."""
    hwdbg = ROOT / ".venv" / "bin" / "hwdbg"
    if not hwdbg.exists():
        pytest.skip("no .venv/bin/hwdbg")
    proc = subprocess.run([str(hwdbg), "--batch", "-ex", "start", "-ex", "watch counter --trace", "-ex", "continue",
                           str(counter_exe), "7"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert sum(line.startswith("[2] counter:") for line in proc.stdout.splitlines()) == 7
    assert "Traceback" not in proc.stdout + proc.stderr


@hw
def test_batch_exit_status_is_the_programs(counter_exe):
    run = run_hwdbg("--batch", "-ex", "run", counter_exe, "3", "7")
    assert run.returncode == 7, run
    assert "exited with code 07]" in run.stdout


@hw
def test_gdb_style_hit_report(counter_exe):
    run = run_hwdbg("--batch", "-ex", "start", "-ex", "watch counter", "-ex", "continue", "-ex", "continue",
                    "-ex", "info breakpoints", "-ex", "kill", counter_exe)
    assert run.returncode == 0, run
    # then frame 0 where the thread is after the write, and its source line (gdb)
    assert "\nHardware watchpoint 2: counter\n\nOld value = 0\nNew value = 1\n" in run.stdout
    assert re.search(r"\nNew value = 1\nbump \(\) at .*ui_counter.c:10\n10\t", run.stdout), run.stdout
    assert "Old value = 1\nNew value = 2" in run.stdout
    assert "INSTALLED" in run.stdout and "breakpoint already hit 2 times" in run.stdout
    assert "slot DR" in run.stdout
    assert "killed]" in run.stdout


@hw
def test_rwatch_and_hbreak_reports(counter_exe):
    run = run_hwdbg("--batch", "-ex", "hbreak bump", "-ex", "run", "-ex", "delete", "-ex", "rwatch config.level",
                    "-ex", "awatch counter", "-ex", "continue", "-ex", "kill", counter_exe)
    assert run.returncode == 0, run
    assert re.search(r"^Breakpoint 1, bump \(\) at .*ui_counter\.c:10$", run.stdout, re.M), run.stdout
    assert "Hardware access (read/write) watchpoint 3: counter\n\nValue = 0" in run.stdout


@hw
def test_pie_program(build_target):
    exe = build_target("ui_counter", pie=True)
    # before `run` a PIE has its link-time addresses, as gdb shows them; both are set again at the start
    script = ["break bump", "watch counter", "run", "continue", "continue", "kill"]
    before = run_hwdbg("--batch", *as_args(script), exe)
    gdb = subprocess.run(["gdb", "-nx", "-batch", *as_args(script), str(exe)], capture_output=True, text=True,
                         timeout=120)
    assert before.returncode == 0, before
    ours, theirs = lines(before.stdout), lines(gdb.stdout)
    assert ours[:2] == theirs[:2] and ours[0].startswith("Breakpoint 1 at 0x"), (ours, theirs)
    stops = [line for line in ours if re.match(r"(Breakpoint 1, |Hardware watchpoint 2: |Old value|New value)", line)]
    assert stops == [line for line in theirs if re.match(r"(Breakpoint 1, |Hardware watchpoint 2: |Old value|New "
                                                          r"value)", line)][:len(stops)] and len(stops) >= 4, (ours, theirs)
    run = run_hwdbg("--batch", "--json", *as_args(README), exe)
    assert run.returncode == 0, run
    assert _changes(run) == [(n, n + 1) for n in range(5)]
    assert all(h["function"] == "bump" for h in run.of("hit") if h["kind"] == "watch")


@hw
def test_stripped_program_with_dynamic_symbols(build_target):
    exe = build_target("ui_counter", strip=True, cflags=("-rdynamic",))
    run = run_hwdbg("--batch", "--json", *as_args(README), exe)
    assert run.returncode == 0, run
    hits = [h for h in run.of("hit") if h["kind"] == "watch"]
    assert [(h["old"], h["new"]) for h in hits] == [(n, n + 1) for n in range(5)]
    assert {h["function"] for h in hits} == {"bump"} and {h["line"] for h in hits} == {None}


@hw
def test_shared_library_global(build_target):
    exe = build_target("sym_uselib", libs=("sym_lib",))
    run = run_hwdbg("--batch", "--json", "-ex", "start", "-ex", "watch lib_counter --trace",
                    "-ex", "watch libsym_lib:lib_state.calls --trace", "-ex", "continue", exe)
    assert run.returncode == 0, run
    hits = run.of("hit")
    counter = [(h["old"], h["new"], h["function"]) for h in hits if h["expr"] == "lib_counter"]
    calls = [(h["old"], h["new"]) for h in hits if h["expr"] == "libsym_lib:lib_state.calls"]
    assert counter == [(3, 7, "lib_bump")]
    assert calls == [(0, 1)]
    printed = [line for line in run.stderr.splitlines() if line.startswith("addr lib_counter=")]
    address = [h["address"] for h in hits if h["expr"] == "lib_counter"][0]
    assert printed and int(printed[0].split("=")[1], 16) == address


@hw
def test_multithreaded_writer(build_target):
    exe = build_target("ui_threads")
    run = run_hwdbg("--batch", "--json", "-ex", "start", "-ex", "watch total --trace", "-ex", "continue", exe)
    assert run.returncode == 0, run
    hits = run.of("hit")
    watch = [h for h in hits if h["kind"] == "watch"]
    assert [h["new"] for h in watch] == list(range(1, 21))
    assert {h["function"] for h in watch} == {"add_one"}
    main_tid = run.events[0]["pid"]
    assert len({h["tid"] for h in watch}) >= 2 and main_tid not in {h["tid"] for h in watch}
    assert len(run.of("thread-created")) == 4


@hw
def test_attach_watch_detach(build_target):
    exe = build_target("ui_wait")
    proc = subprocess.Popen([str(exe), "4000", "attached"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("ready")
        run = run_hwdbg("--batch", "--json", "-p", proc.pid, "-ex", "watch ticks", "-ex", "continue",
                        "-ex", "continue", "-ex", "info slots", "-ex", "detach")
        assert run.returncode == 0, run
        hits = run.of("hit")
        assert len(hits) == 2 and hits[1]["new"] == hits[0]["new"] + 1
        slots = [e for e in run.of("result") if e["command"] == "info slots"][0]["threads"]
        assert slots[0]["slots"][0]["breakpoint"] == 1 and slots[0]["slots"][0]["enabled"]
        assert run.of("result")[-1] == {"event": "result", "command": "detach", "pid": proc.pid}
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0  # no SIGTRAP: the registers were cleared before detaching
        assert "done 4000" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@hw
def test_attach_batch_end_detaches(build_target):
    """--batch ends by detaching from an attached process, which then runs to its end."""
    exe = build_target("ui_wait")
    proc = subprocess.Popen([str(exe), "1500", "attached"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("ready")
        run = run_hwdbg("--batch", "-p", proc.pid, "-ex", "watch ticks", "-ex", "continue")
        assert run.returncode == 0, run
        assert "Hardware watchpoint 1: ticks" in run.stdout
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@hw
def test_commands_block_from_file(counter_exe, tmp_path):
    script = tmp_path / "cmds"
    script.write_text("# count the changes without stopping\nstart\nwatch counter\ncommands\nsilent\n"
                      "print counter\ncontinue\nend\ncontinue\n")
    run = run_hwdbg("--batch", "-x", script, counter_exe)
    assert run.returncode == 0, run
    assert [line for line in run.stdout.splitlines() if line.startswith("$")] == \
        [f"${n} = {n}" for n in range(1, 6)]
    assert "Old value" not in run.stdout  # silent
    assert run.stdout.rstrip().endswith("exited normally]")


@hw
def test_commands_block_from_ex_sequence(counter_exe):
    run = run_hwdbg("--batch", "-ex", "start", "-ex", "watch counter if new >= 4", "-ex", "commands",
                    "-ex", "echo seen\\n", "-ex", "print counter", "-ex", "end", "-ex", "continue", "-ex", "continue",
                    counter_exe)
    assert run.returncode == 0, run
    assert run.stdout.count("seen") == 2
    assert [line for line in run.stdout.splitlines() if line.startswith("$")] == ["$1 = 4", "$2 = 5"]
    assert "New value = 4" in run.stdout and "New value = 5" in run.stdout
    assert "New value = 3" not in run.stdout


def test_unterminated_commands_block_is_an_error():
    run = run_hwdbg("--batch", "-ex", "commands 1")
    assert run.returncode == 1


@hw
def test_commands_from_a_pipe(counter_exe):
    run = run_hwdbg(counter_exe, input="start\nwatch counter --trace\ncontinue\n")
    assert run.returncode == 0, run
    assert sum(line.startswith("[2] counter:") for line in run.stdout.splitlines()) == 5
    assert "(hwdbg)" not in run.stdout and "Warning: Input is not a terminal" not in run.stderr


@hw
def test_ctrl_c_interrupts_the_program(build_target):
    exe = build_target("ui_wait")
    proc = subprocess.Popen([sys.executable, "-m", "hwdbg", str(exe), "100000"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
    try:
        proc.stdin.write("run\n")
        proc.stdin.flush()
        seen = ""
        while "ready" not in seen:
            seen += proc.stdout.readline()
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate("print ticks > 0\ninfo breakpoints\nkill\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (out, err)
    assert "\nProgram received signal SIGINT, Interrupt.\n" in out and "$1 = 1" in out and "killed]" in out
    assert "Traceback" not in out + err


@hw
def test_closed_stdout_pipe(build_target, counter_exe):
    proc = subprocess.Popen([sys.executable, "-m", "hwdbg", "--batch", "--json", *as_args(README),
                             str(counter_exe), "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, cwd=str(ROOT))
    first = json.loads(proc.stdout.readline())
    for _ in range(5):
        proc.stdout.readline()
    proc.stdout.close()  # like `| head`
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert proc.returncode == 141
    pid = first["pid"]
    for _ in range(100):  # the program was killed (not left with armed debug registers)
        if not os.path.exists(f"/proc/{pid}") or _zombie(pid):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"program {pid} still runs after hwdbg exited")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_command_file_sourcing_itself(tmp_path):
    path = tmp_path / "self.gdb"
    path.write_text(f"source {path}\n")
    run = run_hwdbg("--batch", "-x", path)
    assert run.returncode == 1
    assert lines(run.stdout) == [f"*** {path}: command files nested more than 16 deep (does it source itself?)"]


@pytest.mark.parametrize("path", ["/dev/zero", "FIFO", "DIR", "MISSING"])
def test_command_file_must_be_a_regular_file(tmp_path, path):
    special = {"FIFO": tmp_path / "fifo", "DIR": tmp_path, "MISSING": tmp_path / "missing"}
    if path == "FIFO":
        os.mkfifo(special["FIFO"])
    target = special.get(path, path)
    run = run_hwdbg("--batch", "--json", "-x", target, timeout=20)
    assert run.returncode == 1
    [event] = run.events
    assert event["event"] == "error" and event["message"].startswith(f"cannot read command file {target}")


def _start_waiting(build_target, *options, limit="5000"):
    """hwdbg OPTIONS ui_wait LIMIT, commands from a pipe, `run` sent: returns (hwdbg, program pid)."""
    exe = build_target("ui_wait")
    proc = subprocess.Popen([sys.executable, "-m", "hwdbg", *options, str(exe), limit], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
    proc.stdin.write("run\n")
    proc.stdin.flush()
    line = ""
    while not line.startswith("ready"):
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
    return proc, int(line.split()[1])


def _gone(pid: int, seconds: float = 5) -> bool:
    for _ in range(int(seconds / 0.05)):
        if not os.path.exists(f"/proc/{pid}") or _zombie(pid):
            return True
        time.sleep(0.05)
    return False


@hw
@pytest.mark.parametrize("exitkill", [True, False])
def test_exitkill(build_target, exitkill):
    """By default the kernel kills the program when hwdbg is SIGKILLed; --no-exitkill lets it live."""
    proc, pid = _start_waiting(build_target, *([] if exitkill else ["--no-exitkill"]))
    try:
        proc.kill()
        proc.wait(timeout=10)
        if exitkill:
            assert _gone(pid)
        else:
            time.sleep(0.3)
            assert not _gone(pid, 0.1)
    finally:
        if not _gone(pid, 0.1):
            os.kill(pid, signal.SIGKILL)


@hw
def test_pin_puts_the_program_on_one_cpu(build_target):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU only")
    proc, pid = _start_waiting(build_target, "--pin", limit="2000")
    try:
        with open(f"/proc/{pid}/status") as f:
            allowed = [line.split(":")[1].strip() for line in f if line.startswith("Cpus_allowed_list")][0]
        assert allowed.isdigit(), allowed
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "exited normally" in out and "Traceback" not in out + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@hw
def test_closed_stdout_pipe_mid_stream_attached(build_target):
    """The pipe closes while hits stream (hwdbg attached): exit 141, the program runs on to exit 0."""
    exe = build_target("ui_wait")
    target = subprocess.Popen([str(exe), "3000", "attached"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              text=True)
    try:
        assert target.stdout.readline().startswith("ready")
        proc = subprocess.Popen([sys.executable, "-m", "hwdbg", "--json", "--batch", "-p", str(target.pid),
                                 "-ex", "watch ticks --trace", "-ex", "continue"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=str(ROOT))
        proc.stdout.read(3000)  # like `| head -c 3000`
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=20) == 141, err
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert target.wait(timeout=30) == 0  # not killed by SIGTRAP: the registers were cleared
    finally:
        for p in (target,):
            if p.poll() is None:
                p.kill()
                p.wait()


@hw
def test_attach_to_a_thread_id_is_refused(build_target):
    exe = build_target("ui_wait")
    # The thread lives until it is told to end: a loaded machine may take seconds to start hwdbg.
    proc = subprocess.Popen([str(exe), "600000", "thread-input"], stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                            text=True)
    try:
        _, pid, tid = proc.stdout.readline().split()
        run = run_hwdbg("--batch", "-p", tid)
        assert run.returncode == 1
        assert lines(run.stdout)[0].startswith(f"*** {tid} is a thread of process {pid}; attach {pid}")
        proc.communicate("end\n", timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
