"""The ``cryobench`` command: one module per group of commands, registered on one Typer
app; heavy libraries (torch, ray, mlflow) are imported inside the commands."""

from cryobench.cli import data_commands, results_commands, run_command, setup_commands
from cryobench.cli.app import app, main
from cryobench.cli.data_commands import inspect, simulate
from cryobench.cli.results_commands import leaderboard, report, sync, ui
from cryobench.cli.run_command import run
from cryobench.cli.setup_commands import plugins, validate

__all__ = ["app", "main", "data_commands", "results_commands", "run_command",
           "setup_commands", "inspect", "simulate", "leaderboard", "report", "sync", "ui",
           "run", "plugins", "validate"]
