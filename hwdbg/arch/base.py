"""What every architecture backend describes: types, lengths, slots, encodings.

Names follow the kernel's ``include/uapi/linux/hw_breakpoint.h`` so callers can
ask the running architecture what it supports before they ask for it.
"""
from __future__ import annotations

import enum
from typing import Optional, Sequence

from ..recordtype import record


class BpType(enum.IntFlag):
    """Access kinds, numerically the kernel's HW_BREAKPOINT_R/W/RW/X."""

    R = 1
    W = 2
    RW = 3
    X = 4

    @property
    def label(self) -> str:
        return {BpType.R: "r", BpType.W: "w", BpType.RW: "rw", BpType.X: "x"}[self]

    @classmethod
    def parse(cls, text: str) -> "BpType":
        try:
            return {"r": cls.R, "w": cls.W, "rw": cls.RW, "x": cls.X}[text.lower()]
        except KeyError:
            raise ValueError(f"unknown access type {text!r}; use r, w, rw or x") from None


HW_BREAKPOINT_R = BpType.R
HW_BREAKPOINT_W = BpType.W
HW_BREAKPOINT_RW = BpType.RW
HW_BREAKPOINT_X = BpType.X

HW_BREAKPOINT_LEN_1 = 1
HW_BREAKPOINT_LEN_2 = 2
HW_BREAKPOINT_LEN_4 = 4
HW_BREAKPOINT_LEN_8 = 8


@record(frozen=True)
class Chunk:
    """One naturally aligned range one hardware slot can watch."""

    addr: int
    length: int
    type: BpType

    def __str__(self) -> str:
        return f"{self.addr:#x}/{self.length}/{self.type.label}"

    def contains(self, addr: int) -> bool:
        return self.addr <= addr < self.addr + self.length


@record(frozen=True)
class DebugStatus:
    """A decoded status register: which slots fired, and whether a single step did."""

    slots: tuple[int, ...]
    single_step: bool


class ArchSpec:
    """One architecture's debug-register facts. Subclasses fill in the numbers and encodings."""

    name: str = "?"
    nslots: int = 0
    lengths: tuple[int, ...] = ()
    native_types: frozenset[BpType] = frozenset()
    exec_length: int = 1
    max_user_address: int = 0  # first address the kernel refuses
    control_register: int = 0  # register numbers as the debug-register module counts them
    status_register: int = 0
    manual: str = ""  # where the rules come from, cited in error messages

    def supports(self, bp_type: BpType) -> bool:
        return bp_type in self.native_types

    @property
    def max_length(self) -> int:
        return max(self.lengths)

    def validate(self, addr: int, length: int, bp_type: BpType) -> Chunk:
        """Check one hardware request; return it normalised or raise a ValidationError."""
        raise NotImplementedError

    def encode_control(self, slots: Sequence[Optional[Chunk]]) -> int:
        """The control-register value that arms exactly ``slots`` (None = free slot)."""
        raise NotImplementedError

    def decode_control(self, value: int) -> list[Optional[tuple[BpType, int]]]:
        """Per slot: (type, length) if enabled, else None."""
        raise NotImplementedError

    def decode_status(self, value: int) -> DebugStatus:
        raise NotImplementedError

    def is_string_store(self, code: bytes) -> bool:
        """Whether the instruction at the start of ``code`` can stop once per element written."""
        return False

    def string_store_in_flight(self, code: bytes, regs: object, chunk: Chunk) -> Optional[int]:
        """If a data hit stopped inside a repeated string store, that instruction's length."""
        return None

    register_aliases: dict[str, str] = {}  # gdb's $pc/$sp/$fp -> this architecture's register

    def register_name(self, name: str) -> str:
        """The register a user's name means (``$pc``, ``sp``, ``rip`` -> ``rip``, ``rsp``, ``rip``)."""
        name = name.lstrip("$")
        return self.register_aliases.get(name, name)

    def get_pc(self, regs: object) -> int:
        raise NotImplementedError

    def set_pc(self, regs: object, value: int) -> None:
        """Moves the pc, clearing whatever flag would make a breakpoint there be skipped."""
        raise NotImplementedError

    def get_sp(self, regs: object) -> int:
        raise NotImplementedError

    def get_fp(self, regs: object) -> int:
        raise NotImplementedError
