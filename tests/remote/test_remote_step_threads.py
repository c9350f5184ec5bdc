"""`next` in main while the other threads run and hit a watchpoint: gdb steps main with
vCont;s:TID;c (scheduler-locking off), so the others must run meanwhile; whichever event comes
first is reported, all threads stop, and the other event is kept for the next resume. Every
write of `counter` must be seen, in order, as gdb alone sees them."""
from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest
from remote_helpers import STUB, env_without_debuginfod

pytestmark = [pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

WORKERS, ROUNDS = 3, 4  # as in remote_step_watch.c

# `next` in main (thread 1) until the program exits, going back to main after each watchpoint stop
# in a worker; the value of counter at each watchpoint stop, and the exit code.
STEPPER = """\
watch counter
python
values, codes = [], []
def _on_stop(event):
    if any(b.type == gdb.BP_HARDWARE_WATCHPOINT for b in getattr(event, "breakpoints", [])):
        values.append(int(gdb.parse_and_eval("counter")))
gdb.events.stop.connect(_on_stop)
gdb.events.exited.connect(lambda event: codes.append(getattr(event, "exit_code", None)))
for _ in range(4000):
    if codes or gdb.selected_inferior().pid == 0:
        break
    gdb.execute("thread 1", to_string=True)
    gdb.execute("next", to_string=True)
print("VALUES", values)
print("EXIT", codes)
end
"""


def next_until_exit(exe, tmp_path, *, remote: bool) -> tuple[str, str]:
    if remote:
        start = f"target remote | {shlex.join([*STUB, '--stdio', str(exe)])}\nbreak main\ncontinue\n"
    else:
        start = "break main\nrun\n"
    script = tmp_path / ("remote.gdb" if remote else "native.gdb")
    script.write_text("set pagination off\nset confirm off\n" + start + STEPPER)
    proc = subprocess.run(["gdb", "-nx", "-batch", "-x", str(script), str(exe)], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL, env=env_without_debuginfod())
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith(("VALUES", "EXIT"))}
    assert "VALUES" in lines and "EXIT" in lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return lines["VALUES"], lines["EXIT"]


@pytest.mark.parametrize("round_", range(3))
def test_next_while_other_threads_hit_a_watchpoint(build_target, tmp_path, round_):
    exe = build_target("remote_step_watch")
    expected = (f"VALUES {list(range(1, WORKERS * ROUNDS + 1))}", "EXIT [0]")
    assert next_until_exit(exe, tmp_path, remote=False) == expected
    assert next_until_exit(exe, tmp_path, remote=True) == expected
