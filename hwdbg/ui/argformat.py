"""argparse's help formatter, told the terminal's width.

argparse makes a formatter at every ``add_argument`` (to check the metavar) and finds the width
through ``shutil``, whose import brings the compression modules: ~1.5 ms of every start, for a
width only ``--help`` and a usage error print."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional


def columns() -> int:
    """shutil.get_terminal_size's columns: $COLUMNS, else the terminal's, else 80."""
    try:
        width = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        width = 0
    if width <= 0:
        try:
            width = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            width = 0
    return width or 80


class HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: Optional[int] = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, columns() - 2 if width is None else width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse's RawDescriptionHelpFormatter, with the width found as above."""
