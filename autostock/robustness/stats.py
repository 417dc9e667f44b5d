"""Overfitting statistics: the deflated Sharpe ratio and the probability of backtest overfitting.

These two are written out here because no maintained library provides them; the normal
distribution functions come from ``scipy.stats`` and every Sharpe ratio is empyrical's.
All Sharpe ratios in this module are *per period* (not annualised), as in the papers.

Deflated Sharpe ratio (Bailey & Lopez de Prado, 2014)
-----------------------------------------------------
With ``N`` trials whose Sharpe ratios have variance ``V``, the expected maximum Sharpe ratio
under the null of no skill is::

    SR0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))      g = 0.5772... (Euler)

and the deflated Sharpe ratio of the selected trial (Sharpe ``SR`` over ``T`` returns with
skewness ``g3`` and kurtosis ``g4``, normal = 3) is the probabilistic Sharpe ratio against SR0::

    DSR = Z( (SR - SR0) * sqrt(T - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2) )

Probability of backtest overfitting, CSCV (Bailey, Borwein, Lopez de Prado & Zhu, 2015)
-------------------------------------------------------------------------------------
The ``T x N`` matrix of trial returns is cut into ``S`` (even) row blocks. For every one of the
``C(S, S/2)`` ways to pick half the blocks as in-sample (the rest out-of-sample), the trial best
in-sample gets its out-of-sample relative rank ``w = rank / (N + 1)`` (rank 1 = worst), and the
logit ``l = ln(w / (1 - w))``. PBO is the share of combinations with ``l <= 0``: the in-sample
winner ranked at or below the out-of-sample median.

Verdict
-------
:func:`overfitting_verdict` reads both at once: skill needs DSR >= 0.95 AND PBO < 0.5. A low
PBO alone is not evidence of skill (a consistent ranking of skill-less trials has a low PBO).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np
from scipy import stats

from autostock.errors import ConfigError

EULER_GAMMA = float(np.euler_gamma)
PBO_METRICS: tuple[str, ...] = ("sharpe", "mean")


def sharpe_per_period(returns: np.ndarray) -> float:
    """Per-period (non-annualised) Sharpe ratio: empyrical's, with annualisation 1."""
    import empyrical

    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 2:
        return float("nan")
    return float(empyrical.sharpe_ratio(r, risk_free=0.0, annualization=1))


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """SR0: the expected maximum of ``n_trials`` per-period Sharpe ratios under no skill."""
    if n_trials < 1:
        raise ConfigError(f"number of trials must be >= 1, got {n_trials}")
    if not (var_sharpe >= 0):
        raise ConfigError(f"variance of trial Sharpe ratios must be >= 0, got {var_sharpe}")
    if n_trials == 1:
        return 0.0
    n = float(n_trials)
    return float(
        np.sqrt(var_sharpe)
        * ((1 - EULER_GAMMA) * stats.norm.ppf(1 - 1 / n) + EULER_GAMMA * stats.norm.ppf(1 - 1 / (n * np.e)))
    )


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark_sharpe: float, n_obs: int, skew: float, kurtosis: float
) -> float:
    """P(true Sharpe > ``benchmark_sharpe``) given an observed per-period ``sharpe`` over
    ``n_obs`` returns with ``skew`` and (non-excess) ``kurtosis``."""
    if n_obs < 2:
        raise ConfigError(f"need at least 2 observations, got {n_obs}")
    denom = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if not (denom > 0):
        return float("nan")
    return float(stats.norm.cdf((sharpe - benchmark_sharpe) * np.sqrt(n_obs - 1) / np.sqrt(denom)))


@dataclass
class DeflatedSharpe:
    """The deflated Sharpe ratio and its inputs (per-period Sharpe units)."""

    dsr: float
    sharpe: float
    sr0: float
    n_trials: int
    var_sharpe: float
    n_obs: int
    skew: float
    kurtosis: float

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def deflated_sharpe_ratio(
    sharpe: float, n_obs: int, skew: float, kurtosis: float, n_trials: int, var_sharpe: float
) -> DeflatedSharpe:
    """Deflated Sharpe ratio of a selected trial (Bailey & Lopez de Prado 2014).

    Parameters
    ----------
    sharpe : float
        Per-period Sharpe ratio of the selected (best) trial.
    n_obs : int
        Number of returns behind ``sharpe``.
    skew, kurtosis : float
        Skewness and non-excess kurtosis (normal = 3) of those returns.
    n_trials : int
        Number of independent trials tried.
    var_sharpe : float
        Variance of the per-period Sharpe ratios across trials.
    """
    sr0 = expected_max_sharpe(n_trials, var_sharpe)
    dsr = probabilistic_sharpe_ratio(sharpe, sr0, n_obs, skew, kurtosis)
    return DeflatedSharpe(
        dsr, float(sharpe), sr0, int(n_trials), float(var_sharpe), int(n_obs), float(skew), float(kurtosis)
    )


def deflated_sharpe_from_returns(best_returns: np.ndarray, trial_sharpes: np.ndarray) -> DeflatedSharpe:
    """Deflated Sharpe ratio of ``best_returns`` given every trial's per-period Sharpe ratio."""
    r = np.asarray(best_returns, dtype=float)
    r = r[np.isfinite(r)]
    sr = np.asarray(trial_sharpes, dtype=float)
    sr = sr[np.isfinite(sr)]
    if len(sr) < 1:
        raise ConfigError("no finite trial Sharpe ratios to deflate against")
    var = float(np.var(sr, ddof=1)) if len(sr) > 1 else 0.0
    return deflated_sharpe_ratio(
        sharpe_per_period(r), len(r), float(stats.skew(r)), float(stats.kurtosis(r, fisher=True) + 3.0), len(sr), var
    )


@dataclass
class PBOResult:
    """Probability of backtest overfitting and the per-combination logits behind it."""

    pbo: float
    logits: np.ndarray
    n_splits: int
    n_trials: int
    n_combinations: int
    metric: str

    def to_dict(self) -> dict:
        finite = self.logits[np.isfinite(self.logits)]
        return {
            "pbo": self.pbo,
            "n_splits": self.n_splits,
            "n_trials": self.n_trials,
            "n_combinations": self.n_combinations,
            "metric": self.metric,
            "logit_median": float(np.median(finite)) if len(finite) else None,
        }


def _block_performance(sums: np.ndarray, sq: np.ndarray, counts: np.ndarray, metric: str) -> np.ndarray:
    mean = sums / counts[:, None]
    if metric == "mean":
        return mean
    var = (sq - counts[:, None] * mean**2) / (counts[:, None] - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return mean / np.sqrt(np.maximum(var, 0.0))


def probability_of_backtest_overfitting(returns: np.ndarray, n_splits: int = 16, metric: str = "sharpe") -> PBOResult:
    """PBO by combinatorially symmetric cross-validation.

    Parameters
    ----------
    returns : array of shape (T, N)
        Per-period returns of N trials over the same T periods (rows in time order).
    n_splits : int
        S, the even number of row blocks; leading rows that do not fill a block are dropped.
    metric : {"sharpe", "mean"}
        Performance of a trial on a set of blocks: per-period Sharpe ratio or mean return.
    """
    m = np.asarray(returns, dtype=float)
    if m.ndim != 2:
        raise ConfigError(f"returns must be a 2-D (periods x trials) array, got shape {m.shape}")
    if metric not in PBO_METRICS:
        raise ConfigError(f"unknown PBO metric {metric!r}; valid: {', '.join(PBO_METRICS)}")
    if n_splits < 2 or n_splits % 2:
        raise ConfigError(f"n_splits must be an even number >= 2, got {n_splits}")
    t, n = m.shape
    if n < 2:
        raise ConfigError(f"PBO needs at least 2 trials, got {n}")
    rows = t // n_splits
    if rows < 1 or (metric == "sharpe" and rows * n_splits // 2 < 2):
        raise ConfigError(f"{t} periods are too few for {n_splits} splits")
    m = np.nan_to_num(m[t - rows * n_splits :], nan=0.0)
    blocks = m.reshape(n_splits, rows, n)
    sums, sq = blocks.sum(axis=1), (blocks**2).sum(axis=1)
    combos = np.array(
        [[b in c for b in range(n_splits)] for c in combinations(range(n_splits), n_splits // 2)], dtype=float
    )
    per_block = np.full(n_splits, float(rows))
    is_perf = _block_performance(combos @ sums, combos @ sq, combos @ per_block, metric)
    oos = 1.0 - combos
    oos_perf = _block_performance(oos @ sums, oos @ sq, oos @ per_block, metric)
    is_perf = np.where(np.isfinite(is_perf), is_perf, -np.inf)
    oos_perf = np.where(np.isfinite(oos_perf), oos_perf, -np.inf)
    best = np.argmax(is_perf, axis=1)
    ranks = stats.rankdata(oos_perf, axis=1, method="average")
    w = ranks[np.arange(len(best)), best] / (n + 1)
    logits = np.log(w / (1 - w))
    return PBOResult(float(np.mean(logits <= 0)), logits, n_splits, n, len(combos), metric)


# -- one plain verdict from both statistics ---------------------------------------------------
DSR_THRESHOLD = 0.95
PBO_THRESHOLD = 0.5


@dataclass
class Verdict:
    """One plain reading of the deflated Sharpe ratio and PBO together.

    ``skill`` is True only when DSR >= ``DSR_THRESHOLD`` (the selected Sharpe beats the best
    that ``n_trials`` skill-less trials would reach by luck, at 95 %) AND PBO < ``PBO_THRESHOLD``
    (the in-sample winner usually stays above the out-of-sample median); with one trial there is
    no selection, and DSR alone decides. A low PBO never rescues a low DSR: PBO measures how
    stable the ranking of the trials is, not whether the best of them has any skill (on a
    random walk every trial may rank consistently and still have none).
    """

    skill: bool
    text: str
    dsr: float | None
    pbo: float | None
    n_trials: int

    def to_dict(self) -> dict:
        return asdict(self)


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def overfitting_verdict(
    dsr: float | None,
    pbo: float | None,
    n_trials: int,
    dsr_threshold: float = DSR_THRESHOLD,
    pbo_threshold: float = PBO_THRESHOLD,
) -> Verdict:
    """The verdict of a search over ``n_trials`` trials from its DSR and PBO (either may be None).

    Examples: ``no evidence of skill: DSR 0.38 < 0.95 (PBO 0.10 is low, but a stable ranking is
    not skill; 24 trials)``; ``evidence of skill: DSR 0.97 >= 0.95 and PBO 0.20 < 0.50 (24 trials)``.
    """
    d, p = _finite_or_none(dsr), _finite_or_none(pbo)
    trials = f"{n_trials} trial{'s' if n_trials != 1 else ''}"
    if d is None:
        return Verdict(
            False,
            f"no verdict: the deflated Sharpe ratio could not be computed ({trials}); treat the result as unproven",
            d,
            p,
            n_trials,
        )
    if d < dsr_threshold:
        if p is None:
            note = "PBO not computed"
        elif p < pbo_threshold:
            note = f"PBO {p:.2f} is low, but a stable ranking is not skill"
        else:
            note = f"and PBO {p:.2f} >= {pbo_threshold:.2f}: likely overfit"
        return Verdict(
            False, f"no evidence of skill: DSR {d:.2f} < {dsr_threshold:.2f} ({note}; {trials})", d, p, n_trials
        )
    if p is None:
        if n_trials <= 1:
            return Verdict(
                True, f"evidence of skill: DSR {d:.2f} >= {dsr_threshold:.2f} (1 trial, no selection)", d, p, n_trials
            )
        return Verdict(
            False,
            f"inconclusive: DSR {d:.2f} >= {dsr_threshold:.2f} but PBO could not be computed "
            f"(too few periods or trials; {trials})",
            d,
            p,
            n_trials,
        )
    if p >= pbo_threshold:
        return Verdict(
            False,
            f"likely overfit: PBO {p:.2f} >= {pbo_threshold:.2f} although DSR {d:.2f} "
            f">= {dsr_threshold:.2f} ({trials})",
            d,
            p,
            n_trials,
        )
    return Verdict(
        True,
        f"evidence of skill: DSR {d:.2f} >= {dsr_threshold:.2f} and PBO {p:.2f} < {pbo_threshold:.2f} ({trials})",
        d,
        p,
        n_trials,
    )
