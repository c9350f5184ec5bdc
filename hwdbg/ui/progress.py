"""How the symbols layer's reports reach the user: "Reading symbols from X..." and a
progress bar on a terminal's stderr while a big file is indexed, one line per notice
(an unusable index cache, a debug file that does not match). Silent with -q; in --json,
``progress`` and ``warning`` events instead."""
from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from .. import records as rec
from ..symbols import index as symbol_index

BAR_WIDTH = 30


class SymbolReporter:
    def __init__(self, output: Any, *, quiet: bool, json: bool, stream: TextIO = sys.stderr) -> None:
        self.output, self.quiet, self.json, self.stream = output, quiet, json, stream
        self._shown: dict[str, int] = {}  # file -> last tenth reported

    def notice(self, message: str) -> None:
        self.output.notice(rec.Notice("warning", message))

    def progress(self, path: str, fraction: float) -> None:
        tenth = int(fraction * 10)
        first = path not in self._shown
        if not first and self._shown[path] == tenth:
            return
        self._shown[path] = tenth
        if self.quiet:
            return
        if self.json:
            self.output.notice(rec.Notice("progress", f"reading symbols from {path}",
                                          data={"file": path, "done": round(fraction, 2)}))
            return
        if not self.stream.isatty():
            return
        if first:
            self.stream.write(f"Reading symbols from {os.path.basename(path)}...\n")
        filled = int(fraction * BAR_WIDTH)
        self.stream.write(f"\r[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {int(fraction * 100):3d}%")
        if fraction >= 1.0:
            self.stream.write("\n")
        self.stream.flush()


def install(output: Any, *, quiet: bool, json: bool, cache: bool) -> SymbolReporter:
    """Route the symbols layer's notices and progress to ``output`` (and stderr)."""
    reporter = SymbolReporter(output, quiet=quiet, json=json)
    symbol_index.configure(cache=cache, notice=reporter.notice, progress=reporter.progress)
    return reporter
