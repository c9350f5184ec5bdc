"""Backtraces of real stopped processes, unwound with DWARF CFI or frame pointers.

Expected chains come from the targets' source (who calls whom) and from objdump
(each return address must follow a call to the function of the frame below it).
"""
from __future__ import annotations

import contextlib
import re
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

import hwdbg
from hwdbg.records import Frame

pytestmark = pytest.mark.requires_hw_watchpoints

CHAIN = ["level3", "level2", "level1", "main"]
BUILDS = {
    "O0": dict(cflags=()),
    "O2-no-frame-pointer": dict(cflags=("-O2", "-fomit-frame-pointer")),
    "O2-pie": dict(cflags=("-O2", "-fomit-frame-pointer"), pie=True),
    # Without .eh_frame, -g still writes the CFI to .debug_frame.
    "debug-frame-only": dict(cflags=("-fno-asynchronous-unwind-tables",)),
    # No CFI at all for the program's own code: only the frame-pointer chain can walk it.
    "no-cfi": dict(cflags=("-g0", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables")),
}


@contextlib.contextmanager
def started(exe: Path) -> Iterator[hwdbg.Target]:
    """A target that is run to its end before it is closed, even when the test fails.

    Closing a target stopped mid-way SIGKILLs it, and the process layer does not yet
    resume the PTRACE_EVENT_EXIT stop that follows: letting it exit avoids the hang.
    """
    with hwdbg.spawn([str(exe)]) as target:
        try:
            yield target
        finally:
            if target.alive:
                for bp in target.breakpoints:
                    bp.delete()
                target.run_until_exit(timeout=10)


def stop_at_hit(target: hwdbg.Target):
    stop = target.cont(timeout=10)
    while isinstance(stop, hwdbg.Stopped) and not stop.hits:  # e.g. a signal the target handles
        stop = target.cont(timeout=10)
    assert isinstance(stop, hwdbg.Stopped), stop
    return stop


def functions(frames: tuple[Frame, ...]) -> list:
    return [f.function for f in frames]


def return_sites(exe: Path) -> dict[int, str]:
    """Return address -> callee, for every direct call objdump finds in the program."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(exe)], capture_output=True, text=True,
                         check=True).stdout
    sites, pending = {}, None
    for line in out.splitlines():
        match = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if not match:
            continue
        addr = int(match[1], 16)
        if pending is not None:
            sites[addr], pending = pending, None
        callee = re.search(r"<([\w.@]+)>", match[3])
        if match[2].startswith("call") and callee:
            pending = callee[1]
    return sites


def is_subsequence(wanted: list, seen: list) -> bool:
    remaining = iter(seen)
    return all(any(name == got for got in remaining) for name in wanted)


@pytest.mark.parametrize("build", list(BUILDS))
def test_watch_hit_unwinds_to_main(build_target, build):
    exe = build_target("unwind_chain", **BUILDS[build])
    with started(exe) as target:
        target.watch("the_global")
        stop = stop_at_hit(target)
        frames = target.session.backtrace(stop.tid)

        assert functions(frames)[:4] == CHAIN, functions(frames)
        assert frames[0].pc == stop.hits[0].pc
        if not BUILDS[build].get("pie"):
            # Each caller's pc is the return address of a call to the frame below it.
            sites = return_sites(exe)
            for callee, caller in zip(frames[:3], frames[1:4]):
                assert sites.get(caller.pc) == callee.function
        # Past main: glibc's start code, still found through libc's own CFI.
        assert "__libc_start_call_main" in functions(frames)[4:] or frames[4].module.startswith("libc")


def test_hit_inside_libc_memset_unwinds_through_it(build_target):
    exe = build_target("unwind_chain")
    with started(exe) as target:
        buffer = target.address_of("buffer")
        target.watch(buffer + 4096, length=8)
        stop = stop_at_hit(target)
        frames = target.session.backtrace(stop.tid)

        assert frames[0].module.startswith("libc"), frames[0]
        assert functions(frames)[1:3] == ["fill", "main"], functions(frames)
        assert return_sites(exe)[frames[1].pc] == "memset@plt"


def test_o2_hit_inside_memset(build_target):
    exe = build_target("unwind_chain", cflags=("-O2", "-fomit-frame-pointer"))
    with started(exe) as target:
        target.watch(target.address_of("buffer") + 8000, length=8)
        stop = stop_at_hit(target)
        assert functions(target.session.backtrace(stop.tid))[1:3] == ["fill", "main"]


def test_plt_entry_unwinds_with_a_cfa_expression(build_target):
    """The PLT's CFI computes the CFA with a DWARF expression of rsp and rip."""
    exe = build_target("unwind_chain")
    plt = next(addr for addr, name in _symbols_of(exe) if name == "memset@plt")
    with started(exe) as target:
        target.hbreak(plt)
        stop = stop_at_hit(target)
        frames = target.session.backtrace(stop.tid)

        assert frames[0].pc == plt
        assert functions(frames)[1:3] == ["fill", "main"], functions(frames)


def _symbols_of(exe: Path) -> list[tuple[int, str]]:
    out = subprocess.run(["objdump", "-d", str(exe)], capture_output=True, text=True, check=True).stdout
    return [(int(m[1], 16), m[2]) for m in re.finditer(r"^([0-9a-f]+) <([^>]+)>:", out, re.M)]


@pytest.mark.parametrize("cflags", [(), ("-O2", "-fomit-frame-pointer")], ids=["O0", "O2"])
def test_signal_handler_unwinds_through_the_signal_frame(build_target, cflags):
    exe = build_target("unwind_signal", cflags=cflags)
    with started(exe) as target:
        target.watch("the_global")
        stop = stop_at_hit(target)
        names = functions(target.session.backtrace(stop.tid))

        assert names[:2] == ["record", "on_signal"], names
        # The handler returns into the trampoline; beyond it lies the interrupted code.
        assert is_subsequence(["send_signal", "main"], names[2:]), names


def test_limit_caps_the_number_of_frames(build_target):
    exe = build_target("unwind_chain")
    with started(exe) as target:
        target.watch("the_global")
        stop = stop_at_hit(target)
        frames = target.session.backtrace(stop.tid, limit=2)
        assert functions(frames) == ["level3", "level2"]


def test_backtrace_option_on_the_breakpoint(build_target):
    exe = build_target("unwind_chain", cflags=("-O2",))
    with started(exe) as target:
        bp = target.watch("the_global", backtrace=True)
        stop_at_hit(target)
        assert functions(bp.hits[0].backtrace)[:4] == CHAIN


# ---------------------------------------------------------------- CFI rows, without a process


def _normalised(decoded_row: dict) -> tuple:
    """A pyelftools table row as (cfa, {reg: (kind, arg)}), in this module's terms."""
    cfa = decoded_row["cfa"]
    cfa_rule = ("expr", bytes(cfa.expr)) if cfa.expr is not None else (cfa.reg, cfa.offset)
    kinds = {"OFFSET": "offset", "VAL_OFFSET": "val_offset", "REGISTER": "register", "EXPRESSION": "expression",
             "VAL_EXPRESSION": "val_expression", "UNDEFINED": "undefined"}
    rules = {}
    for reg, rule in decoded_row.items():
        if isinstance(reg, int) and rule.type != "SAME_VALUE":
            arg = bytes(rule.arg) if "EXPRESSION" in rule.type else rule.arg
            rules[reg] = (kinds[rule.type], arg)
    return cfa_rule, rules


@pytest.mark.parametrize("path", ["/lib/x86_64-linux-gnu/libc.so.6", "unwind_chain"])
def test_cfi_rows_agree_with_pyelftools_decoder(build_target, path):
    """Every row of every FDE pyelftools can decode itself (it stops at DW_CFA_GNU_args_size)."""
    from hwdbg.symbols.elf import ElfImage
    from hwdbg.symbols.unwind import _index_for, _row_at

    if not path.startswith("/"):
        path = str(build_target(path, cflags=("-O2",)))
    elif not Path(path).exists():
        pytest.skip(f"no {path} here")
    index = _index_for(ElfImage(path))
    checked = 0
    for fde in index.all_fdes():
        try:
            table = fde.get_decoded().table
        except Exception:
            continue
        for row in table:
            ours = _row_at(fde, row["pc"])
            cfa_rule = ("expr", ours.cfa_expr) if ours.cfa_expr is not None else (ours.cfa_reg, ours.cfa_offset)
            assert (cfa_rule, ours.rules) == _normalised(row), (hex(row["pc"]), fde.header)
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("path", ["/lib/x86_64-linux-gnu/libc.so.6", "unwind_chain", "debug-frame-only"])
def test_fde_lookup_through_eh_frame_hdr_agrees_with_a_whole_parse(build_target, path):
    """The .eh_frame_hdr table finds, for the start, the middle and the last byte of every
    function, the FDE a parse of the whole CFI finds (and none just past a function)."""
    import io

    from elftools.dwarf.callframe import FDE, CallFrameInfo
    from elftools.dwarf.structs import DWARFStructs

    from hwdbg.symbols.elf import ElfImage
    from hwdbg.symbols.fde_index import FdeIndex

    if path == "debug-frame-only":
        path = str(build_target("unwind_chain", cflags=BUILDS[path]["cflags"]))
    elif not path.startswith("/"):
        path = str(build_target(path, cflags=("-O2",)))
    elif not Path(path).exists():
        pytest.skip(f"no {path} here")
    elf = ElfImage(path).elf
    structs = DWARFStructs(little_endian=True, dwarf_format=32, address_size=8)
    expected = []
    for name, eh in ((".eh_frame", True), (".debug_frame", False)):
        section = elf.get_section_by_name(name)
        if section is not None:
            data = section.data()
            cfi = CallFrameInfo(io.BytesIO(data), len(data), section["sh_addr"], structs, eh)
            expected += [(e["initial_location"], e["address_range"]) for e in cfi.get_entries()
                         if isinstance(e, FDE) and e["address_range"] > 0]
    assert len(expected) > 3
    starts = {start for start, _ in expected}
    index = FdeIndex(ElfImage(path))
    for start, size in expected:
        for pc in (start, start + size // 2, start + size - 1):
            fde = index.covering(pc)
            assert fde is not None and fde["initial_location"] <= pc < fde["initial_location"] + fde["address_range"], hex(pc)
        end = start + size
        if not any(s <= end < s + n for s, n in expected) and end not in starts:
            assert index.covering(end) is None, hex(end)
