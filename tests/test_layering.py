"""The layering DESIGN.md promises, checked on the source (every import, also inside functions).

* ``autostock/models/`` and ``autostock/rl/`` never import backtrader (directly or through
  another autostock module);
* nothing outside ``autostock/commands/`` and ``autostock/cli.py`` imports ``autostock.commands``;
* ``autostock/reports/`` never imports ``autostock.engine``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "autostock"


def _module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import statement in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from autostock import engine`` imports the submodule
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def _violations(files: list[Path], forbidden: str) -> list[str]:
    return [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in files
        for line, name in _imports(path)
        if name == forbidden or name.startswith(forbidden + ".")
    ]


def _files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (PACKAGE / folder).rglob("*.py"))


def test_the_import_scanner_sees_imports_inside_functions_and_relative_imports(tmp_path) -> None:
    pkg = tmp_path / "autostock" / "reports"
    pkg.mkdir(parents=True)
    probe = pkg / "probe.py"
    probe.write_text(
        "def f():\n    from ..engine import run_backtest\n    import backtrader as bt\nfrom autostock import commands\n"
    )
    names = {name for _, name in _imports(probe, tmp_path)}
    assert {"autostock.engine", "backtrader", "autostock.commands"} <= names


@pytest.mark.parametrize("folder", ["models", "rl"])
def test_models_and_rl_never_import_backtrader(folder: str) -> None:
    if not (PACKAGE / folder).is_dir():
        pytest.skip(f"autostock/{folder}/ does not exist on this branch")
    assert _violations(_files(folder), "backtrader") == []


def test_models_and_rl_do_not_pull_in_backtrader_through_other_autostock_modules() -> None:
    modules = [_module_name(p) for folder in ("models", "rl") if (PACKAGE / folder).is_dir() for p in _files(folder)]
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'backtrader' or m.startswith('backtrader.'))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_nothing_outside_the_cli_imports_autostock_commands() -> None:
    outside = [
        p
        for p in PACKAGE.rglob("*.py")
        if p.relative_to(PACKAGE).parts[0] != "commands" and p.relative_to(PACKAGE) != Path("cli.py")
    ]
    assert _violations(sorted(outside), "autostock.commands") == []


def test_reports_never_import_the_engine() -> None:
    assert _violations(_files("reports"), "autostock.engine") == []
