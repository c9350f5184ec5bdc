"""Message selection from made-up facts: the conditions this machine cannot produce.

Yama 1/2/3, emulators (ENOSYS, EIO; WSL1, QEMU user mode, Rosetta), gVisor's ignored
debug-register writes, VMs that never deliver the debug exception, LSMs; plus the
detection helpers fed with the texts those platforms show. Every message must name
the value that refused and the fix, in one or two lines.
"""
from __future__ import annotations

import errno
import os

import pytest
from diag_helpers import one_or_two_lines

from hwdbg import AttachDenied, TargetError, diagnose
from hwdbg.probe import IGNORED, NO_TRAP, REFUSED, UNSUPPORTED, explain_probe_verdict
from hwdbg.diagnose import HostFacts, TargetFacts, explain_attach_failure, explain_spawn_failure

PID = 4242


def host(**kw) -> HostFacts:
    base = dict(yama_scope=None, seccomp_mode=0, has_cap_sys_ptrace=False, uid=1000, ptrace_errno=errno.ESRCH,
                container=None, platform=None, hypervisor=None, proc_is_own_namespace=True, lsm_label=None)
    base.update(kw)
    return HostFacts(**base)


def target(**kw) -> TargetFacts:
    base = dict(exists=True, uid=1000, is_kernel_thread=False, is_zombie=False, traced_by=0, name="server",
                tgid=PID, ppid=1, dumpable=True, lsm_label=None)
    base.update(kw)
    return TargetFacts(**base)


def attach_msg(err=errno.EPERM, h=None, t=None, cls=AttachDenied) -> str:
    exc = explain_attach_failure(PID, err, h or host(), t or target())
    assert isinstance(exc, cls), exc
    message = str(exc)
    assert one_or_two_lines(message), message
    return message


def spawn_msg(err=errno.EPERM, h=None) -> str:
    exc = explain_spawn_failure(err, h or host())
    assert isinstance(exc, AttachDenied), exc
    message = str(exc)
    assert one_or_two_lines(message), message
    return message


# ------------------------------------------------------------------ Yama


def test_yama_1_attach_names_the_value_and_three_fixes():
    m = attach_msg(h=host(yama_scope=1))
    assert m.startswith(f"cannot attach to {PID} (server): kernel.yama.ptrace_scope=1 only allows tracing descendants")
    assert "hwdbg -- PROGRAM" in m and "CAP_SYS_PTRACE" in m and "sudo sysctl -w kernel.yama.ptrace_scope=0" in m


def test_yama_1_does_not_apply_with_cap_sys_ptrace():
    m = attach_msg(h=host(yama_scope=1, has_cap_sys_ptrace=True))
    assert "ptrace_scope" not in m and "LSM" in m


def test_yama_2_attach_and_spawn():
    m = attach_msg(h=host(yama_scope=2))
    assert "kernel.yama.ptrace_scope=2 only lets processes with CAP_SYS_PTRACE attach" in m
    assert "as root (sudo)" in m and "sudo sysctl -w kernel.yama.ptrace_scope=1" in m
    s = spawn_msg(h=host(yama_scope=2))
    assert "kernel.yama.ptrace_scope=2" in s and "even their own children" in s and "as root (sudo)" in s


def test_yama_3_attach_and_spawn_say_reboot():
    m = attach_msg(h=host(yama_scope=3, has_cap_sys_ptrace=True))
    assert "kernel.yama.ptrace_scope=3 forbids every ptrace" in m and "until reboot" in m
    assert "/etc/sysctl.d/" in m
    s = spawn_msg(h=host(yama_scope=3, has_cap_sys_ptrace=True))
    assert "kernel.yama.ptrace_scope=3 forbids all ptrace, even of our own child" in s and "reboot" in s


def test_yama_2_with_the_capability_is_not_blamed():
    m = attach_msg(h=host(yama_scope=2, has_cap_sys_ptrace=True))
    assert "ptrace_scope" not in m


# ------------------------------------------------------------------ seccomp and containers


@pytest.mark.parametrize("container, fix", [
    ("docker", "this docker container's seccomp profile"),
    ("kubernetes", "this pod's seccomp profile"),
    (None, "a seccomp filter (a container's profile, or systemd's SystemCallFilter=)"),
])
def test_seccomp_names_the_profile_and_cap_add(container, fix):
    h = host(seccomp_mode=2, ptrace_errno=errno.EPERM, container=container)
    for m in (attach_msg(h=h), spawn_msg(h=h)):
        assert fix in m and "Seccomp: 2" in m
        assert "--cap-add=SYS_PTRACE" in m and "--security-opt seccomp=unconfined" in m
        assert "securityContext.capabilities.add: [SYS_PTRACE]" in m


def test_seccomp_that_allows_ptrace_is_not_blamed():
    # Docker's default profile: Seccomp: 2, but ptrace itself reachable (ESRCH for pid 0).
    h = host(seccomp_mode=2, ptrace_errno=errno.ESRCH, yama_scope=1, container="docker")
    m = attach_msg(h=h)
    assert "seccomp" not in m and "kernel.yama.ptrace_scope=1" in m
    m = attach_msg(h=h, t=target(uid=0))
    assert "it belongs to uid 0" in m and "(in a docker container: --cap-add=SYS_PTRACE)" in m


def test_seccomp_unknown_is_probable():
    m = attach_msg(h=host(seccomp_mode=2, ptrace_errno=None))
    assert "probably blocked by" in m and "--cap-add=SYS_PTRACE" in m


# ------------------------------------------------------------------ users


def test_other_uid_names_both_uids_and_the_capability():
    m = attach_msg(t=target(uid=0))
    assert m == (f"cannot attach to {PID} (server): it belongs to uid 0 (root), and hwdbg runs as uid 1000"
                 f"{diagnose._user_name(1000)} without CAP_SYS_PTRACE. Attach as that user or as root (sudo), "
                 "or grant CAP_SYS_PTRACE (in a container: --cap-add=SYS_PTRACE).")


def test_other_uid_with_the_capability_is_not_blamed():
    assert "uid" not in attach_msg(h=host(has_cap_sys_ptrace=True), t=target(uid=0)).replace("setuid", "")


def test_not_dumpable():
    m = attach_msg(t=target(dumpable=False))
    assert "it is not dumpable" in m and "only CAP_SYS_PTRACE may attach" in m


@pytest.mark.parametrize("label, phrases", [
    ("docker-default", ("AppArmor profile 'docker-default' may not trace a process confined by 'unconfined'",
                        "--security-opt apparmor=unconfined")),
    ("system_u:system_r:container_t:s0", ("SELinux forbids it", "ausearch -m avc", "label=disable")),
])
def test_lsm_labels(label, phrases):
    m = attach_msg(h=host(has_cap_sys_ptrace=True, lsm_label=label))
    assert all(p in m for p in phrases), m


def test_permission_denied_with_capability_points_at_lsms():
    m = attach_msg(h=host(has_cap_sys_ptrace=True))
    assert "although hwdbg has CAP_SYS_PTRACE" in m and "journalctl" in m


# ------------------------------------------------------------------ emulators


@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EIO])
@pytest.mark.parametrize("platform, phrase", [
    (None, "emulated amd64? WSL1?"),
    ("wsl1", "WSL1"),
    ("qemu-user", "QEMU user mode"),
    ("rosetta", "Rosetta"),
])
def test_ptrace_not_implemented(err, platform, phrase):
    h = host(platform=platform, ptrace_errno=errno.ENOSYS)
    name = errno.errorcode[err]
    for m in (attach_msg(err, h=h), spawn_msg(err, h=h)):
        assert "ptrace is not implemented here" in m and phrase in m and name in m
        assert ("WSL2" in m) if platform == "wsl1" else ("x86-64 Linux kernel" in m)


# ------------------------------------------------------------------ which process


def test_process_facts_override_permission():
    assert "kernel thread" in attach_msg(t=target(is_kernel_thread=True, name="kthreadd"))
    z = attach_msg(t=target(is_zombie=True, ppid=77), cls=TargetError)
    assert "zombie" in z and "parent (PID 77)" in z
    assert "no such process" in attach_msg(errno.ESRCH, t=target(exists=False), cls=TargetError)
    traced = attach_msg(t=target(traced_by=1))
    assert "already traced by process 1" in traced


def test_esrch_with_a_foreign_proc_names_the_namespace():
    m = attach_msg(errno.ESRCH, h=host(proc_is_own_namespace=False), cls=TargetError)
    assert "/proc belongs to another PID namespace" in m and "nsenter" in m
    m = attach_msg(errno.ESRCH, cls=TargetError)
    assert "it exited while hwdbg attached" in m


def test_self_and_own_thread():
    me = os.getpid()
    exc = explain_attach_failure(me, errno.EPERM, host(), target(tgid=me))
    assert type(exc) is TargetError and "that is hwdbg itself" in str(exc)
    exc = explain_attach_failure(PID, errno.EPERM, host(), target(tgid=me))
    assert f"a thread of hwdbg itself (PID {me})" in str(exc)


def test_unexpected_errno_is_named():
    m = attach_msg(errno.EBUSY)
    assert "EBUSY" in m and "please report it" in m


# ------------------------------------------------------------------ debug registers and probe verdicts


def test_ignored_writes_name_the_values_and_gvisor():
    m = diagnose.explain_ignored_writes((0x601000, 0x90001), (0, 0), host(platform="gvisor"))
    assert one_or_two_lines(m)
    assert "debug-register writes are ignored here" in m
    assert "wrote DR0=0x601000 DR7=0x90001, read back DR0=0x0 DR7=0x0; gVisor)" in m
    assert "--runtime=runc" in m
    assert "gVisor or an emulator?" in diagnose.explain_ignored_writes((1, 2), (0, 0), host())


def test_no_trap_names_the_vm():
    m = diagnose.explain_no_trap("", host(hypervisor="QEMU"))
    assert one_or_two_lines(m)
    assert m.startswith("a test watchpoint did not trigger: this VM (QEMU) does not deliver debug exceptions")
    assert "bare metal" in m and "DR0-DR7" in m
    assert "(si_code 2)" in diagnose.explain_no_trap("si_code 2", host(hypervisor="a VM"))


def test_slots_busy_names_holders():
    m = diagnose.explain_slots_busy(99, holders=[(10, "perf"), (11, "gdb"), (12, "a"), (13, "b")])
    assert one_or_two_lines(m)
    assert ("thread 99: all 4 are held by perf or another tool (perf events are open in PID 10 (perf), "
            "11 (gdb), 12 (a) and 1 more)") in m
    none = diagnose.explain_slots_busy(99, holders=[])
    assert "all 4 are held by perf or another tool (perf record -e mem:ADDR" in none


@pytest.mark.parametrize("verdict, phrase", [
    (NO_TRAP, "did not trigger"),
    (IGNORED, "debug-register writes are ignored here"),
    (REFUSED, "refused to trace our own child"),
    (UNSUPPORTED, "x86-64 Linux only"),
])
def test_probe_verdict_messages(verdict, phrase):
    m = explain_probe_verdict(verdict, "", host())
    assert phrase in m and one_or_two_lines(m)


# ------------------------------------------------------------------ detection


def test_detect_platform():
    assert diagnose.detect_platform("Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc 5.4.0)",
                                    "flags : fpu") == "wsl1"
    assert diagnose.detect_platform("Linux version 5.15.90.1-microsoft-standard-WSL2", "flags : fpu") is None
    assert diagnose.detect_platform(diagnose.GVISOR_VERSION + "\n", "") == "gvisor"
    arm = "processor : 0\nCPU implementer : 0x61\n"
    assert diagnose.detect_platform("Linux version 6.5", arm, ["rosetta", "register"]) == "rosetta"
    assert diagnose.detect_platform("Linux version 6.5", arm, ["qemu-x86_64", "status"]) == "qemu-user"
    assert diagnose.detect_platform("Linux version 6.5", arm, []) == "emulated"
    assert diagnose.detect_platform("Linux version 6.18", "flags : fpu hypervisor") is None


def test_detect_hypervisor_and_container():
    assert diagnose.detect_hypervisor("flags\t: fpu vme hypervisor\n", "QEMU") == "QEMU"
    assert diagnose.detect_hypervisor("flags\t: fpu vme hypervisor\n") == "a VM"
    assert diagnose.detect_hypervisor("flags\t: fpu vme\n") is None
    assert diagnose.detect_hypervisor("", hypervisor_type="xen\n") == "Xen"
    never = lambda path: False  # noqa: E731
    assert diagnose.detect_container({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, never, "") == "kubernetes"
    assert diagnose.detect_container({}, lambda p: p == "/run/.containerenv", "") == "podman"
    assert diagnose.detect_container({}, never, "0::/system.slice/docker-abc.scope") == "docker"
    assert diagnose.detect_container({"container": "systemd-nspawn"}, never, "0::/") == "systemd-nspawn"
    assert diagnose.detect_container({}, never, "0::/") is None


def test_summary():
    assert host().summary() == "no Yama, seccomp=off, no CAP_SYS_PTRACE"
    busy = host(yama_scope=1, seccomp_mode=2, ptrace_errno=errno.EPERM, has_cap_sys_ptrace=True, platform="wsl1")
    assert busy.summary() == "yama.ptrace_scope=1, seccomp=filter (blocks ptrace), CAP_SYS_PTRACE, wsl1"


def test_reads_this_machine():
    h = HostFacts.read()
    assert h.uid == os.geteuid() and h.proc_is_own_namespace
    assert h.ptrace_errno in (errno.ESRCH, errno.EPERM, errno.ENOSYS)
    me = TargetFacts.read(os.getpid())
    assert me.exists and me.tgid == os.getpid() and not me.is_zombie and me.name
    assert not TargetFacts.read(-1).exists


# ------------------------------------------------------------------ perf breakpoints (--no-stop, --count)


@pytest.mark.parametrize("facts, paranoid, phrases", [
    (dict(), 3, ["kernel.perf_event_paranoid=3", "sysctl -w kernel.perf_event_paranoid=2", "CAP_PERFMON"]),
    (dict(seccomp_mode=2, container="docker"), 2, ["docker", "Seccomp: 2", "--cap-add=PERFMON"]),
    (dict(), 2, ["kernel.perf_event_paranoid=2", "LSM", "run as root"]),
])
def test_perf_refusal_names_the_value_and_the_fix(facts, paranoid, phrases):
    message = diagnose.explain_perf_refused(errno.EACCES, "--no-stop", paranoid=paranoid, host=host(**facts))
    assert one_or_two_lines(message) and "EACCES" in message and "--trace without --no-stop" in message
    for phrase in phrases:
        assert phrase in message, message


def test_perf_missing_pmu_is_named():
    message = diagnose.explain_perf_refused(errno.ENOENT, "--count", paranoid=2, host=host(platform="gvisor"))
    assert "no breakpoint PMU" in message and "--trace without --count" in message
