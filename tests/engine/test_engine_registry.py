"""Strategy plugins by file, module and entry point; name clashes raise; unknown names list valid ones."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.errors import PluginError
from autostock.registry import STRATEGIES, Registry

PLUGIN = '''
import backtrader as bt
from autostock.strategies.base import SignalStrategy


class {name}(SignalStrategy):
    """Long while close is above its {period}-bar high channel midpoint."""

    params = (("period", {period}),)

    @classmethod
    def signal(cls, data, p):
        return 2 * (data.close > bt.indicators.SMA(data.close, period=p.period)) - 1
'''


def _run(tmp_path: Path, strategy: str, *extra: str):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--strategy",
            strategy,
            "--start",
            "2019-01-01",
            "--end",
            "2020-06-30",
            "--out",
            str(out),
            "--no-tearsheet",
            "--no-pyfolio",
            *extra,
        ],
    )
    return result, out


def test_strategy_from_file_path_runs_and_trades(tmp_path: Path) -> None:
    path = tmp_path / "my_plugin.py"
    path.write_text(PLUGIN.format(name="AboveSma", period=15))
    result, out = _run(tmp_path, f"{path}:AboveSma", "--param", "period=25")
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["period"] == 25
    assert summary["metrics"]["n_trades"] > 0


def test_strategy_from_module_path_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "userpkg_mod"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "strats.py").write_text(PLUGIN.format(name="ModStrat", period=10))
    monkeypatch.syspath_prepend(str(tmp_path))
    result, out = _run(tmp_path, "userpkg_mod.strats:ModStrat")
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file()


def _install_fake_distribution(root: Path, dist: str, ep_name: str, target: str) -> None:
    """A real installed-package layout: a module plus a .dist-info with entry_points.txt."""
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[autostock.strategies]\n{ep_name} = {target}\n")


def _fresh_registry() -> Registry:
    """A registry holding the built-ins that scans entry points anew (as a new process would)."""
    registry = Registry("strategies")
    for name, cls in STRATEGIES.items():
        registry.register(name, cls)
    return registry


def _plugin_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, cls: str, ep_name: str, period: int
) -> Registry:
    """Install a plugin module and its distribution's entry point; return a fresh registry."""
    (tmp_path / f"{module}.py").write_text(PLUGIN.format(name=cls, period=period))
    _install_fake_distribution(tmp_path, f"autostock_{module}", ep_name, f"{module}:{cls}")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return _fresh_registry()


def test_strategy_from_entry_point_is_listed_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _plugin_package(tmp_path, monkeypatch, "ep_strats", "EpStrat", "ep_demo", 12)
    monkeypatch.setattr("autostock.registry.STRATEGIES", registry)
    monkeypatch.setattr("autostock.engine.STRATEGIES", registry)
    assert "ep_demo" in registry.names()
    assert "autostock_ep_strats" in registry.source("ep_demo")
    listing = CliRunner().invoke(cli, ["strategies"])
    assert "ep_demo" in listing.output and "period=12" in listing.output
    result, out = _run(tmp_path, "ep_demo")
    assert result.exit_code == 0, result.output


def test_entry_point_clashing_with_builtin_name_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _plugin_package(tmp_path, monkeypatch, "clash_strats", "Clash", "sma_cross", 5)
    with pytest.raises(PluginError, match="name clash: 'sma_cross'"):
        registry.names()


def test_registering_a_duplicate_name_raises() -> None:
    reg = Registry("widgets")
    reg.register("a", object)
    with pytest.raises(PluginError, match="clash"):
        reg.register("a", int)


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(PluginError) as err:
        STRATEGIES.get("no_such_strategy")
    for name in ("buy_hold", "sma_cross", "rsi", "mean_reversion", "momentum"):
        assert name in str(err.value)


def test_missing_plugin_file_is_one_clear_line(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, str(tmp_path / "nope.py") + ":X")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "not found" in result.output


def test_builtin_strategies_listed_with_params_and_defaults() -> None:
    result = CliRunner().invoke(cli, ["strategies"])
    assert result.exit_code == 0
    for text in (
        "buy_hold",
        "sma_cross",
        "fast=10",
        "slow=30",
        "rsi",
        "period=14",
        "mean_reversion",
        "momentum",
        "top_n=3",
    ):
        assert text in result.output
