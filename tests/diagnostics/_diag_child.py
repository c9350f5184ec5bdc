"""Runs one ptrace experiment in a process of its own and prints the outcome as one JSON line.

hwdbg's wait loop reaps every child of the process it runs in, so experiments that
involve other children (a target started by the test, a zombie's parent) run here,
in a subprocess, never in pytest's own process.

    python _diag_child.py [--seccomp] attach PID
    python _diag_child.py [--seccomp] spawn PROGRAM [ARGS...]
    python _diag_child.py [--seccomp] probe
    python _diag_child.py [--seccomp] facts
    python _diag_child.py attach-self | attach-own-thread
    python _diag_child.py hold PID SECONDS      (attach, print a line, keep it traced a while)

``--seccomp`` first installs a seccomp filter that makes ptrace(2) fail with EPERM
(and allows everything else), as a container runtime's profile would.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
AUDIT_ARCH_X86_64 = 0xC000003E
NR_PTRACE = 101  # x86-64

BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_ptrace_filter() -> None:
    """ptrace -> EPERM on x86-64, everything else allowed; NO_NEW_PRIVS first, as unprivileged code must."""
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (BPF_JEQ_K, 0, 3, AUDIT_ARCH_X86_64),  # another ABI: allow
        (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (BPF_JEQ_K, 0, 1, NR_PTRACE),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    raw = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(raw, len(raw))
    prog = SockFprog(len(program), ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def outcome(action) -> dict:
    try:
        value = action()
    except Exception as exc:  # the point is to report it
        return {"ok": False, "type": type(exc).__name__, "message": str(exc),
                "classes": [c.__name__ for c in type(exc).__mro__]}
    return {"ok": True, "value": value}


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--seccomp":
        install_ptrace_filter()
        argv = argv[1:]
    import hwdbg
    from hwdbg import diagnose

    what, args = argv[0], argv[1:]

    def attach():
        target = hwdbg.attach(int(args[0]))
        threads = target.threads
        target.detach()
        return {"threads": threads}

    def spawn():
        target = hwdbg.spawn(args)
        pid = target.pid
        target.close()
        return {"pid": pid}

    def probe():
        result = hwdbg.probe()
        return {"verdict": result.verdict, "reason": result.reason}

    def facts():
        host = diagnose.HostFacts.read()
        return {"summary": host.summary(), "seccomp_mode": host.seccomp_mode, "ptrace_errno": host.ptrace_errno,
                "blocks": host.seccomp_blocks_ptrace, "uid": host.uid, "cap": host.has_cap_sys_ptrace}

    def attach_self():
        return attach_pid(os.getpid())

    def attach_own_thread():
        import threading
        ready, done = threading.Event(), threading.Event()
        tids = []

        def body():
            tids.append(threading.get_native_id())
            ready.set()
            done.wait(10)

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        ready.wait(10)
        try:
            return attach_pid(tids[0])
        finally:
            done.set()
            thread.join()

    def attach_pid(pid):
        target = hwdbg.attach(pid)
        target.detach()
        return {}

    def hold():
        import time
        target = hwdbg.attach(int(args[0]))
        print(json.dumps({"ok": True, "value": "holding"}), flush=True)
        time.sleep(float(args[1]))
        target.detach()
        return {}

    actions = {"attach": attach, "spawn": spawn, "probe": probe, "facts": facts, "attach-self": attach_self,
               "attach-own-thread": attach_own_thread, "hold": hold}
    print(json.dumps(outcome(actions[what])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
