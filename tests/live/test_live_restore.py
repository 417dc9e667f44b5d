"""A live run's strategy state survives a restart: saved after every live bar, restored after
the backfill, before the first live bar is decided."""

from __future__ import annotations

from autostock.config import RunSpec
from autostock.live.state import StateDB
from autostock.strategies.base import BaseStrategy
from tests.live.live_helpers import SessionThread, push_daily, start_session


class Counter(BaseStrategy):
    """Counts the bars it has decided on; the count is its state."""

    notes: list = []

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> None:
        self.n += 1
        Counter.notes.append((self.datas[0].datetime.date(0).isoformat(), self.n))

    def state_dict(self) -> dict:
        return {"n": self.n}

    def load_state(self, state: dict) -> None:
        self.n = int(state["n"])


def test_strategy_state_continues_after_a_restart(fake_alpaca, tmp_path):
    Counter.notes.clear()
    strategy = "tests.live.test_live_restore:Counter"
    run, bars = start_session(fake_alpaca, tmp_path, strategy, ["AAA"])  # 5 backfill bars: n = 1..5
    try:
        for i in (5, 6, 7):
            push_daily(fake_alpaca, "AAA", bars["AAA"].index[i], bars["AAA"].iloc[i])
            run.wait_steps(i + 1)
    finally:
        run.stop()
    assert Counter.notes[-1][1] == 8
    assert StateDB(tmp_path / "paper.sqlite").load_strategy_state("test")["strategy"] == {"n": 8}

    Counter.notes.clear()
    spec = RunSpec(strategy=strategy, symbols=["AAA"])
    again = SessionThread(fake_alpaca, spec, str(tmp_path / "paper.sqlite"), backfill=5).start(fake_alpaca, ["AAA"])
    try:
        again.wait_steps(5)  # the backfill replays with a fresh strategy ...
        assert [n for _, n in Counter.notes] == [1, 2, 3, 4, 5]
        push_daily(fake_alpaca, "AAA", bars["AAA"].index[8], bars["AAA"].iloc[8])
        again.wait_steps(6)
    finally:
        again.stop()
    # ... then the saved count comes back before the first live bar: 8 + 1, not 5 + 1
    assert Counter.notes[-1] == (bars["AAA"].index[8].date().isoformat(), 9)
