"""Cost of the live adapter's safety machinery per order, against the loopback Alpaca server.

Compares N market-order submits through raw alpaca-py (``TradingClient.submit_order``) with the
same submits through autostock's path (state row committed before the request, token bucket,
timeout, duplicate-safe submit, and the projected-position query the kill switch now makes
before every order). Prints both rates and the ratio, interleaved in rounds (medians).

Then what the issue-10 safeguards cost: taking and releasing the process locks (once per
session), and one REST poll of open orders and positions (every ``poll_interval`` = 30 s, and
every ``order_stale_after`` = 10 s while an order is open) with the orders left open.

    python benchmarks/bench_live_adapter.py --orders 300

Run from the repository root (it uses the test suite's loopback server).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    from autostock.live.ratelimit import TokenBucket
    from autostock.live.state import StateDB
    from autostock.live.store import AlpacaStore, Credentials
    from tests.live.fake_alpaca import FakeAlpaca

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--open", type=int, default=10, help="open orders during the REST poll")
    args = ap.parse_args()
    n, open_n = args.orders, args.open

    def req(cid: str) -> MarketOrderRequest:
        return MarketOrderRequest(
            symbol="AAA", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=cid
        )

    from autostock.live.broker import AlpacaBroker
    from autostock.live.lock import account_lock, state_lock

    rounds = 5
    per = max(n // rounds, 1)
    fake = FakeAlpaca(cash=1e12).start()
    raw_t: list[float] = []
    safe_t: list[float] = []
    try:
        raw = TradingClient("PKTESTKEY", "SECRETCANARY", raw_data=True, url_override=fake.base_url)
        creds = Credentials("PKTESTKEY", "SECRETCANARY", fake.base_url, fake.data_url)
        # an unthrottled bucket: this measures overhead, not Alpaca's 200/min limit
        store = AlpacaStore(creds, limiter=TokenBucket(limit=10**9, period=1.0, burst=10**6))
        with tempfile.TemporaryDirectory() as tmp:
            db = StateDB(Path(tmp) / "bench.sqlite")
            broker = AlpacaBroker(store, db)
            k = 0
            for _r in range(rounds):  # interleaved: raw, safe, raw, safe, ...
                t0 = time.perf_counter()
                for _ in range(per):
                    raw.submit_order(req(f"raw-{k}"))
                    k += 1
                raw_t.append((time.perf_counter() - t0) / per)
                t0 = time.perf_counter()
                for _ in range(per):
                    cid = f"as-{k}"
                    k += 1
                    broker.pending("AAA")  # the kill switch's projected position
                    db.record_order(cid, symbol="AAA", side="buy", qty=1, type="market")
                    o = store.submit(req(cid), cid)
                    db.update_order(cid, alpaca_id=o["id"], status=o["status"])
                safe_t.append((time.perf_counter() - t0) / per)
            pend_t = []
            for _ in range(200):
                t0 = time.perf_counter()
                broker.pending("AAA")
                pend_t.append(time.perf_counter() - t0)
            open_rows = len(db.open_orders())
            lock_t = []
            for _ in range(50):
                t0 = time.perf_counter()
                a = state_lock(Path(tmp) / "bench.sqlite").acquire()
                b = account_lock(fake.base_url, "PA1", folder=tmp).acquire()
                b.release()
                a.release()
                lock_t.append(time.perf_counter() - t0)
    finally:
        fake.stop()
    # a REST poll as a session makes it: a fresh account with a few open orders
    fake = FakeAlpaca(cash=1e12).start()
    poll_t, poll_req = [], []
    try:
        store = AlpacaStore(
            Credentials("PKTESTKEY", "SECRETCANARY", fake.base_url, fake.data_url),
            limiter=TokenBucket(limit=10**9, period=1.0, burst=10**6),
        )
        with tempfile.TemporaryDirectory() as tmp:
            db = StateDB(Path(tmp) / "poll.sqlite")
            broker = AlpacaBroker(store, db)
            for i in range(open_n):
                cid = f"poll-{i}"
                db.record_order(cid, symbol="AAA", side="buy", qty=1, type="market")
                o = store.submit(req(cid), cid)
                db.update_order(cid, alpaca_id=o["id"], status=o["status"])
            for _ in range(15):
                before = len(fake.requests)
                t0 = time.perf_counter()
                broker.sync_with_broker(full=False)
                poll_t.append(time.perf_counter() - t0)
                poll_req.append(len(fake.requests) - before)
    finally:
        fake.stop()
    raw_ms, safe_ms = 1000 * statistics.median(raw_t), 1000 * statistics.median(safe_t)
    print(f"orders: {per * rounds} per path, {rounds} interleaved rounds (medians)")
    print(f"raw alpaca-py submit:      {1000 / raw_ms:8.1f} orders/s ({raw_ms:.2f} ms each)")
    print(f"autostock safe submit:     {1000 / safe_ms:8.1f} orders/s ({safe_ms:.2f} ms each)")
    print(f"overhead ratio (safe/raw): {safe_ms / raw_ms:.2f}x")
    print("(Alpaca allows 200 requests/minute, i.e. 3.3/s: both are far above what an account may send)")
    print(
        f"of which the projected-position query (kill switch), {open_rows} open rows: "
        f"{1000 * statistics.median(pend_t):.3f} ms per order"
    )
    print(
        f"process locks (state + account), take and release: {1000 * statistics.median(lock_t):.3f} ms once per session"
    )
    print(
        f"one REST poll with {open_n} open orders: {1000 * statistics.median(poll_t):.1f} ms, "
        f"{statistics.median(poll_req):.0f} requests (positions + open-orders list); at the defaults "
        f"(poll every 30 s, every 10 s while an order is open) that is {6 * statistics.median(poll_req):.0f} "
        "requests/minute with orders open and 2 without, of Alpaca's 200"
    )


if __name__ == "__main__":
    main()
