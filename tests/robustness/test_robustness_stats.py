"""Deflated Sharpe ratio and probability of backtest overfitting against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autostock.errors import ConfigError
from autostock.robustness.stats import (
    deflated_sharpe_from_returns,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    overfitting_verdict,
    probability_of_backtest_overfitting,
    sharpe_per_period,
)


def test_deflated_sharpe_matches_the_papers_worked_example():
    # Bailey & Lopez de Prado (2014), section "A numerical example": N = 100 trials, annualised
    # variance of trial Sharpes 1/2, best annualised Sharpe 2.5, T = 1250 daily returns (250 a
    # year), skewness -3, kurtosis 10. By hand:
    #   V = 0.5 / 250 = 0.002,  sqrt(V) = 0.0447214
    #   Z^-1(1 - 1/100) = 2.3263479,  Z^-1(1 - 1/(100 e)) = Z^-1(0.9963212) = 2.6802104
    #   SR0 = 0.0447214 * (0.4227843 * 2.3263479 + 0.5772157 * 2.6802104) = 0.0447214 * 2.5306 = 0.1131720
    #   SR  = 2.5 / sqrt(250) = 0.1581139
    #   z   = (0.1581139 - 0.1131720) * sqrt(1249) / sqrt(1 + 3 * 0.1581139 + 9/4 * 0.1581139^2)
    #       = 0.0449419 * 35.341194 / 1.2372085 = 1.283816
    #   DSR = Z(1.283816) = 0.9004   (the paper reports 0.9004)
    d = deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, -3.0, 10.0, 100, 0.5 / 250)
    assert d.sr0 == pytest.approx(0.1131720, abs=1e-6)
    assert d.dsr == pytest.approx(0.9004, abs=5e-5)


def test_expected_max_sharpe_grows_with_trials_and_is_zero_for_one_trial():
    assert expected_max_sharpe(1, 0.01) == 0.0
    values = [expected_max_sharpe(n, 0.01) for n in (2, 10, 100, 1000)]
    assert values == sorted(values) and values[0] > 0
    with pytest.raises(ConfigError, match="trials"):
        expected_max_sharpe(0, 0.01)


def test_deflated_sharpe_from_returns_uses_empyrical_sharpe_and_sample_moments():
    rng = np.random.default_rng(3)
    best = rng.normal(0.001, 0.01, 500)
    trial_sharpes = np.array([0.01, 0.03, 0.05, 0.02])
    d = deflated_sharpe_from_returns(best, trial_sharpes)
    assert d.sharpe == pytest.approx(best.mean() / best.std(ddof=1), rel=1e-9)
    assert d.n_obs == 500 and d.n_trials == 4
    assert d.var_sharpe == pytest.approx(np.var(trial_sharpes, ddof=1))
    assert abs(d.kurtosis - 3) < 0.6 and abs(d.skew) < 0.3


def test_pbo_matches_a_hand_worked_cscv_table():
    # T = 4 periods, N = 3 trials (A, B, C), S = 4 blocks of one row, performance = mean return.
    m = np.array(
        [
            [1, -2, -2],  # block 0
            [-1, 5, -3],  # block 1
            [1, 5, 1],  # block 2
            [0, 2, -2],  # block 3
        ],
        dtype=float,
    )
    # IS blocks | IS means (A, B, C) | best | OOS means (A, B, C) | OOS rank of best | w = rank/4 | logit
    # {0,1}     | 0.0, 1.5, -2.5     | B    | 0.5, 3.5, -0.5      | 3                | 0.75       | ln 3
    # {0,2}     | 1.0, 1.5, -0.5     | B    | -0.5, 3.5, -2.5     | 3                | 0.75       | ln 3
    # {0,3}     | 0.5, 0.0, -2.0     | A    | 0.0, 5.0, -1.0      | 2                | 0.50       | 0
    # {1,2}     | 0.0, 5.0, -1.0     | B    | 0.5, 0.0, -2.0      | 2                | 0.50       | 0
    # {1,3}     | -0.5, 3.5, -2.5    | B    | 1.0, 1.5, -0.5      | 3                | 0.75       | ln 3
    # {2,3}     | 0.5, 3.5, -0.5     | B    | 0.0, 1.5, -2.5      | 3                | 0.75       | ln 3
    # PBO = share of logits <= 0 = 2 / 6
    r = probability_of_backtest_overfitting(m, n_splits=4, metric="mean")
    assert r.n_combinations == 6
    np.testing.assert_allclose(r.logits, [math.log(3), math.log(3), 0, 0, math.log(3), math.log(3)], atol=1e-12)
    assert r.pbo == pytest.approx(1 / 3)


def test_pbo_is_zero_for_a_real_edge_and_high_for_noise():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, (800, 20))
    edge = noise.copy()
    edge[:, 7] += 0.004
    assert probability_of_backtest_overfitting(edge, 8).pbo == 0.0
    # pure noise: the in-sample winner is a coin flip out of sample
    pbos = [probability_of_backtest_overfitting(rng.normal(0, 0.01, (400, 20)), 8).pbo for _ in range(8)]
    assert 0.3 < np.mean(pbos) < 0.7


def test_pbo_rejects_odd_splits_one_trial_and_too_few_rows():
    with pytest.raises(ConfigError, match="even"):
        probability_of_backtest_overfitting(np.zeros((20, 3)), 5)
    with pytest.raises(ConfigError, match="2 trials"):
        probability_of_backtest_overfitting(np.zeros((20, 1)), 4)
    with pytest.raises(ConfigError, match="too few"):
        probability_of_backtest_overfitting(np.zeros((3, 3)), 4)


def test_sharpe_per_period_ignores_nan_and_needs_two_returns():
    assert math.isnan(sharpe_per_period(np.array([0.01])))
    r = np.array([0.01, np.nan, -0.005, 0.02])
    clean = r[np.isfinite(r)]
    assert sharpe_per_period(r) == pytest.approx(clean.mean() / clean.std(ddof=1))


# -- the verdict ---------------------------------------------------------------------------------
def test_a_low_dsr_reads_no_evidence_of_skill_even_when_pbo_is_low():
    v = overfitting_verdict(0.38, 0.05, 24)
    assert v.skill is False
    assert v.text.startswith("no evidence of skill: DSR 0.38 < 0.95")
    assert "PBO 0.05 is low, but a stable ranking is not skill" in v.text and "24 trials" in v.text


@pytest.mark.parametrize(
    "dsr, pbo, n, skill, start",
    [
        (0.97, 0.20, 24, True, "evidence of skill: DSR 0.97 >= 0.95 and PBO 0.20 < 0.50"),
        (0.97, 0.70, 24, False, "likely overfit: PBO 0.70 >= 0.50 although DSR 0.97"),
        (0.97, None, 24, False, "inconclusive: DSR 0.97 >= 0.95 but PBO could not be computed"),
        (0.97, None, 1, True, "evidence of skill: DSR 0.97 >= 0.95 (1 trial, no selection)"),
        (0.60, 0.80, 24, False, "no evidence of skill: DSR 0.60 < 0.95 (and PBO 0.80 >= 0.50: likely overfit"),
        (None, 0.10, 24, False, "no verdict: the deflated Sharpe ratio could not be computed"),
        (float("nan"), 0.10, 24, False, "no verdict"),
    ],
)
def test_the_verdict_needs_both_a_high_dsr_and_a_low_pbo(dsr, pbo, n, skill, start):
    v = overfitting_verdict(dsr, pbo, n)
    assert v.skill is skill
    assert v.text.startswith(start)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_search_over_skill_less_trials_never_reads_as_skill(seed):
    # 40 "strategies" that are pure noise over 1000 days; the best one is selected as a search would
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, (1000, 40))
    sharpes = np.array([sharpe_per_period(returns[:, j]) for j in range(40)])
    best = int(np.argmax(sharpes))
    dsr = deflated_sharpe_from_returns(returns[:, best], sharpes)
    pbo = probability_of_backtest_overfitting(returns, 16)
    assert sharpes[best] * math.sqrt(252) > 0.5  # the naive best trial looks good...
    v = overfitting_verdict(dsr.dsr, pbo.pbo, 40)
    assert v.skill is False  # ...but the verdict does not call it skill
    assert dsr.dsr < 0.95
