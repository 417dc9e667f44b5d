"""Trade an RL policy: its precomputed out-of-sample target weights, or its live decisions."""

from __future__ import annotations

from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from autostock.errors import ConfigError
from autostock.indicators.predictor import OHLCV, nums_to_datetimes
from autostock.registry import STRATEGIES
from autostock.rl.execution import GAP_BUFFER, Account, Rebalancer, plan_order
from autostock.strategies.base import TERMINAL, BaseStrategy

SERVE = ("auto", "actions", "policy")


def _lookup(series: pd.Series, nums: Any) -> np.ndarray:
    index = pd.DatetimeIndex(pd.to_datetime(series.index))
    daily = bool(len(index)) and bool((index == index.normalize()).all())
    s = pd.Series(np.asarray(series, dtype=float), index=index)
    when = nums_to_datetimes(nums)
    return s.reindex(when.normalize() if daily else when).to_numpy(dtype=float)


@STRATEGIES.register("rl_policy")
class RLPolicy(BaseStrategy):
    """Hold the target weight an RL policy chose for each bar (``autostock rl train``).

    Formula: at the close of bar t, with target weight ``w_t`` in ``[-max_leverage, max_leverage]``,
    ``order = trunc(w_t * equity_t / close_t) - shares`` (a buy cut to what the cash pays for at
    the close plus slippage and a 2 % gap), filled at the open of t+1; a target within ``band``
    of the last traded one is held (and retried the next bar when the fill was cut for cash). The
    environment (:mod:`autostock.rl.execution`) trades by the same rule, so the policy learns in
    the market it trades in. The policy sizes its own position: the sizer is not used. With
    several symbols each trades its own sleeve: an account that starts with 1/N of the equity
    and keeps its own cash (``cash_s -= size * fill + commission`` at each of its fills), so
    its equity is what one environment with 1/N of the cash would hold; the run's equity is the
    sum of the sleeves (``tests/rl/test_rl_parity.py``).

    Params:

    * ``policy``: a policy directory written by ``autostock rl train``;
    * ``actions``: instead, a ``pd.Series`` of target weights by date, or a dict symbol -> Series;
    * ``seed``: which trained seed's actions / policy to use (-1: the first);
    * ``serve``: ``actions`` (the precomputed out-of-sample weights; every bar of the run must have
      one, and its prices must be the ones they were computed on), ``policy`` (the saved policy
      decides each bar from the observation builder, as in live trading), or ``auto``: ``policy``
      on a live feed and on bars whose closes differ from those ``rl train`` recorded (a Monte
      Carlo path, other data), else ``actions``;
    * ``band``: rebalance band (-1: the policy's own, else 0);
    * ``act_from``: first date on which orders are placed (policy serving; '' = the first bar out
      of sample for the policy and its predictors);
    * ``lookback``: bars handed to features and predictors per live decision (300).

    Policy serving hands the observation builder those bars joined with the run context's
    ``bar_columns``: in a backtest the loaded bars' columns beyond OHLCV (``+news:``,
    ``+options:``, ``+sectors``), live the news the session knows (:class:`~autostock.live.news.LiveNews`),
    so a policy trained with the ``news`` group sees the same feature values in both.

    Honesty of policy serving: orders go only on bars out of sample for the served policy (the
    last fold's) and its predictors (:class:`~autostock.rl.serving.LearntFrom`). On a historical
    feed, earlier bars may only warm the features when they are the very bars training saw;
    on any other prices (a Monte Carlo path draws its bars from the whole run) a run starting
    before the first out-of-sample bar is refused with one line naming it.
    """

    params = (
        ("policy", ""),
        ("actions", None),
        ("seed", -1),
        ("serve", "auto"),
        ("band", -1.0),
        ("act_from", ""),
        ("lookback", 300),
    )

    def __init__(self) -> None:
        p = self.p
        if p.serve not in SERVE:
            raise ConfigError(f"rl_policy serve must be one of {', '.join(SERVE)}, got {p.serve!r}")
        if not p.policy and p.actions is None:
            raise ConfigError("rl_policy needs policy=<a directory written by autostock rl train> (or actions=)")
        self.policy_meta: dict[str, Any] = {}
        band = float(p.band)
        if p.policy:
            from autostock.rl.artifacts import load_policy_params

            self.policy_meta = load_policy_params(p.policy)
            if band < 0:
                band = float(self.policy_meta.get("band", 0.0))
        # historical feeds whose closes are not the ones rl train recorded: date of the first difference
        self.differs: dict[Any, tuple[pd.Timestamp, float, float] | None] = {
            d: self._first_difference(d) for d in self.datas if not d.islive()
        }
        other_prices = [d for d, diff in self.differs.items() if diff is not None]
        if p.serve == "actions" and p.actions is None and other_prices:
            d = other_prices[0]
            when, close, recorded = self.differs[d]  # type: ignore[misc]
            raise ConfigError(
                f"rl_policy serve=actions: the {d._name or 'data0'} bars differ from those the policy's actions were "
                f"computed on (on {when.date()}: close {close:.6g}, recorded {recorded:.6g}; a Monte Carlo path or "
                "other data); use serve=policy or serve=auto, which let the saved policy decide each bar"
            )
        live = any(d.islive() for d in self.datas)
        self.serving = p.serve == "policy" or (p.serve == "auto" and p.actions is None and (live or bool(other_prices)))
        self.rebalancers = {d: Rebalancer(max(band, 0.0)) for d in self.datas}
        self.act_from = pd.Timestamp(p.act_from) if p.act_from else None
        self.servers: dict[Any, Any] = {}
        self.last_orders: dict[Any, tuple[Any, int]] = {}
        self.weights: dict[Any, np.ndarray] = {}
        self.sleeve_cash: dict[Any, float] = {}
        if self.serving:
            if not p.policy:
                raise ConfigError("rl_policy serve=policy needs policy=<a policy directory>")
            from autostock.rl.serving import PolicyServer

            for d in self.datas:
                server = PolicyServer(p.policy, d._name or "data0", int(p.seed))
                if not d.islive():
                    self._check_out_of_sample(d, server.learnt)
                self.servers[d] = server
        else:
            for d in self.datas:
                self.weights[d] = self._precomputed(d)

    def _first_difference(
        self, data: Any, before: pd.Timestamp | None = None
    ) -> tuple[pd.Timestamp, float, float] | None:
        """(date, close, recorded close) of the first bar (before ``before``) whose close is not the one
        ``rl train`` recorded; None when all match or nothing was recorded (user-given actions, an old directory)."""
        if not self.p.policy or self.p.actions is not None:
            return None
        from autostock.rl.artifacts import load_closes

        recorded = load_closes(self.p.policy, data._name or "data0")
        n = len(data.close.array)
        if recorded is None or n == 0:
            return None
        nums = data.datetime.array[:n]
        dates = nums_to_datetimes(nums)
        closes = np.asarray(data.close.array[:n], dtype=float)
        known = _lookup(recorded, nums)
        bad = ~np.isclose(closes, known, rtol=1e-9, atol=0.0)
        if before is not None:
            bad &= np.asarray(dates < before)
        if not bad.any():
            return None
        i = int(np.argmax(bad))
        return dates[i], float(closes[i]), float(known[i])

    def _check_out_of_sample(self, data: Any, learnt: Any) -> None:
        """Refuse a historical run the served policy cannot trade honestly (see the class docstring)."""
        symbol = data._name or "data0"
        n = len(data.close.array)
        dates = nums_to_datetimes(data.datetime.array[:n])
        if learnt.label_end is None:
            raise ConfigError(
                f"rl_policy: a predictor of {self.p.policy} records no training window for {symbol}, so the saved "
                "policy cannot be shown to decide only bars its inputs were not trained on; retrain it with autostock train"
            )
        oos = [t for t in dates if learnt.out_of_sample(t)]
        if not oos:
            raise ConfigError(
                f"rl_policy: no bar of this run ({dates[0].date()} to {dates[-1].date()}) is out of sample for "
                f"{symbol}: {learnt.describe()}"
            )
        first = oos[0]
        if self.act_from is not None and not learnt.out_of_sample(self.act_from):
            raise ConfigError(
                f"rl_policy act_from={self.act_from.date()} would trade {symbol} on bars the policy or its predictors "
                f"learnt from ({learnt.describe()}); use act_from={first.date()} or later"
            )
        if dates[0] < first:
            diff = self._first_difference(data, before=first)
            if diff is not None:
                raise ConfigError(
                    f"rl_policy: the {symbol} bars are not the ones {self.p.policy} was trained on (close "
                    f"{diff[1]:.6g} on {diff[0].date()}, recorded {diff[2]:.6g}: a Monte Carlo path or other data), so "
                    f"the saved policy decides each bar and every bar must be out of sample for it, but they start "
                    f"{dates[0].date()} and {learnt.describe()}; run from {first.date()} on (--start {first.date()})"
                )

    def _series(self, symbol: str) -> pd.Series:
        p = self.p
        if p.actions is not None:
            if isinstance(p.actions, pd.Series):
                return p.actions
            if isinstance(p.actions, dict):
                if symbol not in p.actions:
                    raise ConfigError(
                        f"rl_policy actions have no series for {symbol}; have: {', '.join(map(str, p.actions))}"
                    )
                return p.actions[symbol]
            raise ConfigError(f"rl_policy actions must be a Series or a dict of Series, got {type(p.actions).__name__}")
        from autostock.rl.artifacts import load_actions

        return load_actions(p.policy, symbol, int(p.seed))

    def _precomputed(self, data: Any) -> np.ndarray:
        symbol = data._name or "data0"
        series = self._series(symbol)
        n = len(data.close.array)
        values = _lookup(series, data.datetime.array[:n])
        missing = ~np.isfinite(values)
        if missing.any():
            dates = nums_to_datetimes(data.datetime.array[:n])
            have = series.dropna()
            cover = f"{have.index[0].date()} to {have.index[-1].date()}" if len(have) else "no bars"
            raise ConfigError(
                f"rl_policy: no out-of-sample action for {symbol} on {dates[int(np.argmax(missing))].date()} "
                f"({int(missing.sum())} bar(s) without one; the actions cover {cover}); "
                f"run over that range, e.g. --start {have.index[0].date() if len(have) else 'DATE'}"
            )
        return values

    def _bars(self, data: Any) -> pd.DataFrame:
        """The newest ``lookback`` bars of ``data`` with the run context's extra columns (live news,
        or in a backtest the loaded bars' own news / options / sector columns), as in training."""
        from autostock.context import join_bar_columns

        count = min(len(data), max(int(self.p.lookback), 1))
        cols = {c: np.asarray(getattr(data, c).get(size=count), dtype="float64") for c in OHLCV}
        frame = pd.DataFrame(cols, index=nums_to_datetimes(data.datetime.get(size=count)).rename("date"))
        provider = getattr(getattr(self.p, "context", None), "bar_columns", None)
        return join_bar_columns(frame, provider, data._name or "data0")

    def _account(self, data: Any) -> Account:
        pos = self.getposition(data)
        return Account(cash=self.sleeve_cash[data], shares=int(pos.size), entry_price=float(pos.price or 0.0))

    def _open_sleeves(self) -> None:
        """Each data's sleeve: 1/N of the equity now, less the value of what it already holds."""
        share = self.broker.getvalue() / len(self.datas)
        for d in self.datas:
            held = self.getposition(d).size * float(d.close[0]) if len(d) else 0.0
            self.sleeve_cash[d] = share - held

    def _sleeve_fill_check(self, data: Any, delta: int, fee: Any) -> None:
        """At the fill, drop the opening part of this buy when it leaves the sleeve's cash negative.

        That is what the environment's account does and what backtrader does to a single
        account; with several sleeves backtrader checks the pooled cash, so the check is handed
        to the broker's fill-time sizing (:class:`~autostock.sizers.fill.FillSizingBroker`).
        """
        offer = getattr(self.broker, "offer_fill_sizing", None)
        if offer is None:
            return

        def resize(price: float, cash: float, equity: float) -> int:
            account = Account(cash=self.sleeve_cash[data], shares=int(self.getposition(data).size))
            executed, _ = account.apply_fill(delta, price, fee)
            return int(executed)

        offer(data, delta, resize)

    def notify_order(self, order: bt.Order) -> None:
        if order.status in TERMINAL and order.data in self.sleeve_cash and order.executed.size:
            ex = order.executed
            self.sleeve_cash[order.data] -= float(ex.size) * float(ex.price) + float(ex.comm)
        super().notify_order(order)

    def target_weight(self, data: Any, account: Account) -> float:
        """The policy's target weight for ``data``'s current bar."""
        if self.serving:
            return float(self.servers[data].decide(self._bars(data), account))
        return float(self.weights[data][len(data) - 1])

    def next(self) -> None:
        if not self.sleeve_cash:
            self._open_sleeves()
        for d in self.datas:
            if self.pending(d) or len(d) == 0:
                continue
            when = nums_to_datetimes([d.datetime[0]])[0]
            if self.act_from is not None and when < self.act_from:
                continue
            if self.serving and not self.servers[d].learnt.out_of_sample(when):
                continue  # warm-up: a bar the policy or its predictors learnt from is never traded
            last = self.last_orders.pop(d, None)
            if last is not None and abs(last[0].executed.size) != abs(last[1]):
                self.rebalancers[d].retry()  # the fill was cut for cash: trade again
            account = self._account(d)
            w = self.target_weight(d, account)
            if not self.rebalancers[d].wants_trade(w):
                continue
            comminfo = self.broker.getcommissioninfo(d)

            def fee(size: float, price: float, ci: Any = comminfo) -> float:
                return float(ci.getcommission(size, price))

            buffer = float(getattr(self.broker.p, "slip_perc", 0.0) or 0.0) + GAP_BUFFER
            delta = plan_order(account, w, float(d.close[0]), fee, buffer)
            self.rebalancers[d].traded(w)
            order = None
            if delta > 0:
                self._sleeve_fill_check(d, delta, fee)
                order = self.buy(data=d, size=delta, exectype=bt.Order.Market)
            elif delta < 0:
                order = self.sell(data=d, size=-delta, exectype=bt.Order.Market)
            if order is not None:
                self.last_orders[d] = (order, delta)
