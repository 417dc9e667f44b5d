"""``autostock features``, ``autostock train`` and ``autostock tune``.

Models are looked up by name in ``autostock.registry.PREDICTORS`` (scikit-learn and Keras
families alike); TensorFlow is only imported by a Keras predictor when it fits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from autostock.config import parse_pairs
from autostock.errors import ConfigError, DataError

DEFAULT_INDEX = "QQQ"


def _data_options(f: Callable) -> Callable:
    options = [
        click.option(
            "--data", "-d", help="synthetic (default), sample, yahoo, alpaca, or a CSV/Parquet file or folder."
        ),
        click.option("--symbols", help="Comma-separated tickers (one model per symbol)."),
        click.option("--start", help="First date (YYYY-MM-DD)."),
        click.option("--end", help="Last date (YYYY-MM-DD)."),
        click.option(
            "--benchmark",
            help="Benchmark symbol for the bm_* features and +sectors (SPY for synthetic data), or equal-weight: "
            "the basket of the loaded symbols.",
        ),
        click.option(
            "--index",
            "index_symbol",
            default=None,
            help=f"High-beta index for the idx_* features [default: {DEFAULT_INDEX} when the data has it; "
            "'none' to skip].",
        ),
        click.option(
            "--target", default="fwd_return_5", show_default=True, help="fwd_return_K, fwd_logreturn_K or direction_K."
        ),
        click.option(
            "--features",
            "feature_set",
            default="full",
            show_default=True,
            help="basic, technical, full, or a comma list of feature and group names.",
        ),
        click.option(
            "--param",
            "-p",
            "params",
            multiple=True,
            metavar="KEY=VALUE",
            help="Model param (repeatable); MEMBER.KEY=VALUE for one member of an ensemble.",
        ),
        click.option("--seed", type=int, help="Seed for data and models. [default: 42]"),
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            help="TOML config file (data, symbols, start, end, benchmark, seed apply).",
        ),
        click.option("--track", is_flag=True, help="Log params, metrics and artifacts to MLflow (local ./mlruns)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _settings(
    config_file: str | None,
    data: str | None,
    symbols: str | None,
    start: str | None,
    end: str | None,
    benchmark: str | None,
    seed: int | None,
) -> Any:
    """The data settings through the one config path (defaults < TOML < AUTOSTOCK_* < flags)."""
    from autostock.config import build_spec

    return build_spec(config_file, data=data, symbols=symbols, start=start, end=end, benchmark=benchmark, seed=seed)


def _load(spec: Any, index_symbol: str | None) -> tuple[Any, Any, str | None, list[str]]:
    """The market, the high-beta index close series (or None), its symbol, and notes."""
    from autostock.feeds import load_market

    data, start, end, seed = spec.data, spec.start, spec.end, spec.seed
    market = load_market(data, spec.symbols, start, end, spec.benchmark, seed)
    notes: list[str] = []
    explicit = index_symbol is not None
    wanted = (index_symbol or DEFAULT_INDEX).strip().upper()
    if wanted == "NONE":
        return market, None, None, notes
    if wanted in market.bars:
        return market, market.bars[wanted]["close"], wanted, notes
    source = Path(data).expanduser()
    has_index = True
    if source.is_file():
        has_index = False  # one file holds one symbol: never reuse it as the index
    elif source.is_dir():
        has_index = any(
            p.stem.upper() == wanted for p in source.iterdir() if p.suffix.lower() in (".csv", ".parquet", ".pq")
        )
    elif data == "sample":
        has_index = False
    index = None
    if has_index:
        try:
            index = load_market(data, [wanted], start, end, None, seed).bars[wanted]["close"]
        except DataError:
            if explicit:
                raise
    if index is None:
        if explicit:
            raise DataError(f"--index {wanted}: not found in {data}")
        notes.append(f"high-beta index {wanted} not in {data}: idx_* features omitted (use --index)")
        return market, None, None, notes
    return market, index, wanted, notes


def _model_params(params: tuple[str, ...], params_from: str | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The model params (``--params-from`` then ``--param``) and the period they were tuned on."""
    out: dict[str, Any] = {}
    tuned_on = None
    if params_from:
        p = Path(params_from)
        if not p.is_file():
            raise ConfigError(f"--params-from {params_from}: file not found")
        try:
            saved = json.loads(p.read_text())
            out.update(saved.get("params", {}))
            tuned_on = saved.get("tuned_on")
        except (json.JSONDecodeError, AttributeError):
            raise ConfigError(
                f"--params-from {params_from}: not a best_params.json written by autostock tune"
            ) from None
    out.update(parse_pairs(params, "--param"))
    return out, tuned_on


def _check_early(target: str, feature_set: str) -> Any:
    """Validate the target and feature names before any data is loaded; return the target."""
    from autostock.models.features import resolve_features
    from autostock.models.targets import parse_target

    resolve_features(feature_set, True, True)
    return parse_target(target)


class _Progress:
    """A tqdm bar over folds, one per (symbol, model)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.label = ""

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        if self.bar is None or label != self.label:
            self.close()
            self.bar, self.label = tqdm(total=total, desc=f"walk-forward {label}", leave=False), label
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _fmt(value: Any, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


@click.command()
@click.option("--set", "feature_set", default=None, help="Show one set or comma list: basic, technical, full, ...")
@click.option("--names-only", is_flag=True, help="Print the names only, one per line.")
def features(feature_set: str | None, names_only: bool) -> None:
    """List the feature sets and the named causal features."""
    from autostock.models.features import FEATURE_SETS, FEATURES, feature_names

    names = feature_names(feature_set or "full")
    if names_only:
        click.echo("\n".join(names))
        return
    click.echo("feature sets:")
    for name, groups in FEATURE_SETS.items():
        click.echo(f"  {name:<10} {len(feature_names(name)):>4} features  groups: {', '.join(groups)}")
    click.echo("  (or a comma list of feature and group names, e.g. --features rsi_14,volatility)")
    click.echo(f"\n{len(names)} features in {feature_set or 'full'}:")
    for name in names:
        f = FEATURES[name]
        click.echo(f"  {name:<28} {f.group:<13} {f.description}")


@click.command()
@click.option(
    "--model", "-m", required=True, help="Predictor name (see the PREDICTORS registry) or a comma list for an ensemble."
)
@_data_options
@click.option(
    "--walk-forward",
    "walk",
    default="train=756,test=63",
    show_default=True,
    help="train=N,test=N[,retrain=N,purge=N,embargo=N,mode=expanding|rolling,val=F].",
)
@click.option(
    "--ensemble",
    "ensemble_method",
    type=click.Choice(["mean", "weighted", "regime", "stacking"]),
    help="Combine a comma list of models [default: weighted].",
)
@click.option("--params-from", type=click.Path(dir_okay=False), help="A best_params.json written by autostock tune.")
@click.option("--out", "-o", type=click.Path(file_okay=False), help="Model directory [default: models/<model>].")
@click.option(
    "--ablation/--no-ablation",
    default=True,
    show_default=True,
    help="With a microstructure / alt-data group in --features: metrics.json's ablation (out-of-sample "
    "skill of price-only, price-only + each group, all - each group; one walk-forward run each).",
)
def train(
    model: str,
    walk: str,
    ensemble_method: str | None,
    params_from: str | None,
    out: str | None,
    ablation: bool,
    data: str | None,
    symbols: str | None,
    start: str | None,
    end: str | None,
    benchmark: str | None,
    index_symbol: str | None,
    target: str,
    feature_set: str,
    params: tuple[str, ...],
    seed: int | None,
    track: bool,
    quiet: bool,
    config_file: str | None,
) -> None:
    """Train a predictor walk-forward; write the model(s), params.json, metrics.json and OOS predictions."""
    from autostock.models.tracking import Tracker
    from autostock.models.training import train as run_train
    from autostock.models.walkforward import parse_walk_forward

    spec = _settings(config_file, data, symbols, start, end, benchmark, seed)
    seed = spec.seed
    tgt = _check_early(target, feature_set)
    cfg = parse_walk_forward(walk)
    model_params, tuned_on = _model_params(params, params_from)
    tracker = Tracker(track, "autostock-train", run_name=model)
    market, index, index_sym, notes = _load(spec, index_symbol)
    folder = Path(out) if out else Path("models") / model.replace(",", "+")
    progress = _Progress(not quiet)
    with tracker:
        try:
            result = run_train(
                market,
                model,
                tgt,
                feature_set,
                cfg,
                model_params,
                index,
                index_sym,
                seed,
                ensemble_method,
                folder,
                progress,
                tuned_on,
                ablation,
            )
        finally:
            progress.close()
        tracker.log_params(result.params | {"features": len(result.params["features"])})
        tracker.log_metrics({"pooled": result.metrics["pooled"]})
        tracker.log_artifacts(folder)
    for note in notes + list(market.notes):
        click.echo(f"note: {note}")
    m = result.metrics
    for warning in m["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{model} -> {m['target']}: {m['n_features']} features, walk-forward {walk}; out-of-sample:")
    for sym, s in m["symbols"].items():
        mod, zero = s["model"], s["baselines"]["zero"]
        if "rmse" in mod:
            line = (
                f"  {sym}: n={mod['n']} RMSE {_fmt(mod['rmse'])} (zero {_fmt(zero['rmse'])}) "
                f"dir.acc {_fmt(mod['directional_accuracy'], '.3f')} (always-up {_fmt(zero['directional_accuracy'], '.3f')}) "
                f"IC {_fmt(mod['ic'], '.3f')}"
            )
            pl = s.get("price_level")
            if pl:
                line += f"; price RMSE {_fmt(pl['model_rmse'], '.3f')} vs naive last price {_fmt(pl['naive_last_price_rmse'], '.3f')}"
        else:
            line = (
                f"  {sym}: n={mod['n']} accuracy {_fmt(mod['accuracy'], '.3f')} log loss {_fmt(mod['log_loss'])} "
                f"(coin {_fmt(zero['log_loss'])}) IC {_fmt(mod['ic'], '.3f')}"
            )
        click.echo(line)
    ab = m.get("ablation")
    if ab:
        click.echo(f"ablation (pooled out-of-sample IC): price-only {_fmt((ab['price_only'] or {}).get('ic'), '.3f')}")
        for group, g in ab["groups"].items():
            click.echo(
                f"  {group:<15} +group {_fmt((g['price_plus_group'] or {}).get('ic'), '.3f')} "
                f"(gain {_fmt(g['ic_gain'], '+.3f')})  all-group {_fmt((g['all_minus_group'] or {}).get('ic'), '.3f')} "
                f"(drop {_fmt(g['ic_drop_without'], '+.3f')})"
            )
    click.echo(f"wrote {folder}/ (params.json, metrics.json, models/, predictions/)")


@click.command()
@click.option("--model", "-m", required=True, help="Predictor name (see the PREDICTORS registry).")
@_data_options
@click.option("--method", type=click.Choice(["grid", "optuna"]), default="grid", show_default=True)
@click.option("--trials", type=int, default=20, show_default=True, help="Optuna trials.")
@click.option(
    "--space",
    multiple=True,
    metavar="KEY=a|b|c or KEY=lo:hi[:log]",
    help="Searched param (repeatable) [default: the model's default space].",
)
@click.option("--splits", type=int, default=4, show_default=True, help="Purged time-series CV splits.")
@click.option("--embargo", type=int, default=0, show_default=True, help="Extra bars between train and validation.")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Folder for tune_results.csv and best_params.json [default: models/<model>].",
)
def tune(
    model: str,
    method: str,
    trials: int,
    space: tuple[str, ...],
    splits: int,
    embargo: int,
    out: str | None,
    data: str | None,
    symbols: str | None,
    start: str | None,
    end: str | None,
    benchmark: str | None,
    index_symbol: str | None,
    target: str,
    feature_set: str,
    params: tuple[str, ...],
    seed: int | None,
    track: bool,
    quiet: bool,
    config_file: str | None,
) -> None:
    """Search hyperparameters (grid or Optuna TPE) with purged time-series CV; save the best params."""
    from autostock.models.tracking import Tracker
    from autostock.models.training import predictor_factory, symbol_data
    from autostock.models.tuning import BEST_PARAMS_FILE, RESULTS_FILE, default_space
    from autostock.models.tuning import tune as run_tune

    spec = _settings(config_file, data, symbols, start, end, benchmark, seed)
    seed = spec.seed
    tgt = _check_early(target, feature_set)
    fixed = parse_pairs(params, "--param")
    tracker = Tracker(track, "autostock-tune", run_name=model)
    _, defaults = predictor_factory(model, fixed, tgt, seed)
    searched: dict[str, str] = {}
    for item in space:
        key, sep, value = item.partition("=")  # the value is a search space, not a setting value
        if not sep or not key.strip():
            raise ConfigError(f"--space {item!r}: expected KEY=a|b|c or KEY=lo:hi")
        if key.strip() not in defaults:
            raise ConfigError(f"--space {key.strip()}: not a param of {model}; valid: {', '.join(sorted(defaults))}")
        searched[key.strip()] = value.strip()
    searched = searched or default_space(model, defaults)
    market, index, _, notes = _load(spec, index_symbol)
    prepared, _ = symbol_data(market, feature_set, tgt, index)
    folder = Path(out) if out else Path("models") / model
    with tracker:
        from autostock.commands.backtest import flags_for

        with flags_for("trials", "splits"):
            table, best = run_tune(
                model, prepared, tgt, searched, method, trials, fixed, seed, splits, embargo, folder, progress=not quiet
            )
        tracker.log_params({"model": model, "method": method, "target": tgt.name, "best": best})
        tracker.log_metrics({"best_score": float(table.iloc[0]["score"])})
        tracker.log_artifacts(folder)
    for note in notes:
        click.echo(f"note: {note}")
    metric = "log loss" if tgt.is_classification else "RMSE"
    click.echo(
        f"{len(table)} trial(s); best CV {metric} {table.iloc[0]['score']:.5f} with {best} "
        f"(selected on the same folds it is scored on: biased upward, not out-of-sample)"
    )
    period = json.loads((folder / BEST_PARAMS_FILE).read_text())["tuned_on"]
    click.echo(
        f"tuned on {period['first_bar'][:10]}..{period['last_bar'][:10]}: train and backtest on later bars "
        "(an overlap is flagged as tuned_on_overlap)"
    )
    click.echo(
        f"wrote {folder / RESULTS_FILE} and {folder / BEST_PARAMS_FILE} "
        f"(train with --params-from {folder / BEST_PARAMS_FILE})"
    )


COMMANDS = [features, train, tune]
