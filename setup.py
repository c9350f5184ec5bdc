"""Builds hwdbg and its cffi debug-register module (metadata lives in pyproject.toml)."""
import cffi  # noqa: F401  fails loudly here, not with a wheel that lacks hwdbg._ptrace
from setuptools import setup
from setuptools.command.build_ext import build_ext

BUILD_HELP = (
    "hwdbg needs a C compiler, the C library headers and the Python headers to build hwdbg._ptrace.\n"
    "  Debian/Ubuntu: apt-get install gcc libc6-dev python3-dev\n"
    "  Fedora:        dnf install gcc glibc-devel python3-devel\n"
    "  Alpine:        apk add gcc musl-dev python3-dev")


class BuildExtWithHelp(build_ext):
    """Turns a compiler failure into a message that says what to install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # CompileError, DistutilsExecError, OSError(ENOENT) for a missing cc
            raise SystemExit(f"error: building hwdbg._ptrace failed: {exc}\n{BUILD_HELP}") from exc


setup(cffi_modules=["cext/build.py:ffibuilder"], cmdclass={"build_ext": BuildExtWithHelp})
