"""Where the commands write: the terminal (or a log, 160 columns wide), and stderr for
one-line errors and warnings. Tests point these at consoles of their own."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.text import Text

# Redirected to a log file, rich would assume 80 columns and squeeze a leaderboard's arm
# names out; a log has room (COLUMNS, when set, still decides).
LOG_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
console = Console(width=LOG_WIDTH)
err_console = Console(stderr=True)


def print_error(message: str) -> None:
    """One line on stderr; the message is text (brackets in names are shown, not markup)."""
    err_console.print(Text.assemble(("error: ", "bold red"), message), highlight=False,
                      soft_wrap=True)


def print_warning(message: str) -> None:
    """One line on stderr that does not stop the command."""
    err_console.print(Text.assemble(("warning: ", "bold yellow"), message), highlight=False,
                      soft_wrap=True)
