"""Why the kernel refused to let us trace: Yama, seccomp, capabilities, namespaces, emulators.

``HostFacts`` is read from /proc; the ``explain_*`` functions pick the message from the
facts alone, so the choice is unit-tested with made-up facts where a condition cannot
be produced on the test machine.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Optional

from .errors import AttachDenied, TargetError

CAP_SYS_PTRACE = 19


@dataclass(frozen=True)
class HostFacts:
    yama_scope: Optional[int]  # None: no Yama
    seccomp_mode: int  # 0 off, 1 strict, 2 filter
    has_cap_sys_ptrace: bool
    uid: int

    @classmethod
    def read(cls) -> "HostFacts":
        return cls(yama_scope=_read_int("/proc/sys/kernel/yama/ptrace_scope"),
                   seccomp_mode=_status_field("self", "Seccomp", 0),
                   has_cap_sys_ptrace=bool(_status_field("self", "CapEff", 0, base=16) >> CAP_SYS_PTRACE & 1),
                   uid=os.geteuid())

    def summary(self) -> str:
        yama = "no Yama" if self.yama_scope is None else f"yama.ptrace_scope={self.yama_scope}"
        seccomp = {0: "seccomp=off", 1: "seccomp=strict", 2: "seccomp=filter"}.get(self.seccomp_mode, "seccomp=?")
        cap = "CAP_SYS_PTRACE" if self.has_cap_sys_ptrace else "no CAP_SYS_PTRACE"
        return f"{yama}, {seccomp}, {cap}"


@dataclass(frozen=True)
class TargetFacts:
    exists: bool
    uid: Optional[int]
    is_kernel_thread: bool
    is_zombie: bool
    traced_by: int  # TracerPid, 0 if none

    @classmethod
    def read(cls, pid: int) -> "TargetFacts":
        if not os.path.exists(f"/proc/{pid}"):
            return cls(False, None, False, False, 0)
        uid_line = _status_text(str(pid), "Uid")
        state = _status_text(str(pid), "State") or ""
        kthread = False
        try:
            with open(f"/proc/{pid}/stat") as f:
                flags = int(f.read().rsplit(")", 1)[1].split()[6])
            kthread = bool(flags & 0x00200000)  # PF_KTHREAD
        except (OSError, ValueError, IndexError):
            pass
        return cls(True, int(uid_line.split()[1]) if uid_line else None, kthread,
                   state.startswith("Z"), _status_field(str(pid), "TracerPid", 0))


def explain_attach_failure(pid: int, err: int, host: Optional[HostFacts] = None,
                           target: Optional[TargetFacts] = None) -> TargetError:
    """The error to raise when PTRACE_SEIZE of ``pid`` failed with ``err``."""
    host = host or HostFacts.read()
    target = target or TargetFacts.read(pid)
    if not target.exists or err == errno.ESRCH:
        return TargetError(f"no such process {pid} in this PID namespace")
    if target.is_kernel_thread:
        return AttachDenied(f"cannot attach to {pid}: it is a kernel thread, which ptrace cannot trace")
    if target.is_zombie:
        return TargetError(f"cannot attach to {pid}: it has exited (zombie) and runs no code")
    if target.traced_by:
        return AttachDenied(f"cannot attach to {pid}: it is already traced by process {target.traced_by} "
                            "(a debugger or strace); detach that one first")
    if err in (errno.ENOSYS, errno.EIO):
        return AttachDenied(f"cannot attach to {pid}: ptrace is not implemented here (emulated amd64? WSL1?)")
    if err not in (errno.EPERM, errno.EACCES):
        return AttachDenied(f"cannot attach to {pid}: {errno.errorcode.get(err, err)} ({os.strerror(err)})")
    return AttachDenied(f"cannot attach to {pid}: {_permission_reason(host, target)}")


def _permission_reason(host: HostFacts, target: TargetFacts) -> str:
    if host.yama_scope == 3:
        return ("kernel.yama.ptrace_scope=3 forbids all ptrace attach until reboot; "
                "start the program under hwdbg instead (hwdbg -- PROGRAM)")
    if host.yama_scope == 2 and not host.has_cap_sys_ptrace:
        return ("kernel.yama.ptrace_scope=2 only allows tracing with CAP_SYS_PTRACE; run hwdbg as root, "
                "or (host admin) sudo sysctl -w kernel.yama.ptrace_scope=1")
    if target.uid is not None and target.uid != host.uid and not host.has_cap_sys_ptrace:
        return (f"PID belongs to uid {target.uid}, you are uid {host.uid}; attaching needs the same uid "
                "or CAP_SYS_PTRACE (sudo, or --cap-add=SYS_PTRACE in a container)")
    if host.yama_scope == 1 and not host.has_cap_sys_ptrace:
        return ("kernel.yama.ptrace_scope=1 only allows tracing descendants; start it under hwdbg "
                "(hwdbg -- PROGRAM), use CAP_SYS_PTRACE, or: sudo sysctl -w kernel.yama.ptrace_scope=0")
    if host.seccomp_mode == 2:
        return ("ptrace is blocked by this container's seccomp profile; run the container with "
                "--cap-add=SYS_PTRACE (kernels < 4.8: --security-opt seccomp=unconfined)")
    if not host.has_cap_sys_ptrace:
        return ("permission denied (not dumpable, or an LSM such as AppArmor forbids it); "
                "run hwdbg with CAP_SYS_PTRACE")
    return "permission denied by the kernel (an LSM such as AppArmor or SELinux?)"


def explain_spawn_failure(err: int, host: Optional[HostFacts] = None) -> TargetError:
    """The error to raise when tracing a child we started failed."""
    host = host or HostFacts.read()
    if err in (errno.ENOSYS, errno.EIO):
        return AttachDenied("ptrace is not implemented here (emulated amd64? WSL1?)")
    if host.yama_scope == 3:
        return AttachDenied("kernel.yama.ptrace_scope=3 forbids ptrace entirely until reboot")
    if host.seccomp_mode == 2:
        return AttachDenied("ptrace is blocked by this container's seccomp profile; run the container with "
                            "--cap-add=SYS_PTRACE (kernels < 4.8: --security-opt seccomp=unconfined)")
    if host.yama_scope == 2 and not host.has_cap_sys_ptrace:
        return AttachDenied("kernel.yama.ptrace_scope=2 only allows tracing with CAP_SYS_PTRACE; run hwdbg as root")
    return AttachDenied(f"the kernel refused to trace our own child: {errno.errorcode.get(err, err)} "
                        f"({os.strerror(err)})")


def _read_int(path: str) -> Optional[int]:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _status_text(pid: str, field: str) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _status_field(pid: str, field: str, default: int, base: int = 10) -> int:
    text = _status_text(pid, field)
    try:
        return int(text.split()[0], base) if text else default
    except ValueError:
        return default
