"""The ``autostock`` command line: a click group of thin commands.

Each command parses and validates its flags, then calls one engine function. Heavy imports
(TensorFlow, Dask, alpaca-py) happen inside the command that needs them.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from autostock import __version__
from autostock.errors import UserError
from autostock.extras import extra_for_missing, quiet_ml_libraries


class AutostockGroup(click.Group):
    """A click group that turns a user mistake into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except ModuleNotFoundError as exc:
            missing = extra_for_missing(exc)  # an optional library imported without require()
            if missing is None:
                raise
            click.echo(f"error: {missing}", err=True)
            ctx.exit(missing.exit_code)


# one module per area; each exposes COMMANDS, a list of click commands
COMMAND_MODULES: tuple[str, ...] = (
    "autostock.commands.backtest",
    "autostock.commands.risk",
    "autostock.commands.ml",
    "autostock.commands.robustness",
    "autostock.commands.live",
    "autostock.commands.rl",
    "autostock.commands.dashboard",
    "autostock.commands.lookahead",
)


@click.group(cls=AutostockGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autostock")
@click.option(
    "--log-level",
    "log_level",
    envvar="AUTOSTOCK_LOG_LEVEL",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Below 'debug', TensorFlow/Keras start-up, CUDA, oneDNN and retracing messages are hidden.",
)
def cli(log_level: str = "warning") -> None:
    """autostock: backtest-first trading for US equities, built on backtrader."""
    # as with `python -m`, the current folder is importable: `--strategy mypkg.mod:Class` finds
    # the user's own package (appended, so it never shadows an installed library)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    quiet_ml_libraries(debug=log_level.lower() == "debug")


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(_name).COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console entry point."""
    cli(prog_name="autostock")


if __name__ == "__main__":  # pragma: no cover
    main()
