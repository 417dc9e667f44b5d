"""``autostock rl train`` and ``autostock rl evaluate``: RL action models over the predictors' forecasts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from autostock.config import parse_pairs, split_symbols
from autostock.errors import ConfigError


def _data_options(f: Callable) -> Callable:
    options = [
        click.option(
            "--data",
            "-d",
            default="synthetic",
            show_default=True,
            help="synthetic, sample, yahoo, alpaca, a CSV/Parquet file or folder, micro-synthetic, "
            "trades:FILE, SOURCE+news:FILE, SOURCE+sectors, ... (the predictors' data; docs/microstructure.md).",
        ),
        click.option(
            "--benchmark",
            help="Benchmark symbol (bm_* features, +sectors) or equal-weight, as given to autostock train "
            "[default: the data's own].",
        ),
        click.option("--symbols", help="Comma-separated tickers (one set of policies per symbol)."),
        click.option("--start", help="First date (YYYY-MM-DD)."),
        click.option("--end", help="Last date (YYYY-MM-DD)."),
        click.option("--seed", "data_seed", type=int, default=42, show_default=True, help="Seed for synthetic data."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _market(
    data: str, symbols: str | None, start: str | None, end: str | None, seed: int, benchmark: str | None = None
) -> Any:
    from autostock.feeds import load_market

    return load_market(data, split_symbols(symbols) if symbols else None, start, end, benchmark, seed)


def _fmt(x: Any, spec: str = "+.2f") -> str:
    return "n/a" if x is None else format(x, spec)


def _print_metrics(metrics: dict[str, Any]) -> None:
    for sym, s in metrics["symbols"].items():
        sh = s["across_seeds"]["sharpe"]
        click.echo(
            f"{sym} out-of-sample {s['oos_start']}..{s['oos_end']}: policy Sharpe mean {_fmt(sh['mean'])} "
            f"(std {_fmt(sh['std'], '.2f')}, min {_fmt(sh['min'])}, max {_fmt(sh['max'])}, {sh['n']} seed(s)); "
            f"total return mean {_fmt(s['across_seeds']['total_return']['mean'], '+.1%')}"
        )
        for name, b in s["baselines"].items():
            click.echo(
                f"  {name:<13} Sharpe {_fmt(b['sharpe'])}  total return {_fmt(b['total_return'], '+.1%')}  "
                f"seeds beating it (Sharpe): {s['seeds_beating_baseline_sharpe'][name]}/{sh['n']}"
            )
        o = metrics["overfitting"].get(sym, {})
        dsr = (o.get("deflated_sharpe") or {}).get("dsr")
        pbo = (o.get("pbo") or {}).get("pbo")
        click.echo(f"  over {o.get('n_trials')} trial(s): deflated Sharpe {_fmt(dsr, '.3f')}, PBO {_fmt(pbo, '.2f')}")


@click.group()
def rl() -> None:
    """Reinforcement-learning action models (Type 2) over the predictors' out-of-sample forecasts."""


@rl.command("train")
@click.option("--agent", type=click.Choice(["ppo", "dqn", "a2c"]), default="ppo", show_default=True)
@click.option("--predictors", required=True, help="Model directories written by autostock train, comma-separated.")
@_data_options
@click.option(
    "--reward",
    default="dsr",
    show_default=True,
    help="dsr, return-drawdown, sortino, a registered reward or path/to/file.py:Class.",
)
@click.option("--reward-param", "reward_params", multiple=True, metavar="KEY=VALUE", help="Reward param (repeatable).")
@click.option(
    "--actions",
    type=click.Choice(["discrete", "weight"]),
    default="discrete",
    show_default=True,
    help="discrete short/flat/long, or a continuous target weight in [-1, 1].",
)
@click.option(
    "--features",
    default="logret_1,logret_5,vol_20,rsi_14,regime",
    show_default=True,
    help="Causal features in the observation (comma list of names or groups; '' for none).",
)
@click.option(
    "--walk-forward",
    "walk",
    default="train=504,test=126",
    show_default=True,
    help="train=N,test=N[,retrain=N,embargo=N,mode=expanding|rolling] over bars with forecasts.",
)
@click.option("--timesteps", type=int, default=20_000, show_default=True, help="Environment steps per policy.")
@click.option("--seeds", type=int, default=3, show_default=True, help="Policies per fold (seeds 0..N-1).")
@click.option("--episode-bars", type=int, default=252, show_default=True, help="Bars per training episode.")
@click.option("--cash", type=float, default=100_000.0, show_default=True)
@click.option("--commission", help="Percent of value (0.1) or per share with a minimum (0.005/share,min=1).")
@click.option("--slippage", type=float, default=0.0, help="Slippage, percent of price per fill.")
@click.option("--spread", "spread_bps", type=float, default=0.0, help="Bid/ask spread in bps, half charged per fill.")
@click.option("--max-leverage", type=float, default=1.0, show_default=True, help="Cap on |target weight|.")
@click.option("--band", type=float, default=0.0, show_default=True, help="Rebalance band on the target weight.")
@click.option("--long-only", is_flag=True, help="Floor target weights at 0 (no shorts).")
@click.option("--device", default="cpu", show_default=True, help="torch device (cpu, cuda).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Policy directory to write.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(
    agent: str,
    predictors: str,
    data: str,
    symbols: str | None,
    start: str | None,
    end: str | None,
    data_seed: int,
    benchmark: str | None,
    reward: str,
    reward_params: tuple[str, ...],
    actions: str,
    features: str,
    walk: str,
    timesteps: int,
    seeds: int,
    episode_bars: int,
    cash: float,
    commission: str | None,
    slippage: float,
    spread_bps: float,
    max_leverage: float,
    band: float,
    long_only: bool,
    device: str,
    out: str,
    quiet: bool,
) -> None:
    """Train one policy per walk-forward fold and seed; write actions/, policies/, params.json, metrics.json."""
    from autostock.commands.backtest import parse_commission
    from autostock.models.walkforward import parse_walk_forward
    from autostock.rl.agents import require_rl
    from autostock.rl.execution import CostModel
    from autostock.rl.training import RLSettings, train_policies

    require_rl()
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    dirs = [p.strip() for p in predictors.split(",") if p.strip()]
    for d in dirs:
        if not (Path(d).expanduser() / "params.json").is_file():
            raise ConfigError(f"--predictors {d}: not a model directory written by autostock train (no params.json)")
    costs = CostModel(slippage=slippage, spread_bps=spread_bps, **parse_commission(commission))
    settings = RLSettings(
        dirs,
        agent,
        reward,
        {k: float(v) for k, v in parse_pairs(reward_params, "--reward-param").items()},
        actions,
        features,
        parse_walk_forward(walk),
        timesteps,
        list(range(seeds)),
        costs,
        cash,
        max_leverage,
        band,
        not long_only,
        episode_bars,
        device=device,
    )
    market = _market(data, symbols, start, end, data_seed, benchmark)
    result = train_policies(market, settings, out, progress=not quiet)
    _print_metrics(result.metrics)
    click.echo(
        f"{result.env_steps} environment steps in {result.train_seconds:.1f}s; "
        f"wrote {out}/ (actions/, policies/, params.json, metrics.json)"
    )


@rl.command("evaluate")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    required=True,
    type=click.Path(file_okay=False),
    help="Policy directory (repeatable): trials across all of them enter the deflated Sharpe and PBO.",
)
@_data_options
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Write the metrics JSON here.")
def evaluate(
    policies: tuple[str, ...],
    data: str,
    symbols: str | None,
    start: str | None,
    end: str | None,
    data_seed: int,
    benchmark: str | None,
    out: str | None,
) -> None:
    """Compare policies with buy-and-hold, flat, random and the ml_signal rule on the same OOS bars and costs."""
    from autostock.models.artifacts import write_json
    from autostock.rl.evaluation import evaluate_policies

    market = _market(data, symbols, start, end, data_seed, benchmark)
    metrics = evaluate_policies(market, list(policies))
    _print_metrics(metrics)
    if out:
        write_json(out, metrics)
        click.echo(f"wrote {out}")


COMMANDS = [rl]
