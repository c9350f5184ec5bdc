"""The symbol-table facts `break NAME` is built from (symbols/function_sites.py), checked
against binutils' own reading of the same files (readelf), no process needed."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwdbg.symbols import ElfImage
from hwdbg.symbols.function_sites import jump_slots, named_entries, plt_stubs

TARGETS = Path(__file__).resolve().parents[1] / "targets"
needs_readelf = pytest.mark.skipif(shutil.which("readelf") is None or shutil.which("objdump") is None,
                                   reason="binutils is not installed")


def _exe(build_target) -> Path:
    return build_target("multi_defs", cflags=(str(TARGETS / "multi_unit.c"), "-Wl,--no-as-needed"),
                        libs=("multi_lib",))


@needs_readelf
def test_every_function_of_a_name_is_found_with_its_binding(build_target):
    exe = _exe(build_target)
    out = subprocess.run(["readelf", "-sW", str(exe)], stdout=subprocess.PIPE, text=True, check=True).stdout
    expected = sorted({(int(v, 16), b == "LOCAL") for v, t, b, name in
                      re.findall(r"^\s*\d+: ([0-9a-f]+)\s+\d+ (\w+)\s+(\w+)\s+\w+\s+\d+ (\S+)$", out, re.M)
                       if t == "FUNC" and name in ("helper", "twice")})  # .dynsym repeats twice
    image = ElfImage(exe)
    found = sorted((e.value, e.local) for name in ("helper", "twice") for e in named_entries(image, name))
    assert found == expected and len(found) == 3  # two static helpers, one global twice
    assert named_entries(image, "help") == [] and named_entries(image, "helpers") == []
    assert named_entries(image, "unit_call")[0].ifunc is False


@needs_readelf
def test_plt_stubs_and_got_slots_are_objdumps(build_target):
    exe = _exe(build_target)
    dump = subprocess.run(["objdump", "-d", "-j", ".plt", "-j", ".plt.sec", str(exe)], stdout=subprocess.PIPE,
                          text=True).stdout
    stubs = {name: int(addr, 16) for addr, name in re.findall(r"^([0-9a-f]+) <(\w+)@plt>:", dump, re.M)}
    assert stubs and {name: addrs for name, addrs in plt_stubs(ElfImage(exe)).items()} == \
        {name: [addr] for name, addr in stubs.items()}
    relocs = subprocess.run(["readelf", "-rW", str(exe)], stdout=subprocess.PIPE, text=True, check=True).stdout
    slots = {name: int(offset, 16) for offset, name in
             re.findall(r"^([0-9a-f]+)\s+\S+\s+R_X86_64_JUMP_SLOT\s+[0-9a-f]+\s+(\w+)", relocs, re.M)}
    assert jump_slots(ElfImage(exe)) == slots and "strrchr" in slots
