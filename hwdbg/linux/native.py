"""The one importer of the cffi module ``hwdbg._ptrace`` (debug registers, the C hit loop,
perf breakpoints): a missing build is one clear error here, not an ImportError anywhere."""
from __future__ import annotations

from ..errors import HwdbgError

try:
    from .._ptrace import ffi, lib
except ImportError as exc:  # pragma: no cover - a broken install
    raise HwdbgError(
        "hwdbg._ptrace is not built: reinstall with `pip install .` (needs gcc and the Python headers)"
    ) from exc

__all__ = ["ffi", "lib"]
