"""Every command and TOML example in the README and docs/ works as written.

Each fenced ``bash`` line that starts with ``autostock`` is parsed by the real click command
(unknown options, bad choices and bad types fail here). Examples that need nothing outside
this machine then run through click's CliRunner, in document order and in one working folder
per page (so ``models/NAME`` written by a ``train`` example is there for the backtests that read
it), with sizes shrunk where an example is long (fewer paths, trials and epochs; no HTML
tearsheet). Examples that need an Alpaca account, the internet, or a placeholder
(``path/to/...``, ``...``) are parsed only. Each ``toml`` block is written to a file and run as
``autostock backtest --config FILE``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from autostock.cli import cli

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

NEEDS_ACCOUNT = {"trade", "check-connection", "status", "resume"}
# parsed only: a server that runs until stopped, a replay that needs a live session's state
# database, RL training (tests/rl runs it at tiny sizes)
PARSE_ONLY = {"dashboard", "divergence", "rl"}
SLOW_COMMANDS = {"train", "tune", "walkforward", "optimize", "montecarlo"}

# long examples, shrunk: (pattern, replacement)
SHRINK = [
    (r"--paths \d+", "--paths 4"),
    (r"--workers \d+", "--workers 1"),
    (r"--trials \d+", "--trials 3"),
    (r"fast=5:50:5", "fast=5,10"),
    (r"slow=20:200:10", "slow=30,40"),
]
KERAS_MODELS = {"lstm", "gru", "tcn", "transformer"}


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    text: str

    @property
    def args(self) -> list[str]:
        return shlex.split(self.text, comments=True)[1:]

    @property
    def command(self) -> str:
        return self.args[0]

    @property
    def placeholder(self) -> bool:
        return "..." in self.text or "path/to/" in self.text or "[--" in self.text

    @property
    def offline(self) -> bool:
        return (
            self.command not in NEEDS_ACCOUNT
            and self.command not in PARSE_ONLY
            and "--live" not in self.args
            and not re.search(r"--data (yahoo|alpaca)\b", self.text)
            and "../shared/" not in self.text  # the real CSVs beside a developer's checkout
        )

    @property
    def slow(self) -> bool:
        return (
            self.command in SLOW_COMMANDS
            or "models/" in self.text
            or "ml_signal" in self.text
            or "ensemble" in self.text
        )

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def _fenced(path: Path, language: str) -> list[tuple[int, str]]:
    """(first line number, body) of every fenced block of ``language`` in ``path``."""
    blocks, body, start, inside = [], [], 0, False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not inside and line.strip() == f"```{language}":
            inside, body, start = True, [], number + 1
        elif inside and line.strip() == "```":
            inside = False
            blocks.append((start, "\n".join(body)))
        elif inside:
            body.append(line)
    return blocks


def _examples() -> list[Example]:
    found = []
    for page in PAGES:
        for start, body in _fenced(page, "bash"):
            lines = body.splitlines()
            i = 0
            while i < len(lines):
                first, text = i, lines[i]
                while text.rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    text = text.rstrip()[:-1] + " " + lines[i].strip()
                i += 1
                if text.strip().startswith("autostock"):
                    found.append(Example(str(page.relative_to(REPO)), start + first, text.strip()))
    return found


EXAMPLES = _examples()
RUNNABLE = [e for e in EXAMPLES if e.offline and not e.placeholder]
TOMLS = [(str(page.relative_to(REPO)), start, body) for page in PAGES for start, body in _fenced(page, "toml")]


def _params(ex: Example) -> list:
    return [pytest.param(ex, id=str(ex), marks=[pytest.mark.slow] if ex.slow else [])]


def _run_args(ex: Example) -> list[str]:
    text = ex.text
    for pattern, replacement in SHRINK:
        text = re.sub(pattern, replacement, text)
    args = shlex.split(text, comments=True)[1:]
    command = cli.commands[args[0]]
    names = {opt for p in command.params for opt in getattr(p, "opts", [])} | {
        opt for p in command.params for opt in getattr(p, "secondary_opts", [])
    }
    if "--no-tearsheet" in names and "--tearsheet" not in args:
        args.append("--no-tearsheet")
    if "--no-pyfolio" in names:
        args.append("--no-pyfolio")
    if "--no-progress" in names:
        args.append("--no-progress")
    if args[0] == "train":
        model = args[args.index("--model") + 1] if "--model" in args else ""
        if model in KERAS_MODELS:
            args += ["-p", "epochs=1", "-p", "units=4"]
        if "-q" not in args:
            args.append("-q")
    return args


def test_the_readme_and_docs_hold_examples_to_check() -> None:
    assert len(EXAMPLES) >= 20
    assert any(e.page == "README.md" for e in EXAMPLES)
    assert TOMLS


@pytest.mark.parametrize("ex", EXAMPLES, ids=[str(e) for e in EXAMPLES])
def test_example_parses_with_the_real_command(ex: Example) -> None:
    args = [a for a in ex.args if a != "..." and not a.startswith("[")]
    command = cli.commands.get(args[0])
    assert command is not None, f"{ex}: no command {args[0]!r}"
    try:
        command.make_context(args[0], args[1:], parent=click.Context(cli, info_name="autostock"))
    except click.MissingParameter:
        assert ex.placeholder, f"{ex}: a required option is missing: {ex.text}"


@pytest.fixture(scope="module")
def page_dirs(tmp_path_factory) -> dict[str, Path]:
    """One working folder per page, shared by its examples (in document order)."""
    return {}


@pytest.mark.parametrize("ex", [p for e in RUNNABLE for p in _params(e)])
def test_example_runs(ex: Example, page_dirs: dict[str, Path], tmp_path_factory, monkeypatch) -> None:
    folder = page_dirs.setdefault(ex.page, tmp_path_factory.mktemp(re.sub(r"\W", "_", ex.page)))
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, _run_args(ex), catch_exceptions=True)
    assert result.exit_code == 0, f"{ex}: {ex.text}\n{result.output[-2000:]}\n{result.exception!r}"


@pytest.mark.parametrize("page,line,body", TOMLS, ids=[f"{p}:{n}" for p, n, _ in TOMLS])
def test_toml_example_is_accepted_by_backtest(page: str, line: int, body: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "example.toml").write_text(body)
    args = [
        "backtest",
        "--config",
        "example.toml",
        "--start",
        "2020-01-01",
        "--end",
        "2020-12-31",
        "--no-tearsheet",
        "--no-pyfolio",
        "--out",
        "out",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, f"{page}:{line}\n{result.output[-2000:]}"
    assert (tmp_path / "out" / "summary.json").is_file()
