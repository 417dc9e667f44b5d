"""Optional libraries: the lean core runs without them; a command that needs one names its extra."""

from __future__ import annotations

import sys
import types

import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.errors import UserError
from autostock.extras import MODULE_EXTRAS, MissingExtraError, extra_for_missing, require


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import <module>`` fail as if the library were not installed."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def _run(args: list[str], tmp_path) -> object:
    env = {"APCA_API_KEY_ID": "test-key", "APCA_API_SECRET_KEY": "test-secret"}
    with CliRunner().isolated_filesystem(temp_dir=tmp_path):
        return CliRunner().invoke(cli, args, env=env)


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_require_returns_the_module_when_installed() -> None:
    assert require("ml", "json") is sys.modules["json"]


def test_require_names_the_extra_and_the_pip_command_when_missing(monkeypatch) -> None:
    _hide(monkeypatch, "keras")
    with pytest.raises(MissingExtraError) as info:
        require("ml", "keras")
    assert isinstance(info.value, UserError) and info.value.exit_code == 2
    assert str(info.value) == (
        "this command needs the 'ml' extra (keras is not installed): pip install 'autostock[ml]'"
    )


def test_require_lets_a_broken_dependency_of_an_installed_library_through(monkeypatch) -> None:
    """An installed library whose own (unknown) dependency is missing is a real bug, not an extra."""
    fake = types.ModuleType("fake_lib_with_broken_dep")

    def fail(name: str) -> None:
        raise ModuleNotFoundError("No module named 'some_private_dep'", name="some_private_dep")

    monkeypatch.setattr("importlib.import_module", lambda name: fail(name) if name == fake.__name__ else None)
    with pytest.raises(ModuleNotFoundError) as info:
        require("ml", fake.__name__)
    assert not isinstance(info.value, MissingExtraError)


def test_extra_for_missing_maps_submodules_and_ignores_unknown_modules() -> None:
    err = extra_for_missing(ModuleNotFoundError("x", name="alpaca.data.timeframe"))
    assert err is not None and err.extra == "live" and "alpaca-py" in str(err)
    assert extra_for_missing(ModuleNotFoundError("x", name="not_an_optional_lib")) is None
    assert extra_for_missing(ValueError("x")) is None


def test_every_mapped_extra_is_declared_in_setup_cfg() -> None:
    from configparser import ConfigParser
    from pathlib import Path

    cfg = ConfigParser()
    cfg.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    declared = set(cfg["options.extras_require"])
    assert set(MODULE_EXTRAS.values()) <= declared
    everything = cfg["options.extras_require"]["all"]
    # `bench` holds the peers of benchmarks/compare_peers.py (vectorbt brings numba): not for `all`
    for extra in declared - {"all", "test", "bench"}:
        assert extra in everything, f"extra {extra!r} missing from 'all'"


_LEAN_RUN = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NotInstalled())
from autostock.cli import main
sys.argv = ["autostock", "backtest", "--data", "sample", "--out", sys.argv[2]]
main()
"""


def test_lean_core_backtest_writes_its_default_outputs_with_every_optional_library_missing(tmp_path) -> None:
    """A fresh process in which no optional library can be imported (as after ``pip install -e .``)."""
    import os
    import subprocess
    from pathlib import Path

    # yfinance stays importable: QuantStats (a core dependency, for the tearsheet) requires it
    blocked = ",".join(name for name in MODULE_EXTRAS if name != "yfinance")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", _LEAN_RUN, blocked, str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "summary.json").is_file()
    assert (out / "tearsheet.html").is_file()


@pytest.mark.parametrize(
    ("hidden", "args", "extra"),
    [
        (
            ("keras", "tensorflow"),
            [
                "train",
                "--model",
                "lstm",
                "--start",
                "2018-01-01",
                "--end",
                "2020-12-31",
                "--features",
                "basic",
                "--walk-forward",
                "train=400,test=100",
                "-q",
                "--out",
                "m",
            ],
            "ml",
        ),
        (
            ("optuna",),
            [
                "optimize",
                "--method",
                "optuna",
                "--trials",
                "2",
                "--grid",
                "fast=5,10",
                "--start",
                "2020-01-01",
                "--end",
                "2020-12-31",
                "--out",
                "o",
            ],
            "ml",
        ),
        (("alpaca",), ["trade", "--strategy", "sma_cross", "--symbols", "AAPL"], "live"),
        (("yfinance",), ["backtest", "--data", "yahoo", "--symbols", "AAPL", "--out", "y"], "yahoo"),
        (
            ("distributed", "dask"),
            [
                "montecarlo",
                "--paths",
                "2",
                "--dask",
                "local",
                "--start",
                "2020-01-01",
                "--end",
                "2020-12-31",
                "--out",
                "mc",
            ],
            "scale",
        ),
    ],
    ids=["train-keras", "optimize-optuna", "trade-alpaca", "data-yahoo", "montecarlo-dask"],
)
def test_command_without_its_extra_prints_one_line_naming_it_and_exits_2(
    monkeypatch, tmp_path, hidden, args, extra
) -> None:
    _hide(monkeypatch, *hidden)
    result = _run(args, tmp_path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = _error_lines(result.output)
    assert len(lines) == 1, result.output
    assert f"needs the '{extra}' extra" in lines[0]
    assert lines[0].endswith(f"pip install 'autostock[{extra}]'")


def test_module_plugin_loads_from_the_users_own_project_folder(monkeypatch, tmp_path) -> None:
    """``--strategy mypkg.mod:Class`` from the folder holding ``mypkg``, as ``python -m`` would."""
    pkg = tmp_path / "my_cwd_plugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "strats.py").write_text(
        "import backtrader as bt\n"
        "from autostock.strategies.base import SignalStrategy\n\n"
        "class AboveSma(SignalStrategy):\n"
        "    params = (('period', 20),)\n\n"
        "    @classmethod\n"
        "    def signal(cls, data, p):\n"
        "        return 2 * (data.close > bt.indicators.SMA(data.close, period=p.period)) - 1\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    for name in [m for m in sys.modules if m.startswith("my_cwd_plugins")]:
        monkeypatch.delitem(sys.modules, name)
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--strategy",
            "my_cwd_plugins.strats:AboveSma",
            "--data",
            "sample",
            "--no-tearsheet",
            "--no-pyfolio",
            "--out",
            "out",
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "AboveSma" in json.dumps(summary["strategy"])
    assert str(tmp_path) in sys.path and sys.path.index(str(tmp_path)) == len(sys.path) - 1


@pytest.mark.parametrize(
    ("args", "expected"), [([], "3"), (["--log-level", "debug"], None)], ids=["default", "log-level-debug"]
)
def test_tensorflow_log_level_is_set_before_any_command_unless_debug(monkeypatch, args, expected) -> None:
    import os

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    result = CliRunner().invoke(cli, [*args, "strategies"])
    assert result.exit_code == 0, result.output
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == expected
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)


@pytest.mark.keras
@pytest.mark.slow
def test_keras_training_prints_no_tensorflow_startup_noise(tmp_path) -> None:
    import os
    import subprocess
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL_", "GRPC_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    args = [
        "train",
        "--model",
        "lstm",
        "--data",
        "sample",
        "--features",
        "basic",
        "-p",
        "units=4",
        "-p",
        "epochs=1",
        "-p",
        "seq_len=5",
        "--walk-forward",
        "train=400,test=200",
        "-q",
        "--out",
        str(tmp_path / "m"),
    ]
    code = "import sys\nfrom autostock.cli import main\nsys.argv = ['autostock', *sys.argv[1:]]\nmain()\n"
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "m" / "params.json").is_file()
    noise = [
        line
        for line in proc.stderr.splitlines()
        if any(word in line for word in ("oneDNN", "cuda", "cuInit", "retracing", "absl::"))
    ]
    assert noise == []
