"""``python -m hwdbg``: the same as the ``hwdbg`` command."""
import sys

from .ui.cli import main

sys.exit(main())
