"""Properties of the pure risk math in autostock.sizers.risk (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autostock.sizers import risk

money = st.floats(min_value=1.0, max_value=1e8, allow_nan=False)
price = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)
fraction = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
leverage = st.floats(min_value=0.1, max_value=5.0, allow_nan=False)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(
    equity=money,
    cash=money,
    p=price,
    stop_frac=st.floats(0.001, 0.9),
    r=fraction,
    lev=leverage,
    gross_frac=st.floats(0.0, 6.0),
)
def test_fixed_fraction_size_is_never_negative_and_fits_cash_and_leverage(
    equity, cash, p, stop_frac, r, lev, gross_frac
):
    gross = gross_frac * equity
    shares = risk.fixed_fraction_shares(
        equity, p, p * stop_frac, risk_fraction=r, cash=cash, gross_exposure=gross, max_leverage=lev
    )
    assert shares >= 0
    assert shares * p <= cash * (1 + 1e-9)
    assert gross + shares * p <= max(lev * equity, gross) * (1 + 1e-9)
    # hitting the stop never loses more than the risked fraction
    assert shares * p * stop_frac <= r * equity * (1 + 1e-9)


def test_fixed_fraction_risks_the_fraction_when_unconstrained():
    # 100k equity, 2 % risk, $2 stop distance -> 1000 shares ($10k at $10)
    assert risk.fixed_fraction_shares(100_000, 10.0, 2.0, risk_fraction=0.02) == 1000


@FAST
@given(win=fraction, payoff=st.floats(0.0, 50.0), frac=fraction, cap=st.floats(0.0, 1.0))
def test_kelly_fraction_stays_between_zero_and_cap(win, payoff, frac, cap):
    f = risk.kelly_fraction(win, payoff, fraction=frac, cap=cap)
    assert 0.0 <= f <= cap


@FAST
@given(win=st.floats(0.0, 0.99), payoff=st.floats(0.01, 50.0))
def test_kelly_with_no_edge_gives_zero(win, payoff):
    if win * payoff <= (1 - win):  # expected value of a unit bet <= 0
        assert risk.kelly_fraction(win, payoff, fraction=1.0, cap=1.0) == 0.0


def test_kelly_known_value_and_no_edge_from_trades():
    # W = 0.6, R = 2 -> f* = 0.6 - 0.4 / 2 = 0.4; half-Kelly 0.2
    assert risk.kelly_fraction(0.6, 2.0, fraction=0.5, cap=1.0) == pytest.approx(0.2)
    coin = [1.0, -1.0] * 20  # 50 % wins, payoff 1: no edge
    assert risk.kelly_from_pnls(coin, window=40, min_trades=10) == 0.0
    assert risk.kelly_from_pnls([5.0, -1.0], min_trades=10, warmup=0.05) == 0.05  # warm-up


@FAST
@given(pnls=st.lists(st.floats(-1e4, 1e4, allow_nan=False), max_size=80), cap=st.floats(0.01, 1.0))
def test_kelly_from_trades_is_never_negative_nor_above_cap(pnls, cap):
    f = risk.kelly_from_pnls(pnls, window=50, min_trades=5, cap=cap)
    assert 0.0 <= f <= cap


@st.composite
def return_matrices(draw):
    n = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    vols = rng.uniform(0.003, 0.04, n)
    common = rng.normal(0, 0.01, (120, 1)) * draw(st.floats(0.0, 1.0))
    return common + rng.normal(0, 1, (120, n)) * vols


@FAST
@given(
    r=return_matrices(),
    target=st.floats(0.01, 0.6),
    lev=leverage,
    method=st.sampled_from(["risk_parity", "inverse_vol"]),
    max_w=st.one_of(st.none(), st.floats(0.05, 1.0)),
)
def test_vol_target_weights_are_long_only_and_within_leverage_and_position_caps(r, target, lev, method, max_w):
    w = risk.vol_target_weights(r, target_vol=target, method=method, max_leverage=lev, max_weight=max_w)
    assert np.all(w >= 0)
    assert w.sum() <= lev * (1 + 1e-9)
    if max_w is not None:
        assert np.all(w <= max_w + 1e-12)
    cov = np.atleast_2d(np.cov(r, rowvar=False))
    assert risk.portfolio_vol(w, cov) <= target * (1 + 1e-6)


def test_vol_target_hits_the_target_when_unconstrained():
    rng = np.random.default_rng(3)
    r = rng.normal(0, [0.01, 0.02, 0.03], (500, 3))
    w = risk.vol_target_weights(r, target_vol=0.10, max_leverage=10.0)
    assert risk.portfolio_vol(w, np.cov(r, rowvar=False)) == pytest.approx(0.10, rel=1e-6)


def test_risk_parity_equalises_risk_contributions():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(400, 4)) @ np.diag([0.01, 0.02, 0.015, 0.03]) + rng.normal(0, 0.005, (400, 1))
    cov = np.cov(a, rowvar=False)
    w = risk.risk_parity_weights(cov)
    contrib = w * (cov @ w)
    assert w.sum() == pytest.approx(1.0)
    assert np.ptp(contrib / contrib.sum()) < 1e-6
    # uncorrelated assets: risk parity is inverse volatility
    diag = np.diag([0.01, 0.04, 0.09]) ** 2
    assert risk.risk_parity_weights(diag) == pytest.approx(risk.inverse_vol_weights([0.01, 0.04, 0.09]), rel=1e-6)


@FAST
@given(
    shares=st.integers(0, 10**6),
    p=price,
    equity=money,
    gross_f=st.floats(0, 3),
    pos_f=st.floats(0, 1),
    sec_f=st.floats(0, 1),
    lev=leverage,
    mpw=st.one_of(st.none(), st.floats(0.01, 1.0)),
    cap=st.one_of(st.none(), st.floats(0.01, 1.0)),
)
def test_limit_shares_never_exceeds_any_room_nor_the_order(shares, p, equity, gross_f, pos_f, sec_f, lev, mpw, cap):
    book = risk.Exposure(equity, gross_f * equity, pos_f * equity, sec_f * equity)
    allowed, reason = risk.limit_shares(shares, p, book, max_leverage=lev, max_position_weight=mpw, sector_cap=cap)
    assert 0 <= allowed <= shares
    if allowed:
        assert book.gross + allowed * p <= lev * equity * (1 + 1e-9)
        if mpw is not None:
            assert book.position + allowed * p <= mpw * equity * (1 + 1e-9)
        if cap is not None:
            assert book.sector + allowed * p <= cap * equity * (1 + 1e-9)
    assert (reason is None) == (allowed == shares)


@FAST
@given(equity=money, cash=money, p=price, n=st.integers(1, 100), held=st.integers(0, 10**5))
def test_equal_weight_and_target_shares_are_never_negative_and_fit_cash(equity, cash, p, n, held):
    for shares in (
        risk.equal_weight_shares(equity, p, n, cash=cash, current_shares=held),
        risk.target_shares(0.3, equity, p, current_shares=held, cash=cash),
    ):
        assert shares >= 0
        assert shares * p <= cash * (1 + 1e-9)


def test_correlation_with_book_sees_a_clone_and_ignores_an_empty_book():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 0.01, 100)
    b = rng.normal(0, 0.01, 100)
    assert risk.correlation_with_book(a + rng.normal(0, 0.001, 100), a[:, None], [1000.0]) > 0.95
    assert abs(risk.correlation_with_book(b, a[:, None], [1000.0])) < 0.3
    assert risk.correlation_with_book(a, a[:, None], [-1000.0]) == pytest.approx(-1.0)  # short book
    assert math.isnan(risk.correlation_with_book(a, np.empty((100, 0)), []))
    assert risk.correlation_scale(0.9, 0.8) == pytest.approx(0.5)
    assert risk.correlation_scale(0.5, 0.8) == 1.0


def test_average_true_range_known_value_and_short_history():
    high, low, close = [11, 12, 13], [9, 10, 11], [10, 11, 12]
    # TR = max(h, prev close) - min(l, prev close): (12-10)=2, (13-11)=2
    assert risk.average_true_range(high, low, close, period=2) == pytest.approx(2.0)
    assert math.isnan(risk.average_true_range(high, low, close, period=5))


def test_bad_inputs_raise_naming_the_value():
    with pytest.raises(ValueError, match="stop_distance"):
        risk.fixed_fraction_shares(1e5, 10.0, 0.0)
    with pytest.raises(ValueError, match="win_rate"):
        risk.kelly_fraction(1.5, 2.0)
    with pytest.raises(ValueError, match="method"):
        risk.vol_target_weights(np.ones((5, 2)) * 0.01 + np.arange(10).reshape(5, 2) * 1e-3, method="magic")
