"""Parse /proc/PID/maps: which file is mapped where in a process."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from hwdbg.errors import TargetError

DELETED_SUFFIX = " (deleted)"


@dataclass(frozen=True)
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
        with open(f"/proc/{pid}/maps") as f:
            text = f.read()
    except FileNotFoundError:
        raise TargetError(f"process {pid} does not exist") from None
    except PermissionError:
        raise TargetError(f"cannot read /proc/{pid}/maps: permission denied") from None
    return [parse_maps_line(line) for line in text.splitlines() if line.strip()]
