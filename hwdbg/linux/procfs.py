"""Every /proc reader hwdbg has. psutil does not give TracerPid, CapEff, Seccomp or map_files,
so they live here, each one tolerant of a process that vanished while it was read."""
from __future__ import annotations

import functools
import os
from typing import Optional, Union

from ..errors import TargetError
from ..recordtype import record

Pid = Union[int, str]  # a pid, a tid, or "self"


def read_text(path: str, limit: int = 65536) -> str:
    """A file's text, "" when it cannot be read."""
    try:
        with open(path, errors="replace") as f:
            return f.read(limit)
    except OSError:
        return ""


def read_int(path: str) -> Optional[int]:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def status_text(pid: Pid, field: str) -> Optional[str]:
    """One field of /proc/PID/status ("Tgid", "TracerPid", "CapEff", ...), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def status_int(pid: Pid, field: str, default: int, base: int = 10) -> int:
    text = status_text(pid, field)
    try:
        return int(text.split()[0], base) if text else default
    except ValueError:
        return default


def thread_group(tid: int) -> Optional[int]:
    """The process a thread belongs to (Tgid), or None if it is gone."""
    tgid = status_int(tid, "Tgid", -1)
    return None if tgid < 0 else tgid


def stat_fields(pid: Pid) -> Optional[list[str]]:
    """/proc/PID/stat after the command name (field 3, the state, is item 0), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def is_alive(tid: int) -> bool:
    """Whether a thread still exists (a zombie does not count: it has no registers to arm)."""
    fields = stat_fields(tid)
    return bool(fields) and fields[0] not in ("Z", "X")


def last_cpu(pid: Pid) -> Optional[int]:
    """The CPU the task last ran on (stat field 39, "processor")."""
    fields = stat_fields(pid)
    try:
        return int(fields[36]) if fields else None
    except (IndexError, ValueError):
        return None


def tasks(pid: int) -> list[int]:
    """The thread ids of a process; raises FileNotFoundError / PermissionError as os.listdir does."""
    return [int(name) for name in os.listdir(f"/proc/{pid}/task")]


def exe_path(pid: int) -> str:
    return f"/proc/{pid}/exe"


def real_exe(pid: int) -> str:
    """The executable's real path (raises OSError when it cannot be read)."""
    return os.path.realpath(os.readlink(exe_path(pid)).removesuffix(" (deleted)"))


def maps_path(pid: Pid) -> str:
    return f"/proc/{pid}/maps"


def mem_path(pid: int) -> str:
    return f"/proc/{pid}/mem"


def mapped_file(pid: int, start: int, end: int, path: str) -> str:
    """A path that opens the file mapped at [start, end) as the process sees it: map_files/
    (works for deleted files and other mount namespaces), else the process's root."""
    map_file = f"/proc/{pid}/map_files/{start:x}-{end:x}"
    return map_file if os.path.exists(map_file) else f"/proc/{pid}/root{path}"


@functools.lru_cache(maxsize=1)
def mmap_min_addr() -> int:
    value = read_int("/proc/sys/vm/mmap_min_addr")
    return 4096 if value is None else value


# ---------------------------------------------------------------- /proc/PID/maps: what is mapped where

DELETED_SUFFIX = " (deleted)"


@record(frozen=True)
class Mapping:
    """One line of /proc/PID/maps. ``path`` is "" for anonymous memory."""

    start: int
    end: int
    perms: str
    offset: int
    inode: int
    path: str

    @property
    def is_file(self) -> bool:
        """Backed by a file on disk (not [heap], [stack], [vdso] or anonymous memory)."""
        return self.path.startswith("/") and self.inode != 0

    @property
    def deleted(self) -> bool:
        """The file was replaced or removed after it was mapped (e.g. rebuilt)."""
        return self.path.endswith(DELETED_SUFFIX)

    @property
    def file_path(self) -> str:
        """The path without the kernel's " (deleted)" marker."""
        return self.path[: -len(DELETED_SUFFIX)] if self.deleted else self.path

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def __str__(self) -> str:
        return f"{self.start:#x}-{self.end:#x} {self.perms} {self.offset:#x} {self.path}"


def parse_maps_line(line: str) -> Mapping:
    # Fields: address perms offset dev inode [path]; the path may contain spaces.
    parts = line.rstrip("\n").split(maxsplit=5)
    start, end = (int(x, 16) for x in parts[0].split("-"))
    path = parts[5] if len(parts) > 5 else ""
    return Mapping(start, end, parts[1], int(parts[2], 16), int(parts[4]), path)


def read_maps(pid: Union[int, str]) -> list[Mapping]:
    """The mappings of process ``pid`` (or "self"), in address order."""
    try:
        with open(maps_path(pid)) as f:
            text = f.read()
    except FileNotFoundError:
        raise TargetError(f"process {pid} does not exist") from None
    except PermissionError:
        raise TargetError(f"cannot read /proc/{pid}/maps: permission denied") from None
    return [parse_maps_line(line) for line in text.splitlines() if line.strip()]
