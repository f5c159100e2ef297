"""The ``cryobench`` command's Typer app, how a user error ends a command (one line,
exit 2), and the console-script entry point."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, TypeVar

import typer

from cryobench import __version__
from cryobench.cli import terminal
import functools


app = typer.Typer(
    name="cryobench",
    help="Benchmark imbalance strategies for cryo-ET subtomogram classification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn user-caused errors into one red line and exit status 2 (traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cryobench.errors import CryobenchError

        try:
            return fn(*args, **kwargs)
        except CryobenchError as exc:
            if debug_on():
                raise
            terminal.print_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except MemoryError:
            if debug_on():
                raise
            terminal.print_error("out of memory; lower train.batch_size or eval_batch_size, bin the "
                        "subtomograms to a smaller box, or use fewer particles")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def debug_on() -> bool:
    return os.environ.get("CRYOBENCH_DEBUG", "") not in ("", "0")


def _version(value: bool) -> None:
    if value:
        terminal.console.print(f"cryobench {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    if debug:
        os.environ["CRYOBENCH_DEBUG"] = "1"


def make_registry() -> Any:
    from cryobench.registry import Registry

    return Registry()


def main() -> None:
    """Console-script entry point. Command-line mistakes (an unknown option, a value of the
    wrong type, a missing argument) are one line, exit 2, like every other user error."""
    import warnings

    from typer.exceptions import Abort, TyperException

    from cryobench.errors import CryobenchDeprecationWarning

    # Python hides DeprecationWarnings outside __main__: a plugin's author would never
    # learn that an import path or a hook moved
    warnings.simplefilter("default", CryobenchDeprecationWarning)
    try:
        code = app(standalone_mode=False)
    except TyperException as exc:  # typer's click usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # `cryobench` alone: the help
            terminal.console.print(exc.format_message(), markup=False, highlight=False)  # type: ignore
        else:
            context = getattr(exc, "ctx", None)
            command = f" {context.info_name}" if context and context.parent else ""
            terminal.print_error(f"{exc.format_message()} (see cryobench{command} --help)")  # type: ignore
        sys.exit(getattr(exc, "exit_code", 2))
    except (Abort, KeyboardInterrupt):  # a command that has nothing of its own to say
        terminal.print_error("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
