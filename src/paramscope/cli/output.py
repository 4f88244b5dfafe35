"""Where the CLI's output goes: JSON on stdout, rich tables on a console sized to the terminal."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def dump(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def console() -> Console:
    """A rich console for human output; piped output gets room for tables instead of 80 columns."""
    from rich.console import Console

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
    return Console(highlight=False, width=width)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)
