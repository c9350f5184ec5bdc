"""Starting a process under ptrace, or seizing every thread of a running one (a part of Inferior).

A spawned child stops itself before exec and is seized there, so its exec is traced; an
attached process is seized thread by thread until its thread list stops growing.
"""
from __future__ import annotations

import errno
import os
import signal
from typing import Optional, Sequence

from ..errors import PtraceError, TargetError
from ..linux import procfs
from ..linux import ptrace as sc
from ..linux import seccomp
from .reaper import REAPER


def _diagnose():
    """hwdbg.diagnose, imported when a failure needs explaining: a start that works does without it."""
    from .. import diagnose
    return diagnose


# Forks are traced only to let the child go at once, after on_fork removed our int3s from its copy.
TRACE_OPTIONS = (sc.PTRACE_O_TRACECLONE | sc.PTRACE_O_TRACEEXEC | sc.PTRACE_O_TRACEEXIT | sc.PTRACE_O_TRACEFORK
                 | sc.PTRACE_O_TRACEVFORK | sc.PTRACE_O_TRACEVFORKDONE | sc.PTRACE_O_TRACESYSGOOD)


class Launch:
    """Inferior's constructors: spawn and attach."""

    @classmethod
    def spawn(cls, argv: Sequence[str], *, env: Optional[dict] = None, cwd: Optional[str] = None,
              stdin: Optional[int] = None, stdout: Optional[int] = None, stderr: Optional[int] = None,
              exitkill: bool = True, kernel_filter: Optional[bytes] = None) -> "Inferior":
        """Starts argv stopped at its first instruction after exec, with every option set.

        The child stops itself before exec; we seize it there, so the exec is traced.
        ``kernel_filter``: a seccomp program the child installs before exec (kernel writes).
        """
        if not argv:
            raise TargetError("no program to run")
        path = find_program(argv[0])
        environ = dict(os.environ if env is None else env)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # child: only async-signal-safe work, then exec
            try:
                os.close(err_r)
                for fd, src in ((0, stdin), (1, stdout), (2, stderr)):
                    if src is not None and src != fd:
                        os.dup2(src, fd)
                if cwd is not None:
                    os.chdir(cwd)
                os.kill(os.getpid(), signal.SIGSTOP)
                if kernel_filter is not None and seccomp.install(kernel_filter) != 0:
                    os.write(err_w, b"seccomp")
                    os._exit(127)
                os.execve(path, list(argv), environ)
            except OSError as exc:
                os.write(err_w, f"{exc.errno}".encode())
            finally:
                os._exit(127)
        os.close(err_w)
        options = (TRACE_OPTIONS | (sc.PTRACE_O_EXITKILL if exitkill else 0)
                   | (sc.PTRACE_O_TRACESECCOMP if kernel_filter is not None else 0))
        self = cls(pid, spawned=True, options=options)
        self.filtered = kernel_filter is not None
        try:
            _, status = os.waitpid(pid, os.WUNTRACED)
            if not os.WIFSTOPPED(status):
                raise TargetError(f"{argv[0]}: the child exited before it could be traced")
            try:
                sc.seize(pid, options)
            except PtraceError as exc:
                raise _diagnose().explain_spawn_failure(exc.errno) from None
            self._add_thread(pid, running=True)
            os.kill(pid, signal.SIGCONT)
            self._run_to_exec(argv[0], err_r)
        except BaseException:
            self._abandon()
            raise
        finally:
            os.close(err_r)
        return self

    def _run_to_exec(self, name: str, err_r: int) -> None:
        """Resumes the stopped-self child until its exec (or its failure) is reported."""
        while True:
            tid, status = REAPER.next_status(self)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self._forget()
                code = os.read(err_r, 64).decode() or "0"
                if code == "seccomp":
                    raise TargetError(f"cannot start {name}: the kernel refused the kernel-write seccomp filter")
                reason = os.strerror(int(code)) if code.isdigit() and int(code) else "it exited"
                raise TargetError(f"cannot execute {name}: {reason}")
            self.threads[tid].running = False
            if status >> 16 == sc.PTRACE_EVENT_EXEC:
                self._open_memory()
                return
            sc.cont(tid, 0)  # the self-SIGSTOP's group-stop, the SIGCONT: all ours, all suppressed
            self.threads[tid].running = True

    @classmethod
    def adopt(cls, pid: int, *, spawned: bool, options: int = TRACE_OPTIONS) -> "Inferior":
        """A forked child we already trace and that is stopped (forks.take_child kept it)."""
        self = cls(pid, spawned=spawned, options=options)
        self._add_thread(pid, running=False)
        self._open_memory()
        return self

    @classmethod
    def attach(cls, pid: int) -> "Inferior":
        """Seizes every thread of a running process and stops them all."""

        if pid == os.getpid():
            raise TargetError(f"cannot attach to {pid}: that is hwdbg itself")
        tgid = procfs.thread_group(pid)
        if tgid == os.getpid():
            raise TargetError(f"cannot attach to {pid}: it is a thread of hwdbg itself, which cannot trace itself")
        if tgid is not None and tgid != pid:
            raise TargetError(f"{pid} is a thread of process {tgid}; attach {tgid} (all its threads are traced)")
        self = cls(pid, spawned=False, options=TRACE_OPTIONS)
        try:
            seen: set[int] = set()
            while True:  # threads may be created while we attach: repeat until the list is stable
                tids = set(_list_tasks(pid)) - seen
                if not tids:
                    break
                for tid in sorted(tids):
                    try:
                        sc.seize(tid, TRACE_OPTIONS)
                    except PtraceError as exc:
                        if exc.errno == errno.ESRCH and tid != pid:
                            continue  # the thread ended meanwhile
                        raise _diagnose().explain_attach_failure(pid, exc.errno) from None
                    seen.add(tid)
                    if tid not in self.threads:
                        self._add_thread(tid, running=True)
            self._open_memory()
            self.stop_all()
        except BaseException:
            self._abandon()
            raise
        return self


def _list_tasks(pid: int) -> list[int]:
    try:
        return procfs.tasks(pid)
    except FileNotFoundError:
        raise _diagnose().explain_attach_failure(pid, errno.ESRCH) from None
    except PermissionError:
        raise TargetError(f"cannot list the threads of process {pid}: permission denied") from None


def find_program(name: str) -> str:
    """The path execve will run for ``name`` (PATH search as the shell does), or a clear error."""
    import shutil  # here: it brings the compression modules, which an attach does not need

    # Not shutil.which's defaults: an empty PATH entry (the current directory) or an unset PATH searches nowhere.
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    found = shutil.which(name, path=os.pathsep.join(dirs))
    if found is not None:
        return found
    candidates = [name] if "/" in name else [os.path.join(d, name) for d in dirs]
    if any(os.path.isfile(path) for path in candidates):
        raise TargetError(f"cannot execute {name}: permission denied")
    raise TargetError(f"cannot execute {name}: no such file")
