"""RL benchmark: environment and training throughput (steps/s), and one live decision's latency.

    python benchmarks/bench_rl.py [--device cpu|cuda] [--timesteps 4000] [--repeats 3]

Prints medians over ``--repeats`` interleaved runs: raw environment steps/s (random actions),
training steps/s per agent (PPO, A2C, DQN; 32x32 networks) on the CPU, and the latency of one
live decision (:class:`autostock.rl.serving.PolicyServer.decide`: features + predictor forecast +
observation + policy) against the 20 ms target. ``--device cuda`` (or ``cuda:N``) also trains
each agent on that GPU and prints its throughput beside the CPU's; where torch sees no GPU it
says so in one line and prints the CPU figures only.
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
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu", help="cpu, or cuda[:N] to also measure training on a GPU")
    ap.add_argument("--timesteps", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    devices = ["cpu"]
    if args.device.startswith("cuda"):
        if torch.cuda.is_available():
            devices.append(args.device)
            print(f"GPU: {torch.cuda.get_device_name(torch.device(args.device))} (torch {torch.__version__})")
        else:
            print(
                f"no GPU available: torch {torch.__version__} sees no CUDA device "
                f"(built for CUDA: {torch.version.cuda or 'no, a CPU-only build'}); GPU training throughput not measured"
            )
    elif args.device != "cpu":
        raise SystemExit(f"--device must be cpu or cuda[:N], got {args.device!r}")

    from autostock.feeds.synthetic import generate_market
    from autostock.models.training import train as train_predictor
    from autostock.models.walkforward import WalkForwardConfig
    from autostock.rl.agents import make_agent
    from autostock.rl.env import TradingEnv
    from autostock.rl.execution import Account, CostModel
    from autostock.rl.observation import ObservationBuilder
    from autostock.rl.rewards import make_reward
    from autostock.rl.serving import PolicyServer
    from autostock.rl.training import RLSettings, symbol_market, train_policies

    tmp = Path(tempfile.mkdtemp(prefix="bench_rl_"))
    market = generate_market(["AAPL"], "2012-01-01", "2019-12-31", seed=3)
    train_predictor(
        market,
        "ridge",
        "fwd_return_1",
        "logret_1,logret_5,vol_20",
        WalkForwardConfig(train=500, test=250),
        out=tmp / "pred",
    )
    features = "logret_1,logret_5,vol_20,rsi_14,regime"
    sd = symbol_market("AAPL", market.bars["AAPL"], [str(tmp / "pred")], features)
    builder = ObservationBuilder(list(sd.market.columns)).fit(sd.market.iloc[:750])
    costs = CostModel(commission=0.05, spread_bps=5)

    def env(kind: str) -> TradingEnv:
        return TradingEnv(
            sd.bars, sd.market, builder, make_reward("dsr"), kind, costs, start=0, end=750, episode_bars=252
        )

    results: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        e = env("discrete")
        e.reset(seed=0)
        t0, n = time.perf_counter(), 20_000
        for _i in range(n):
            _, _, done, _, _ = e.step(e.action_space.sample())
            if done:
                e.reset()
        results.setdefault("env (random actions)", []).append(n / (time.perf_counter() - t0))
        for agent, kind in (("ppo", "discrete"), ("a2c", "weight"), ("dqn", "discrete")):
            for device in devices:
                model = make_agent(agent, env(kind), 0, args.timesteps, device=device)
                t0 = time.perf_counter()
                model.learn(args.timesteps)
                results.setdefault(f"train {agent} ({device})", []).append(args.timesteps / (time.perf_counter() - t0))
    print(f"steps per second, median of {args.repeats} interleaved runs ({args.timesteps} training steps each):")
    for name, values in results.items():
        print(f"  {name:<24} {statistics.median(values):>10.0f}  (runs: {', '.join(f'{v:.0f}' for v in values)})")

    settings = RLSettings(
        [str(tmp / "pred")],
        agent="ppo",
        features=features,
        walk=WalkForwardConfig(train=500, test=1000),
        timesteps=256,
        seeds=[0],
    )
    small = type(market)({"AAPL": market.bars["AAPL"]}, market.source, synthetic=True)
    train_policies(small, settings, out=tmp / "pol")
    server = PolicyServer(tmp / "pol", "AAPL")
    bars = market.bars["AAPL"].iloc[-300:]
    account = Account(cash=100_000.0)
    server.decide(bars, account)  # warm-up
    lat = []
    for _ in range(50):
        t0 = time.perf_counter()
        server.decide(bars, account)
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    print(
        f"live decision latency over 300 bars (features + forecast + policy): median {statistics.median(lat):.1f} ms, "
        f"p95 {lat[int(0.95 * len(lat)) - 1]:.1f} ms (target < 20 ms)"
    )


if __name__ == "__main__":
    main()
