"""watch --kernel from the command line: the hit line, the JSON keys, the writers row."""
from __future__ import annotations

import pytest

from ui_helpers import run_hwdbg


@pytest.fixture(scope="module")
def kernel_exe(build_target):
    return build_target("kernel_target")


@pytest.mark.requires_ptrace
def test_cli_hit_and_writers_row_name_the_syscall(kernel_exe):
    run = run_hwdbg("--batch", "--json", "-ex", "watch inbuf --kernel", "-ex", "run", "-ex", "info writers",
                    "-ex", "continue", kernel_exe, "basic")
    hits = run.of("hit")
    assert [(h["writer"], h["syscall"], h["syscall_args"]["count"], h["syscall_result"]) for h in hits] == \
        [("kernel", "read", 16, 14)]
    results = [e for e in run.events if e["event"] == "result" and "writers" in e]
    assert [(w["syscall"], w["count"], w["pc"]) for w in results[0]["writers"]] == [("read", 1, hits[0]["pc"])]
    text = run_hwdbg("--batch", "-ex", "watch inbuf --kernel", "-ex", "run", "-ex", "info writers", kernel_exe, "basic")
    assert "seccomp filter" in text.stdout
    assert "Written by the kernel in read(fd=3, count=16) = 14" in text.stdout
    assert "kernel: read (read+" in text.stdout


@pytest.fixture(scope="module")
def page_exe(build_target):
    return build_target("page_target")


def test_watch_info_breakpoints_and_slots_name_the_page_backend(page_exe):
    run = run_hwdbg("--batch", "-ex", "start", "-ex", "watch big", "-ex", "info breakpoints", "-ex", "info slots",
                    "-ex", "continue", page_exe, "basic", "1")
    out = run.stdout
    assert "backend: page protection, 16 page(s)" in out  # the watch result and info breakpoints
    assert "Watch 2 (big, 65536 bytes): page protection" in out  # info slots
    assert "system calls into its pages: every system call of this process stops twice (PTRACE_SYSCALL" in out
    run = run_hwdbg("--batch", "--json", "-ex", "watch big", "-ex", "run", "-ex", "continue", page_exe, "basic", "1")
    results = [e for e in run.events if e["event"] == "result" and e["command"] == "watch"]
    assert results[0]["breakpoint"]["backend"] == "pages"
    hits = run.of("hit")
    assert hits and all(h["changed"]["length"] == 1 and h["function"] == "put" for h in hits)
