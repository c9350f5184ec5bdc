"""Why the kernel refused to let us trace, and what fixes it.

Every refusal is explained on one line, in two parts: what refused and the value that
made it refuse (``kernel.yama.ptrace_scope=1``, ``uid 65534``, ``Seccomp: 2``), then the
fix (``--cap-add=SYS_PTRACE``, ``sudo sysctl -w ...``, ``hwdbg -- PROGRAM``).

``HostFacts`` (about this debugger process and its machine) and ``TargetFacts`` (about
the process it tried to trace) are read from /proc; the ``explain_*`` functions pick the
message from the facts alone, so the choice is unit-tested with made-up facts where a
condition (Yama, WSL1, gVisor, a VM that drops #DB) cannot be produced on the test
machine.

The layers a ptrace request meets, in order: seccomp (containers), capabilities and
uid/dumpable checks, Yama, other LSMs (AppArmor, SELinux), PID namespaces; and outside
the kernel's ptrace code, emulators without ptrace, sandboxes that ignore debug-register
writes (gVisor), hypervisors that never deliver the debug exception.
"""
from __future__ import annotations

import ctypes
import errno
import os
import pwd
from typing import Iterable, Optional, Sequence

from .errors import AttachDenied, TargetError
from .linux import procfs
from .recordtype import record

CAP_SYS_PTRACE = 19
PF_KTHREAD = 0x00200000
SYS_PTRACE_X86_64 = 101
PTRACE_PEEKUSER = 3

# gVisor's fixed /proc/version (pkg/sentry/fsimpl/proc); its debug registers read back 0.
GVISOR_VERSION = "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016"

SECCOMP_FIX = ("run the container with --cap-add=SYS_PTRACE (kernels < 4.8: --security-opt seccomp=unconfined; "
               "Kubernetes: securityContext.capabilities.add: [SYS_PTRACE])")
EMULATED = {
    "wsl1": "WSL1 has no ptrace of this kind; use WSL2 (wsl --set-version DISTRO 2)",
    "qemu-user": "QEMU user-mode emulation has no ptrace; run on an x86-64 Linux kernel (a VM, not qemu-user)",
    "rosetta": "Rosetta emulation has no ptrace; run on an x86-64 Linux kernel (a VM, not Rosetta)",
    "emulated": "an emulated x86-64 has no ptrace; run on an x86-64 Linux kernel",
}


@record(frozen=True)
class HostFacts:
    """What decides whether this process may trace: read by ``HostFacts.read()``."""

    yama_scope: Optional[int]  # None: no Yama
    seccomp_mode: int  # 0 off, 1 strict, 2 filter
    has_cap_sys_ptrace: bool
    uid: int
    # errno of a harmless ptrace(PTRACE_PEEKUSER, pid 0): ESRCH where ptrace is reachable, EPERM where a
    # seccomp filter returns EPERM for every ptrace, ENOSYS where it is not implemented; None: not tried.
    ptrace_errno: Optional[int] = None
    container: Optional[str] = None  # docker, podman, kubernetes, lxc, container; None: none seen
    platform: Optional[str] = None  # wsl1, gvisor, qemu-user, rosetta, emulated; None: a plain kernel
    hypervisor: Optional[str] = None  # "a VM", or the vendor ("QEMU", "Xen"...) when known
    proc_is_own_namespace: bool = True  # /proc belongs to this process's PID namespace
    lsm_label: Optional[str] = None  # our AppArmor/SELinux label, None if unconfined or no LSM

    @classmethod
    def read(cls) -> "HostFacts":
        seccomp = procfs.status_int("self", "Seccomp", 0)
        return cls(yama_scope=procfs.read_int("/proc/sys/kernel/yama/ptrace_scope"),
                   seccomp_mode=seccomp,
                   has_cap_sys_ptrace=bool(procfs.status_int("self", "CapEff", 0, base=16) >> CAP_SYS_PTRACE & 1),
                   uid=os.geteuid(),
                   ptrace_errno=ptrace_syscall_errno(),
                   container=detect_container(),
                   platform=detect_platform(procfs.read_text("/proc/version"), _first_cpu("/proc/cpuinfo"),
                                            procfs.listdir("/proc/sys/fs/binfmt_misc")),
                   hypervisor=detect_hypervisor(_first_cpu("/proc/cpuinfo"),
                                                procfs.read_text("/sys/class/dmi/id/sys_vendor"),
                                                procfs.read_text("/sys/hypervisor/type")),
                   proc_is_own_namespace=_proc_is_own_namespace(),
                   lsm_label=_lsm_label("self"))

    @property
    def seccomp_blocks_ptrace(self) -> bool:
        """A seccomp filter is installed and refuses ptrace itself (not just one target)."""
        return self.seccomp_mode == 2 and self.ptrace_errno in (errno.EPERM, errno.EACCES)

    @property
    def ptrace_missing(self) -> bool:
        return self.ptrace_errno == errno.ENOSYS or self.platform in EMULATED

    def summary(self) -> str:
        yama = "no Yama" if self.yama_scope is None else f"yama.ptrace_scope={self.yama_scope}"
        seccomp = {0: "seccomp=off", 1: "seccomp=strict", 2: "seccomp=filter"}.get(self.seccomp_mode, "seccomp=?")
        if self.seccomp_blocks_ptrace:
            seccomp += " (blocks ptrace)"
        cap = "CAP_SYS_PTRACE" if self.has_cap_sys_ptrace else "no CAP_SYS_PTRACE"
        extra = "".join(f", {x}" for x in (self.platform,) if x)
        return f"{yama}, {seccomp}, {cap}{extra}"

    def who(self) -> str:
        return f"uid {self.uid}{_user_name(self.uid)}"


@record(frozen=True)
class TargetFacts:
    """What /proc says about the process we tried to trace."""

    exists: bool
    uid: Optional[int]
    is_kernel_thread: bool
    is_zombie: bool
    traced_by: int  # TracerPid, 0 if none
    name: Optional[str] = None
    tgid: Optional[int] = None  # the process a thread id belongs to
    ppid: Optional[int] = None
    dumpable: Optional[bool] = None  # None: cannot tell (a root process)
    lsm_label: Optional[str] = None

    @classmethod
    def read(cls, pid: int) -> "TargetFacts":
        proc = f"/proc/{pid}"
        if pid <= 0 or not os.path.exists(proc):
            return cls(False, None, False, False, 0)
        uid_line = procfs.status_text(pid, "Uid")
        uid = int(uid_line.split()[1]) if uid_line else None
        state = procfs.status_text(pid, "State") or ""
        fields = procfs.stat_fields(pid) or []
        kthread = len(fields) > 6 and fields[6].isdigit() and bool(int(fields[6]) & PF_KTHREAD)
        return cls(True, uid, kthread, state.startswith("Z"), procfs.status_int(pid, "TracerPid", 0),
                   name=procfs.status_text(pid, "Name"), tgid=procfs.status_int(pid, "Tgid", 0) or None,
                   ppid=procfs.status_int(pid, "PPid", 0) or None, dumpable=_dumpable(proc, uid),
                   lsm_label=_lsm_label(str(pid)))

    def who(self, pid: int) -> str:
        return f"{pid} ({self.name})" if self.name else str(pid)


# ------------------------------------------------------------------ attach


def explain_attach_failure(pid: int, err: int, host: Optional[HostFacts] = None,
                           target: Optional[TargetFacts] = None) -> TargetError:
    """The error to raise when PTRACE_SEIZE of ``pid`` failed with ``err``."""
    host = host or HostFacts.read()
    target = target or TargetFacts.read(pid)
    me = os.getpid()
    if pid == me or target.tgid == me:
        what = "hwdbg itself" if pid == me else f"a thread of hwdbg itself (PID {me})"
        return TargetError(f"cannot attach to {pid}: that is {what}, and a process cannot trace itself. "
                           "Run hwdbg from another process, or start the program under it (hwdbg -- PROGRAM).")
    if not target.exists:
        return TargetError(f"no such process {pid} in this PID namespace: it has exited, or it runs in another "
                           "container (run hwdbg inside it: docker exec, kubectl debug --target, nsenter -t PID -p).")
    if err == errno.ESRCH:
        if target.is_zombie:
            return _zombie(pid, target)
        if not host.proc_is_own_namespace:
            return TargetError(f"no such process {pid} in this PID namespace: /proc shows it, but this /proc "
                               "belongs to another PID namespace. Run hwdbg in the target's namespace "
                               "(nsenter -t PID -p, docker exec).")
        return TargetError(f"no such process {pid} in this PID namespace: it exited while hwdbg attached.")
    if target.is_kernel_thread:
        return AttachDenied(f"cannot attach to {target.who(pid)}: it is a kernel thread, which runs no user code "
                            "and cannot be traced. Pick a user-space process.")
    if target.is_zombie:
        return _zombie(pid, target)
    if target.traced_by and target.traced_by != me:
        tracer = TargetFacts.read(target.traced_by)
        return AttachDenied(f"cannot attach to {target.who(pid)}: it is already traced by process "
                            f"{tracer.who(target.traced_by)}. Detach that debugger or strace first; "
                            "a process has one tracer at a time.")
    if err in (errno.ENOSYS, errno.EIO) or host.ptrace_errno == errno.ENOSYS:
        return AttachDenied(f"cannot attach to {pid}: {_not_implemented(err, host)}")
    if err not in (errno.EPERM, errno.EACCES):
        return AttachDenied(f"cannot attach to {pid}: PTRACE_SEIZE failed with {_errname(err)} ({os.strerror(err)}). "
                            "This is unexpected: please report it with the output of `hwdbg --probe`.")
    return AttachDenied(f"cannot attach to {target.who(pid)}: {_permission_reason(pid, host, target)}")


def _zombie(pid: int, target: TargetFacts) -> TargetError:
    parent = f" (PID {target.ppid})" if target.ppid else ""
    return TargetError(f"cannot attach to {target.who(pid)}: it has exited and is a zombie waiting for its parent"
                       f"{parent} to reap it; there is no code left to trace.")


def _permission_reason(pid: int, host: HostFacts, target: TargetFacts) -> str:
    if host.seccomp_blocks_ptrace:
        return f"ptrace is blocked by {_seccomp_what(host)} (Seccomp: 2). {_cap(SECCOMP_FIX)}."
    if host.yama_scope == 3:
        return ("kernel.yama.ptrace_scope=3 forbids every ptrace, and it cannot be lowered until reboot. "
                "Set kernel.yama.ptrace_scope=1 in /etc/sysctl.d/ and reboot.")
    if host.yama_scope == 2 and not host.has_cap_sys_ptrace:
        return ("kernel.yama.ptrace_scope=2 only lets processes with CAP_SYS_PTRACE attach. Run hwdbg as root "
                f"(sudo) or with CAP_SYS_PTRACE{_in_container(host)}; or, as the host's admin: "
                "sudo sysctl -w kernel.yama.ptrace_scope=1")
    if target.uid is not None and target.uid != host.uid and not host.has_cap_sys_ptrace:
        return (f"it belongs to uid {target.uid}{_user_name(target.uid)}, and hwdbg runs as {host.who()} "
                "without CAP_SYS_PTRACE. Attach as that user or as root (sudo), or grant CAP_SYS_PTRACE"
                f"{_in_container(host)}.")
    if target.dumpable is False and not host.has_cap_sys_ptrace:
        return ("it is not dumpable (setuid/setgid, file capabilities, or prctl(PR_SET_DUMPABLE, 0)), so only "
                f"CAP_SYS_PTRACE may attach. Run hwdbg as root (sudo){_in_container(host)}.")
    if host.yama_scope == 1 and not host.has_cap_sys_ptrace and not _is_descendant(pid):
        return ("kernel.yama.ptrace_scope=1 only allows tracing descendants. Start it under hwdbg (hwdbg -- PROGRAM), "
                "use CAP_SYS_PTRACE, or: sudo sysctl -w kernel.yama.ptrace_scope=0")
    if host.seccomp_mode == 2 and host.ptrace_errno is None:
        return f"ptrace is probably blocked by {_seccomp_what(host)} (Seccomp: 2). {_cap(SECCOMP_FIX)}."
    lsm = _lsm_reason(host, target)
    if lsm:
        return lsm
    if not host.has_cap_sys_ptrace:
        return ("permission denied (the target may be non-dumpable, or an LSM forbids it). "
                f"Run hwdbg with CAP_SYS_PTRACE (sudo){_in_container(host)}.")
    return ("permission denied although hwdbg has CAP_SYS_PTRACE: an LSM (AppArmor, SELinux) forbids it. "
            "Check the audit log (journalctl -k | grep -i denied).")


def _lsm_reason(host: HostFacts, target: TargetFacts) -> Optional[str]:
    if not host.lsm_label or host.lsm_label == target.lsm_label:
        return None
    if ":" in host.lsm_label:  # SELinux user:role:type:level
        return (f"SELinux forbids it (hwdbg runs as {host.lsm_label}, the target as {target.lsm_label or '?'}). "
                "Check ausearch -m avc; in a container, --security-opt label=disable.")
    return (f"AppArmor profile '{host.lsm_label}' may not trace a process confined by "
            f"'{target.lsm_label or 'unconfined'}'. Run both under one profile, or the container with "
            "--security-opt apparmor=unconfined.")


# ------------------------------------------------------------------ spawn


def explain_spawn_failure(err: int, host: Optional[HostFacts] = None) -> TargetError:
    """The error to raise when tracing a child we started failed."""
    host = host or HostFacts.read()
    if err in (errno.ENOSYS, errno.EIO) or host.ptrace_errno == errno.ENOSYS:
        return AttachDenied(_not_implemented(err, host))
    if host.seccomp_blocks_ptrace or (host.seccomp_mode == 2 and host.ptrace_errno is None):
        return AttachDenied(f"ptrace is blocked by {_seccomp_what(host)} (Seccomp: 2; PTRACE_SEIZE: "
                            f"{_errname(err)}). {_cap(SECCOMP_FIX)}.")
    if host.yama_scope == 3:
        return AttachDenied("kernel.yama.ptrace_scope=3 forbids all ptrace, even of our own child, until reboot. "
                            "Set kernel.yama.ptrace_scope=1 in /etc/sysctl.d/ and reboot.")
    if host.yama_scope == 2 and not host.has_cap_sys_ptrace:
        return AttachDenied("kernel.yama.ptrace_scope=2 only lets processes with CAP_SYS_PTRACE trace, even their "
                            f"own children. Run hwdbg as root (sudo){_in_container(host)}.")
    if host.seccomp_mode == 2:
        return AttachDenied(f"the kernel refused to trace our own child ({_errname(err)}) and a seccomp filter "
                            f"is installed (Seccomp: 2). {_cap(SECCOMP_FIX)}.")
    return AttachDenied(f"the kernel refused to trace our own child ({_errname(err)}): an LSM (AppArmor, SELinux) "
                        "may forbid ptrace. Check the audit log (journalctl -k | grep -i denied).")


def _not_implemented(err: int, host: HostFacts) -> str:
    fix = EMULATED.get(host.platform or "", "run on an x86-64 Linux kernel (a VM or a container, not an emulator)")
    where = {"wsl1": "WSL1", "qemu-user": "QEMU user mode", "rosetta": "Rosetta"}.get(host.platform or "",
                                                                                  "emulated amd64? WSL1?")
    return f"ptrace is not implemented here ({where}; PTRACE_SEIZE: {_errname(err)}). {_cap(fix)}."


# ------------------------------------------------------------------ debug registers


def explain_ignored_writes(written: Optional[Sequence[int]] = None, read_back: Optional[Sequence[int]] = None,
                           host: Optional[HostFacts] = None, detail: str = "") -> str:
    """The probe wrote (DR0, DR7) and read back something else: the writes are accepted and dropped."""
    host = host or HostFacts.read()
    if written is not None and read_back is not None:
        detail = (f"wrote DR0={written[0]:#x} DR7={written[1]:#x}, read back DR0={read_back[0]:#x} "
                  f"DR7={read_back[1]:#x}")
    where = "gVisor" if host.platform == "gvisor" else "gVisor or an emulator?"
    detail = f"{detail}; {where}" if detail else where
    return (f"debug-register writes are ignored here ({detail}). Hardware watchpoints need a real kernel: "
            "run the container with runc (docker --runtime=runc), not gVisor's runsc.")


def explain_no_trap(detail: str = "", host: Optional[HostFacts] = None) -> str:
    """A watchpoint was armed and read back correctly, but the write did not trap."""
    host = host or HostFacts.read()
    vm = f"this VM ({host.hypervisor})" if host.hypervisor and host.hypervisor != "a VM" else "this VM"
    extra = f" ({detail})" if detail else ""
    return (f"a test watchpoint did not trigger{extra}: {vm} does not deliver debug exceptions to the guest "
            "(AMD SEV without DebugSwap?). Run on bare metal or a VM type that virtualises DR0-DR7.")


def explain_slots_busy(tid: int, holders: Optional[Sequence[tuple[int, str]]] = None, nslots: int = 4) -> str:
    """ENOSPC from a debug-register write: every slot of the thread is held by perf_event breakpoints.

    ``holders`` are (pid, name) of processes with perf_event file descriptors open
    (default: found in /proc, which needs root to see other users' descriptors).
    """
    if holders is None:
        holders = perf_event_holders()
    if holders:
        shown = ", ".join(f"{pid} ({name})" for pid, name in holders[:3])
        more = f" and {len(holders) - 3} more" if len(holders) > 3 else ""
        who = f"perf events are open in PID {shown}{more}"
    else:
        who = "perf record -e mem:ADDR, another debugger's hardware breakpoints"
    return (f"no free debug register in thread {tid}: all {nslots} are held by perf or another tool ({who}). "
            "Stop that tool, or delete some of its breakpoints, then retry.")


def explain_perf_refused(err: int, what: str, *, paranoid: Optional[int] = None,
                         host: Optional[HostFacts] = None) -> str:
    """perf_event_open refused a breakpoint event (``what``: --no-stop, --count) with ``err``."""
    if paranoid is None:
        paranoid = procfs.read_int("/proc/sys/kernel/perf_event_paranoid")
    host = host or HostFacts.read()
    name = _errname(err)
    instead = "use --trace without " + what
    if err in (errno.ENOSYS, errno.ENOENT, errno.EOPNOTSUPP):
        return (f"perf breakpoints are not available here (perf_event_open: {name}; no breakpoint PMU in this "
                f"kernel or sandbox): {instead}")
    if err in (errno.EACCES, errno.EPERM):
        if paranoid is not None and paranoid > 2:
            return (f"perf_event_open refused ({name}): kernel.perf_event_paranoid={paranoid} forbids perf events "
                    f"to users without CAP_PERFMON; sudo sysctl -w kernel.perf_event_paranoid=2, run as root, or "
                    f"{instead}")
        if host.seccomp_mode == 2 or host.container:
            where = host.container or "a seccomp filter"
            return (f"perf_event_open refused ({name}) by {where} (Seccomp: {host.seccomp_mode}): run the container "
                    f"with --cap-add=PERFMON (or a seccomp profile allowing perf_event_open), or {instead}")
        return (f"perf_event_open refused ({name}; kernel.perf_event_paranoid={paranoid}): an LSM may forbid "
                f"perf, or the target belongs to another user; run as root, or {instead}")
    return f"perf_event_open failed ({name}: {os.strerror(err)}): {instead}"


def perf_event_holders(limit: int = 4096) -> list[tuple[int, str]]:
    """(pid, name) of processes with a perf_event file descriptor open, as far as /proc lets us see."""
    found = []
    for entry in procfs.listdir("/proc")[:limit]:
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") == "anon_inode:[perf_event]":
                    found.append((int(entry), procfs.status_text(entry, "Name") or "?"))
                    break
            except OSError:
                continue
    return found


# ------------------------------------------------------------------ detection


def ptrace_syscall_errno() -> Optional[int]:
    """errno of ptrace(PTRACE_PEEKUSER, 0, 0, 0), which touches nothing: ESRCH where ptrace is reachable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        ctypes.set_errno(0)
        rc = libc.syscall(ctypes.c_long(SYS_PTRACE_X86_64), ctypes.c_long(PTRACE_PEEKUSER), ctypes.c_long(0),
                          ctypes.c_long(0), ctypes.c_long(0))
        return ctypes.get_errno() if rc == -1 else 0
    except (OSError, AttributeError):
        return None


def detect_container(environ: Optional[dict] = None, exists=os.path.exists,
                     cgroup: Optional[str] = None) -> Optional[str]:
    environ = os.environ if environ is None else environ
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if exists("/run/.containerenv"):
        return "podman"
    if exists("/.dockerenv"):
        return "docker"
    cgroup = procfs.read_text("/proc/1/cgroup") if cgroup is None else cgroup
    for marker, name in (("kubepods", "kubernetes"), ("docker", "docker"), ("libpod", "podman"), ("lxc", "lxc")):
        if marker in cgroup:
            return name
    if environ.get("container"):
        return environ["container"]
    return None


def detect_platform(version: str, cpuinfo: str, binfmt: Iterable[str] = ()) -> Optional[str]:
    """wsl1, gvisor, rosetta, qemu-user, emulated (x86-64 code on a non-x86 CPU), or None."""
    if "-Microsoft" in version or "Microsoft@Microsoft.com" in version:
        return "wsl1"
    if version.strip().startswith(GVISOR_VERSION):
        return "gvisor"
    arm = "CPU implementer" in cpuinfo or "VirtualApple" in cpuinfo
    names = set(binfmt)
    if arm or "VirtualApple" in cpuinfo:
        if "rosetta" in names:
            return "rosetta"
        if any(n.startswith("qemu-x86_64") for n in names):
            return "qemu-user"
        return "emulated"
    return None


def detect_hypervisor(cpuinfo: str, dmi_vendor: str = "", hypervisor_type: str = "") -> Optional[str]:
    if hypervisor_type.strip():
        return hypervisor_type.strip().capitalize()
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    if "hypervisor" not in flags:
        return None
    vendor = dmi_vendor.strip()
    return vendor or "a VM"


def _proc_is_own_namespace() -> bool:
    try:
        return os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return True


def _is_descendant(pid: int) -> bool:
    me, seen = os.getpid(), 0
    while pid > 1 and seen < 4096:
        pid = procfs.status_int(str(pid), "PPid", 0)
        if pid == me:
            return True
        seen += 1
    return False


def _dumpable(proc: str, uid: Optional[int]) -> Optional[bool]:
    """The files in a non-dumpable process's /proc/PID are owned by root (task_dump_owner); the directory is not."""
    if uid is None or uid == 0:
        return None
    try:
        return os.stat(f"{proc}/status").st_uid == uid
    except OSError:
        return None


def _lsm_label(pid: str) -> Optional[str]:
    for path in (f"/proc/{pid}/attr/apparmor/current", f"/proc/{pid}/attr/current"):
        text = procfs.read_text(path).strip().rstrip("\x00")
        if text:
            label = text.split(" (")[0]  # AppArmor: "docker-default (enforce)"
            return None if label in ("unconfined", "kernel") else label
    return None


def _seccomp_what(host: HostFacts) -> str:
    if host.container == "kubernetes":
        return "this pod's seccomp profile"
    if host.container:
        return f"this {host.container} container's seccomp profile"
    return "a seccomp filter (a container's profile, or systemd's SystemCallFilter=)"


def _in_container(host: HostFacts) -> str:
    if host.container == "kubernetes":
        return " (in a pod: securityContext.capabilities.add: [SYS_PTRACE])"
    if host.container:
        return f" (in a {host.container} container: --cap-add=SYS_PTRACE)"
    return " (in a container: --cap-add=SYS_PTRACE)"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _errname(err: int) -> str:
    return str(errno.errorcode.get(err, err))


def _user_name(uid: int) -> str:
    try:
        return f" ({pwd.getpwuid(uid).pw_name})"
    except (KeyError, OverflowError):
        return ""


def _first_cpu(path: str) -> str:
    """The first processor's block of /proc/cpuinfo (the whole file can be large)."""
    return procfs.read_text(path, limit=8192).split("\n\n", 1)[0]
