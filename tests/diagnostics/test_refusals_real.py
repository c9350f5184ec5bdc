"""Each ptrace refusal made real on this machine, and the one-line message it produces.

Another user's process, a non-dumpable one, a seccomp filter on ptrace, all four debug
registers held by perf, no such process, a zombie, a kernel thread, ourselves, a
process another tracer holds, PID 1 of a PID namespace, a PID of another namespace.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys

import pytest
from diag_helpers import (CHILD, NOBODY, OTHER_UID, as_user, can_switch_users, hold_all_slots, one_or_two_lines,
                          proc_status, run_child, wait_for)

import hwdbg
from hwdbg import SlotError, diagnose

needs_root = pytest.mark.skipif(not can_switch_users(), reason="needs root and setpriv (util-linux) to switch users")
pytestmark = pytest.mark.requires_ptrace

SLEEP = shutil.which("sleep") or "/bin/sleep"
NOT_DUMPABLE = ("import ctypes, time; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE\n"
                "print('ready', flush=True); time.sleep(60)")


def refused(result: dict, cls: type = hwdbg.AttachDenied) -> str:
    assert not result["ok"], f"expected a refusal, got {result}"
    assert cls.__name__ in result["classes"], result
    assert one_or_two_lines(result["message"]), result["message"]
    return result["message"]


# ------------------------------------------------------------------ users and capabilities


@needs_root
def test_another_users_process_names_the_uid_and_cap_sys_ptrace(procs, readable_copy):
    target = procs.start([*as_user(NOBODY, keep_caps=True), SLEEP, "60"])
    wait_for(lambda: proc_status(target.pid, "Name") == "sleep")
    message = refused(run_child("attach", str(target.pid), user=OTHER_UID, copy=readable_copy))
    assert message.startswith(f"cannot attach to {target.pid} (sleep): it belongs to uid {NOBODY}")
    assert f"uid {OTHER_UID}" in message and "without CAP_SYS_PTRACE" in message
    assert "as root (sudo)" in message and "--cap-add=SYS_PTRACE" in message
    # The same user, with no capability either, may: it really was the uid.
    same_user = run_child("attach", str(target.pid), user=NOBODY, copy=readable_copy)
    assert same_user["ok"] and same_user["value"]["threads"] == [target.pid]


@needs_root
def test_non_dumpable_process_needs_cap_sys_ptrace_even_for_its_own_user(procs, readable_copy):
    target = procs.start([*as_user(NOBODY, keep_caps=True), readable_copy.python, "-c", NOT_DUMPABLE],
                         ready_line=True, cwd=readable_copy.root)
    message = refused(run_child("attach", str(target.pid), user=NOBODY, copy=readable_copy))
    assert message.startswith(f"cannot attach to {target.pid} (python")
    assert "not dumpable" in message and "PR_SET_DUMPABLE" in message and "CAP_SYS_PTRACE" in message
    assert f"uid {NOBODY}" not in message  # same user: the uid is not the reason


# ------------------------------------------------------------------ seccomp


SECCOMP_PHRASES = ("seccomp", "Seccomp: 2", "--cap-add=SYS_PTRACE", "seccomp=unconfined")


def test_seccomp_filter_on_ptrace_is_named_with_the_container_fix(procs):
    facts = run_child("facts", seccomp=True)["value"]
    assert facts["seccomp_mode"] == 2 and facts["ptrace_errno"] == errno.EPERM and facts["blocks"]
    assert "seccomp=filter (blocks ptrace)" in facts["summary"]

    spawn = refused(run_child("spawn", "/bin/true", seccomp=True))
    assert all(p in spawn for p in SECCOMP_PHRASES), spawn
    assert "PTRACE_SEIZE: EPERM" in spawn and spawn.startswith("ptrace is blocked by ")

    probe = run_child("probe", seccomp=True)["value"]
    assert probe["verdict"] == "ptrace refused"
    assert all(p in probe["reason"] for p in SECCOMP_PHRASES), probe

    target = procs.start([SLEEP, "60"])
    attach = refused(run_child("attach", str(target.pid), seccomp=True))
    assert attach.startswith(f"cannot attach to {target.pid} (sleep): ptrace is blocked by ")
    assert all(p in attach for p in SECCOMP_PHRASES), attach


def test_without_seccomp_the_ptrace_syscall_is_reachable():
    facts = run_child("facts")["value"]
    assert facts["ptrace_errno"] == errno.ESRCH and not facts["blocks"]


# ------------------------------------------------------------------ debug-register slots


@pytest.mark.requires_hw_watchpoints
def test_all_four_slots_held_by_perf_raise_slot_error_naming_the_holder(hwdbg, build_target):
    target = hwdbg.spawn([build_target("writer"), "5"])
    fds = hold_all_slots(target.pid, target.address_of("neighbour"))
    try:
        assert len(fds) == 4
        with pytest.raises(SlotError) as info:
            target.watch("counter")
        message = str(info.value)
        assert one_or_two_lines(message), message
        assert f"thread {target.pid}" in message and "perf or another tool" in message and "ENOSPC" in message
        assert target.breakpoints == []  # nothing half-armed
        busy = diagnose.explain_slots_busy(target.pid)
        assert one_or_two_lines(busy)
        assert f"no free debug register in thread {target.pid}: all 4 are held by perf or another tool" in busy
        assert f"perf events are open in PID {os.getpid()} (" in busy  # this test holds them
        assert "Stop that tool" in busy
    finally:
        for fd in fds:
            os.close(fd)
    counter = target.watch("counter")  # free again
    target.run_until_exit()
    assert counter.hit_count == 5


# ------------------------------------------------------------------ which process


def test_no_such_process():
    gone = subprocess.Popen(["true"])
    gone.wait()
    message = refused(run_child("attach", str(gone.pid)), hwdbg.TargetError)
    assert f"no such process {gone.pid}" in message and "PID namespace" in message


def test_zombie_is_explained_with_its_parent(procs):
    parent = procs.start([sys.executable, "-c", "import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\n"
                                                "print(pid, flush=True); time.sleep(60)"], ready_line=True)
    zombie = int(parent.ready)
    wait_for(lambda: (proc_status(zombie, "State") or "").startswith("Z"))
    result = run_child("attach", str(zombie))
    message = refused(result, hwdbg.TargetError)
    assert message.startswith(f"cannot attach to {zombie} (python")
    assert "zombie" in message and f"parent (PID {parent.pid})" in message and "no code left to trace" in message


def first_kernel_thread() -> int:
    for pid in [2] + sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        facts = diagnose.TargetFacts.read(pid)
        if facts.exists and facts.is_kernel_thread:
            return pid
    pytest.skip("no kernel thread visible in this PID namespace")


def test_kernel_thread():
    pid = first_kernel_thread()
    name = proc_status(pid, "Name")
    message = refused(run_child("attach", str(pid)))
    assert message.startswith(f"cannot attach to {pid} ({name}): it is a kernel thread")
    assert "Pick a user-space process" in message


def test_pid_2_is_kthreadd_here_and_refused():
    if proc_status(2, "Name") != "kthreadd":
        pytest.skip("PID 2 is not kthreadd in this PID namespace")
    assert "kernel thread" in refused(run_child("attach", "2"))


def test_own_pid_and_own_thread():
    own = refused(run_child("attach-self"), hwdbg.TargetError)
    assert "that is hwdbg itself" in own
    thread = refused(run_child("attach-own-thread"), hwdbg.TargetError)
    assert "a thread of hwdbg itself" in thread and "cannot trace itself" in thread


def test_already_traced_names_the_tracer(procs):
    target = procs.start([SLEEP, "60"])
    holder = procs.start([sys.executable, str(CHILD), "hold", str(target.pid), "20"],
                         ready_line=True)
    message = refused(run_child("attach", str(target.pid)))
    assert f"already traced by process {holder.pid} (python" in message and "Detach that debugger" in message


# ------------------------------------------------------------------ PID namespaces


def unshare(*flags: str) -> list[str]:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare (util-linux)")
    probe = subprocess.run(["unshare", *flags, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a PID namespace here: {probe.stderr.decode().strip()}")
    return ["unshare", *flags]


def test_pid_1_of_a_pid_namespace_is_permitted_to_root():
    # Never the real PID 1 (the machine's init): a fresh namespace's PID 1, a shell waiting for us.
    prefix = unshare("--pid", "--fork", "--mount-proc")
    argv = [*prefix, "sh", "-c", '"$@"; echo "pid1 still running"', "sh",
            sys.executable, str(CHILD), "attach", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    lines = done.stdout.splitlines()
    assert '{"ok": true, "value": {"threads": [1]}}' in lines, done
    assert lines[-1] == "pid1 still running"  # detached: it went on


@needs_root
def test_the_real_pid_1_is_refused_to_an_unprivileged_user(readable_copy):
    # Safe only because the kernel refuses before anything happens: the check runs only when PID 1 is
    # root's and the attacher is another uid without capabilities. Root itself is never pointed at it.
    uids = (proc_status(1, "Uid") or "").split()
    if not uids or set(uids) != {"0"}:
        pytest.skip("PID 1 is not root's here")
    message = refused(run_child("attach", "1", user=OTHER_UID, copy=readable_copy))
    assert message.startswith("cannot attach to 1 (") and "it belongs to uid 0 (root)" in message
    assert "CAP_SYS_PTRACE" in message


def test_pid_of_another_namespace_with_this_namespaces_proc_is_no_such_process(procs):
    target = procs.start([SLEEP, "60"])
    message = refused(run_child("attach", str(target.pid), prefix=unshare("--pid", "--fork", "--mount-proc")),
                      hwdbg.TargetError)
    assert f"no such process {target.pid}" in message and "PID namespace" in message


def test_pid_of_another_namespace_seen_through_a_foreign_proc(procs):
    target = procs.start([SLEEP, "60"])
    message = refused(run_child("attach", str(target.pid), prefix=unshare("--pid", "--fork")), hwdbg.TargetError)
    assert message.startswith(f"no such process {target.pid} in this PID namespace: /proc shows it")
    assert "another PID namespace" in message and "nsenter" in message
