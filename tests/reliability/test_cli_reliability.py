"""The ``hwdbg`` command under hostile conditions (skipped, with the reason, if the CLI does not
work yet): a closed stdout pipe (``hwdbg --json ... | head -1``), condition errors at hit time,
the history file's mode, malformed -x command files, and (stress) a million hits through --json.
"""
from __future__ import annotations

import json
import os
import pty
import resource
import select
import shlex
import signal
import stat
import subprocess
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import PYTHON, ROOT, cli_works, env_int

WHY_NOT = cli_works()
pytestmark = [pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")]

HWDBG = [PYTHON, "-m", "hwdbg"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
MB = 1 << 20


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def processes_with(marker: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in open(f"/proc/{entry}/cmdline", "rb").read():
                    out.append(int(entry))
            except OSError:
                pass
    return out


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (768 * MB, 768 * MB))  # hostile input must not eat the machine


# ------------------------------------------------------------------ a closed stdout pipe

def tracer_of(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return 0


def closed_pipe_attached(rel_exe, reader: str, seconds: float = 60):
    """Runs `hwdbg --json --batch -p PID ... | READER` on a separately started target that writes
    `counter` every ms for a second once attached (a loaded machine may take longer than that to
    start hwdbg); returns (hwdbg exit status, its stderr, the target's status)."""
    target = subprocess.Popen([str(rel_exe), "forever-attached", "0", "1"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    err = f"/tmp/hwdbg-rel-{uuid.uuid4().hex}.err"
    try:
        pid = int(target.stdout.readline())
        script = (f"{shlex.join(HWDBG)} --json --batch -p {pid} -ex 'watch counter --trace' -ex continue "
                  f"2>\"$ERR\" | {reader} >/dev/null; echo \"${{PIPESTATUS[0]}}\"")
        shell = subprocess.Popen(["bash", "-c", script], env=dict(ENV, ERR=err), cwd=ROOT, stdout=subprocess.PIPE,
                                 text=True, start_new_session=True)
        # The target's second starts once hwdbg has attached (it may die of SIGPIPE before the
        # target ever runs traced), or has ended.
        while shell.poll() is None and tracer_of(pid) == 0:
            time.sleep(0.01)
        target.stdin.close()
        try:
            status = shell.communicate(timeout=seconds)[0].strip()
        except subprocess.TimeoutExpired:
            os.killpg(shell.pid, signal.SIGKILL)  # bash, hwdbg and the reader: this test started them
            shell.wait()
            pytest.fail(f"hwdbg hung after `| {reader}` closed its stdout")
        stderr = open(err).read()
        return status, stderr, target.wait(timeout=30)
    finally:
        if os.path.exists(err):
            os.unlink(err)
        if target.poll() is None:
            target.kill()
        target.wait()


@pytest.mark.timeout(120)
def test_closed_stdout_pipe_attached(rel_exe, figures):
    """hwdbg attached to a separately started process; its output pipe closes (`| head -1`): no
    traceback, hwdbg ends with 141, the target (debug registers cleared) runs on to exit 0."""
    status, stderr, target_status = closed_pipe_attached(rel_exe, "head -1")
    no_traceback(stderr)
    assert status == "141", stderr  # 128 + SIGPIPE, as documented in cli.py
    assert target_status == 0  # not -SIGTRAP: nothing left armed
    figures.add("faults injected")


@pytest.mark.timeout(120)
def test_closed_stdout_pipe_attached_mid_stream(rel_exe, figures):
    """The pipe closes while `continue` streams hits (`| head -c 3000`). (Found hanging forever:
    BrokenPipeError raised by the JSON listener inside the C fast loop's hit drain lost a stop;
    the CLI's listener now never raises. The session-level cause is test_debugger_faults'
    listener xfails.)"""
    status, stderr, target_status = closed_pipe_attached(rel_exe, "head -c 3000", seconds=60)
    no_traceback(stderr)
    assert status == "141", stderr
    assert target_status == 0
    figures.add("faults injected")


@pytest.mark.timeout(60)
def test_closed_stdout_pipe_spawned(rel_exe, figures):
    """The same with a program hwdbg started: no traceback, and the program does not outlive it."""
    marker = f"rel-{uuid.uuid4().hex}"
    script = (f"{shlex.join(HWDBG)} --json --batch -ex 'hbreak ready' -ex run -ex 'watch counter --trace' "
              f"-ex continue {shlex.quote(str(rel_exe))} forever 0 20 {marker} 2>\"$ERR\" | head -1 >/dev/null; "
              "echo \"${PIPESTATUS[0]}\"")
    err = f"/tmp/hwdbg-rel-{uuid.uuid4().hex}.err"
    proc = subprocess.run(["bash", "-c", script], env=dict(ENV, ERR=err), cwd=ROOT, capture_output=True,
                          text=True, timeout=50)
    stderr = open(err).read()
    os.unlink(err)
    no_traceback(stderr)
    assert proc.stdout.strip() == "141"
    for _ in range(50):
        if not processes_with(marker):
            break
        time.sleep(0.1)
    assert processes_with(marker) == []
    figures.add("faults injected")


# ------------------------------------------------------------------ condition errors

@pytest.mark.timeout(60)
def test_condition_errors_through_the_cli(rel_exe, figures):
    proc = subprocess.run(HWDBG + ["--json", "--batch", "-ex", "hbreak ready", "-ex", "run",
                                   "-ex", "watch counter if nosuch > 1", "-ex", "continue", "-ex", "continue",
                                   "-ex", "delete", "-ex", "watch counter --trace if new / 0", "-ex", "continue",
                                   str(rel_exe), "counter", "0", "5"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=50)
    no_traceback(proc.stderr)
    events = json_lines(proc.stdout)  # every line is JSON
    errors = [e for e in events if e["event"] == "error"]
    assert len([e for e in errors if "no symbol 'nosuch'" in e["message"]]) == 2
    assert len([e for e in errors if "division by zero" in e["message"]]) == 3  # hits 3, 4, 5 (traced)
    assert not any(e.get("kind") == "InternalError" for e in errors)
    assert [e["new"] for e in events if e["event"] == "hit" and e["kind"] == "watch"] == [1, 2, 3, 4, 5]
    assert events[-1]["event"] == "exited" and events[-1]["code"] == 0
    figures.add("malformed inputs tried", 2)


# ------------------------------------------------------------------ the history file

def run_repl(lines: list[bytes], env: dict, timeout: float = 20) -> bytes:
    master, slave = pty.openpty()
    proc = subprocess.Popen(HWDBG + ["-q"], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                            preexec_fn=lambda: os.umask(0), start_new_session=True)
    os.close(slave)
    out = b""

    def drain(seconds):
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    return

    try:
        drain(0.6)
        for line in lines:
            os.write(master, line + b"\r")
            drain(0.3)
        assert proc.wait(timeout=timeout) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return out


@pytest.mark.timeout(60)
def test_history_file_is_created_private(tmp_path):
    """Even under umask 000, the REPL creates its history file with mode 0600."""
    history = tmp_path / "history"
    out = run_repl([b"echo hello-history", b"quit"], dict(ENV, HWDBG_HISTORY=str(history), TERM="xterm"))
    assert b"hello-history" in out and b"Traceback" not in out
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert "echo hello-history" in history.read_text()


# ------------------------------------------------------------------ malformed -x files

MALFORMED = {
    "nul-and-invalid-utf8": b"echo a\n\xff\xfe\x00garbage\nwatch\n",
    "only-nul": b"\x00" * 4096,
    "long-line": b"watch " + b"(" * 200_000 + b"\n",
    "unterminated-commands": b"commands\necho inside\n",
    "end-without-commands": b"end\nend\n",
    "binary": bytes(range(256)) * 64,
    "crlf-and-tabs": b"echo a\r\n\t\twatch\t\r\n\r\n",
    "options-as-commands": b"--json\n-x /dev/null\n--pid 1\n",
    "bad-options": b"watch counter --priority ' --thread -1 --length -5\nhbreak --priority 99999999999999999999999 main\n",
    "many-errors": b"nosuchcommand\n" * 10_000,
}


def run_command_file(path, *program, timeout=50) -> subprocess.CompletedProcess:
    return subprocess.run(HWDBG + ["--json", "--batch", "-x", str(path), *map(str, program)], cwd=ROOT, env=ENV,
                          capture_output=True, timeout=timeout, preexec_fn=limit_memory)


def check_clean_failure(proc: subprocess.CompletedProcess) -> list[dict]:
    stderr = proc.stderr.decode(errors="replace")
    no_traceback(stderr)
    events = json_lines(proc.stdout.decode())
    assert proc.returncode in (0, 1), (proc.returncode, stderr[-500:])
    assert not any(e.get("kind") == "InternalError" for e in events), events[-3:]
    assert "internal error" not in stderr
    return events


@pytest.mark.timeout(90)
def test_malformed_command_files(tmp_path, rel_exe, figures):
    for name, content in MALFORMED.items():
        path = tmp_path / name
        path.write_bytes(content)
        events = check_clean_failure(run_command_file(path))
        assert events and events[-1]["event"] == "error", name
    missing = check_clean_failure(run_command_file(tmp_path / "does-not-exist"))
    directory = check_clean_failure(run_command_file(tmp_path))
    assert missing[-1]["event"] == directory[-1]["event"] == "error"
    # a failing line in the middle of a session: the rest is skipped, the program does not survive
    marker = f"rel-{uuid.uuid4().hex}"
    path = tmp_path / "mid-session"
    path.write_bytes(b"hbreak ready\nrun\nwatch counter\n\x00\xffbroken\ncontinue\n")
    events = check_clean_failure(run_command_file(path, rel_exe, "forever", 0, 20, marker))
    assert proc_failed_at(events, "broken")
    time.sleep(0.2)
    assert processes_with(marker) == []
    figures.add("malformed inputs tried", len(MALFORMED) + 3)


def proc_failed_at(events, text):
    """The script stopped at the line containing ``text``: its error, and nothing run after it."""
    errors = [i for i, e in enumerate(events) if e["event"] == "error"]
    return (len(errors) == 1 and text in events[errors[0]]["message"]
            and not any(e["event"] in ("hit", "stopped", "result") for e in events[errors[0]:]))


NASTY_TOKENS = [b"watch", b"rwatch", b"awatch", b"hbreak", b"delete", b"commands", b"end", b"echo", b"print",
                b"condition", b"ignore", b"info", b"x/100000gx", b"set var", b"help", b"counter", b"-l", b"--thread",
                b"--priority", b"if", b"(", b")", b"*", b"0xffffffff81000000", b"-1", b"99999999999999999999",
                b"\x00", b"\xff", b"\n", b"\r\n", b" ", b"#", b"'", b'"', b"\\", b"$rip", b"$1", b"$$"]


@pytest.mark.parametrize("n", [pytest.param(8, id="short", marks=pytest.mark.timeout(60)),
                               pytest.param(env_int("CLI_FILES", 300), id="stress",
                                            marks=[pytest.mark.stress, pytest.mark.timeout(3600)])])
def test_generated_command_files(tmp_path, figures, n):
    """Hypothesis-made -x files (random bytes and command soup; no attach, run or source):
    exit 0 or 1, every stdout line JSON, no internal error, no traceback."""
    tried = []

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(content=st.one_of(st.binary(max_size=2000),
                             st.lists(st.sampled_from(NASTY_TOKENS), max_size=60).map(b" ".join)))
    def check(content):
        path = tmp_path / "generated"
        path.write_bytes(content)
        check_clean_failure(run_command_file(path))
        tried.append(content)

    check()
    figures.add("malformed inputs tried", len(tried))


@pytest.mark.timeout(60)
def test_command_file_that_sources_itself(tmp_path, figures):
    """(Found as 'internal error: RecursionError'; now a UsageError about the nesting.)"""
    path = tmp_path / "self.gdb"
    path.write_text(f"source {path}\n")
    events = check_clean_failure(run_command_file(path))
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "UsageError"
    figures.add("malformed inputs tried")


@pytest.mark.timeout(60)
def test_command_file_that_is_not_a_regular_file(tmp_path, figures):
    """-x /dev/zero and -x FIFO: refused at once. (Found reading /dev/zero until memory ran out
    and blocking forever on a FIFO.)"""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo):
        try:
            proc = run_command_file(path, timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"-x {path} hangs")
        events = check_clean_failure(proc)
        assert events[-1]["event"] == "error"
        figures.add("malformed inputs tried")


# ------------------------------------------------------------------ soak through --json (stress)

@pytest.mark.stress
@pytest.mark.timeout(3600)
def test_soak_cli_json(rel_exe, figures):
    """A million traced hits through `hwdbg --json`: every one printed, in order, exact; RSS of the
    hwdbg process sampled at hit 10,000, 100,000 and at the exit event."""
    hits = env_int("SOAK_HITS", 1_000_000)
    proc = subprocess.Popen(HWDBG + ["--json", "--batch", "-ex", "hbreak ready", "-ex", "run",
                                     "-ex", "watch counter --trace", "-ex", "continue",
                                     str(rel_exe), "counter", "0", str(hits)],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            bufsize=1 << 16)
    page = os.sysconf("SC_PAGE_SIZE")

    def rss():
        return int(open(f"/proc/{proc.pid}/statm").read().split()[1]) * page

    samples, count, expected, end = {}, 0, 1, None
    others = []  # every event that is not a watch hit, for the failure message
    started = time.monotonic()
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] != "hit" or event["kind"] != "watch":
            others.append(line.strip()[:200])
        if event["event"] == "hit" and event["kind"] == "watch":
            assert event["new"] == expected
            expected += 1
            count += 1
            if count in (10_000, 100_000):
                samples[count] = rss()
        elif event["event"] == "exited":
            samples["end"] = rss()
            end = event
    seconds = time.monotonic() - started
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, stderr[-2000:]
    no_traceback(stderr)
    assert end is not None and end["code"] == 0 and count == hits, (count, others[-8:], stderr[-1000:])
    growth_total = samples["end"] - samples[10_000]
    growth_after_full = samples["end"] - samples[100_000]
    figures.add("hits checked", hits)
    figures.note(f"CLI --json soak {hits:,} hits: RSS growth hit 10,000 -> end",
                 f"{growth_total / MB:+.2f} MB (hit 100,000 -> end: {growth_after_full / MB:+.2f} MB; "
                 f"{hits / seconds:,.0f} hits/s)")
    assert growth_total < 5 * MB  # breakpoints keep their 10,000 most recent hits: flat from there on
