"""Every microstructure / alternative-data feature group is usable in ``autostock rl train``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("stable_baselines3", reason="needs the 'rl' extra: pip install 'autostock[rl]'")

from autostock.cli import cli
from autostock.models.features import DATA_GROUPS
from autostock.registry import FEATURES

MICRO_GROUPS = ("quotes", "trades", "volume_profile", "news", "options")


def _invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


def _daily_folder(root: Path) -> Path:
    """AAPL, XOM and SPY as CSV files: a source with no benchmark of its own."""
    from autostock.feeds import load_market

    market = load_market("synthetic", ["AAPL", "XOM"], "2018-01-01", "2020-12-31", "SPY", 7)
    root.mkdir()
    for sym, df in market.bars.items():
        df.to_csv(root / f"{sym}.csv")
    spy = market.benchmark.astype(float)
    pd.DataFrame({"open": spy, "high": spy, "low": spy, "close": spy, "volume": 1e6}).to_csv(root / "SPY.csv")
    return root


@pytest.mark.parametrize("case", ["micro", "sector"])
def test_rl_train_observes_every_feature_of_each_new_group(tmp_path: Path, case: str) -> None:
    if case == "micro":
        data, groups, extra = "micro-synthetic", MICRO_GROUPS, ["--symbols", "SYN"]
        train_wf, rl_wf = "train=600,test=700", "train=400,test=1000"
    else:
        data, groups = f"{_daily_folder(tmp_path / 'csv')}+sectors", ("sector",)
        extra = ["--symbols", "AAPL", "--benchmark", "SPY"]
        train_wf, rl_wf = "train=300,test=200", "train=200,test=200"
    assert set(groups) <= set(DATA_GROUPS)
    pred, pol = tmp_path / "pred", tmp_path / "pol"
    code, out = _invoke(
        "train", "-m", "ridge", "--data", data, *extra, "--features", "basic", "--target", "fwd_return_1",
        "--walk-forward", train_wf, "--out", str(pred), "-q",
    )  # fmt: skip
    assert code == 0, out
    rl_args = ["rl", "train", "--predictors", str(pred), "--data", data, *extra, "--features", ",".join(groups)]
    rl_args += ["--walk-forward", rl_wf, "--timesteps", "64", "--seeds", "1", "--episode-bars", "50"]
    code, out = _invoke(*rl_args, "--out", str(pol), "-q")
    assert code == 0, out
    sym = extra[1]
    columns = json.loads((pol / "policies" / sym / "fold_0" / "observation.json").read_text())["columns"]
    for group in groups:
        names = [n for n, f in FEATURES.items() if f.group == group]
        assert names and set(names) <= set(columns), (group, sorted(set(names) - set(columns)))
    actions = pd.read_parquet(pol / "actions" / f"{sym}.parquet")
    assert len(actions) >= 200
    if case == "sector":  # the folder has no benchmark of its own: without --benchmark, one line
        no_bm = [a for a in rl_args if a not in ("--benchmark", "SPY")]
        code, out = _invoke(*no_bm, "--out", str(tmp_path / "pol2"), "-q")
        assert code == 2 and out.count("\n") == 1 and "+sectors needs a benchmark" in out, out
