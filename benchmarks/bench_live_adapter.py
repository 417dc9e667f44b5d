"""Cost of the live adapter's safety machinery per order, against the loopback Alpaca server.

Compares N market-order submits through raw alpaca-py (``TradingClient.submit_order``) with the
same submits through autostock's path (state row committed before the request, token bucket,
timeout, duplicate-safe submit). Prints both rates and the ratio.

    python benchmarks/bench_live_adapter.py --orders 300

Run from the repository root (it uses the test suite's loopback server).
"""

from __future__ import annotations

import argparse
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
    n = ap.parse_args().orders

    def req(cid: str) -> MarketOrderRequest:
        return MarketOrderRequest(symbol="AAA", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                                  client_order_id=cid)

    fake = FakeAlpaca(cash=1e12).start()
    try:
        raw = TradingClient("PKTESTKEY", "SECRETCANARY", raw_data=True, url_override=fake.base_url)
        t0 = time.perf_counter()
        for i in range(n):
            raw.submit_order(req(f"raw-{i}"))
        t_raw = time.perf_counter() - t0

        creds = Credentials("PKTESTKEY", "SECRETCANARY", fake.base_url, fake.data_url)
        # an unthrottled bucket: this measures overhead, not Alpaca's 200/min limit
        store = AlpacaStore(creds, limiter=TokenBucket(limit=10**9, period=1.0, burst=10**6))
        with tempfile.TemporaryDirectory() as tmp:
            db = StateDB(Path(tmp) / "bench.sqlite")
            t0 = time.perf_counter()
            for i in range(n):
                cid = f"as-{i}"
                db.record_order(cid, symbol="AAA", side="buy", qty=1, type="market")
                o = store.submit(req(cid), cid)
                db.update_order(cid, alpaca_id=o["id"], status=o["status"])
            t_safe = time.perf_counter() - t0
    finally:
        fake.stop()
    print(f"orders: {n}")
    print(f"raw alpaca-py submit:      {n / t_raw:8.1f} orders/s ({1000 * t_raw / n:.2f} ms each)")
    print(f"autostock safe submit:     {n / t_safe:8.1f} orders/s ({1000 * t_safe / n:.2f} ms each)")
    print(f"overhead ratio (safe/raw): {t_safe / t_raw:.2f}x")
    print("(Alpaca allows 200 requests/minute, i.e. 3.3/s: both are far above what an account may send)")


if __name__ == "__main__":
    main()
