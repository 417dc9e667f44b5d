"""The dashboard's pages: thin Streamlit drawing over :mod:`~autostock.dashboard.data`,
:mod:`~autostock.dashboard.reports` and :mod:`~autostock.dashboard.divergence`."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from autostock.dashboard import data as live_data
from autostock.dashboard import reports as rep

STATE_ENV, REPORTS_ENV, REFRESH_ENV = (
    "AUTOSTOCK_DASHBOARD_STATE",
    "AUTOSTOCK_DASHBOARD_REPORTS",
    "AUTOSTOCK_DASHBOARD_REFRESH",
)


@dataclass
class Settings:
    """Where the dashboard reads from."""

    state: str = "state/paper.sqlite"
    reports: str = "reports"
    refresh: float = 3.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            state=os.environ.get(STATE_ENV, cls.state),
            reports=os.environ.get(REPORTS_ENV, cls.reports),
            refresh=float(os.environ.get(REFRESH_ENV, cls.refresh)),
        )


def _utc(ts: float | pd.Timestamp | None) -> str:
    if ts is None:
        return "unknown time"
    if isinstance(ts, pd.Timestamp):
        return ts.strftime("%Y-%m-%d %H:%M:%S UTC")
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def equity_figure(equity: pd.DataFrame, markers: pd.DataFrame | None = None, value: str = "equity") -> Any:
    """Equity (top) and drawdown (bottom) on one shared time axis, with optional trade markers."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    fig.add_trace(go.Scattergl(x=equity.index, y=equity[value], name="equity", mode="lines"), row=1, col=1)
    fig.add_trace(
        go.Scattergl(
            x=equity.index,
            y=equity["drawdown"] * 100,
            name="drawdown %",
            mode="lines",
            fill="tozeroy",
            line={"color": "firebrick"},
        ),
        row=2,
        col=1,
    )
    if markers is not None and len(markers):
        at = equity[value].reindex(pd.DatetimeIndex(markers["date"]), method="ffill")
        for side, symbol, color in (("buy", "triangle-up", "green"), ("sell", "triangle-down", "red")):
            m = markers["side"].to_numpy() == side
            if m.any():
                fig.add_trace(
                    go.Scatter(
                        x=markers["date"][m],
                        y=at.to_numpy()[m],
                        mode="markers",
                        name=side,
                        marker={"symbol": symbol, "size": 10, "color": color},
                        text=[
                            f"{s} {side} {abs(z):g} @ {p:.2f}"
                            for s, z, p in zip(markers["symbol"][m], markers["size"][m], markers["price"][m])
                        ],
                        hoverinfo="text+x",
                    ),
                    row=1,
                    col=1,
                )
    fig.update_layout(height=480, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h"})
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    return fig


# -- live ------------------------------------------------------------------------------------------


def live_page(settings: Settings) -> None:
    """The live account, refreshed every ``settings.refresh`` seconds (only this fragment reruns)."""
    st.title("Live account")

    @st.fragment(run_every=settings.refresh)
    def body() -> None:
        render_live(settings.state)

    body()


def _halt(state: str) -> None:
    """The Halt button: the trader's own persistent halt (runs before the page redraws)."""
    try:
        live_data.halt_trading(state, f"halted from the dashboard at {_utc(time.time())}")
    except (live_data.StateUnavailable, OSError, sqlite3.Error) as exc:
        st.session_state["halt_failed"] = f"Halt FAILED: {exc}. Stop the trader (Ctrl-C) or create its --halt-file."


def render_live(state: str) -> None:
    """One draw of the live page from the state database at ``state``."""
    started = time.perf_counter()
    _render_live(state)
    st.caption(f"live page drawn in {(time.perf_counter() - started) * 1000:.0f} ms (server side)")


def _render_live(state: str) -> None:
    cache = st.session_state.setdefault("equity_cache", live_data.EquityCache())
    view = live_data.load_live(state, cache=cache)
    if not view.ok:
        st.warning(view.notice)
        return
    s = view.session
    st.caption(
        f"{s.get('mode', '?')} session {s.get('run_id', '?')}: {s.get('strategy', '?')} on "
        f"{','.join(s.get('symbols') or []) or '?'} · read {_utc(view.read_at)} · "
        f"{view.n_snapshots:,} equity snapshots"
    )
    if view.halt:
        st.error(
            f"Trading HALTED: {view.halt} (since {_utc(view.halt_time)}). "
            "Resume from the command line: `autostock resume`."
        )
    else:
        st.success("Trading allowed")
    st.button(
        "Halt trading",
        type="primary",
        disabled=view.halt is not None,
        key="halt",
        on_click=_halt,
        args=(state,),
        help="Sets the same persistent halt as the kill switch; only `autostock resume` clears it.",
    )
    if st.session_state.get("halt_failed"):
        st.error(st.session_state.pop("halt_failed"))

    last = view.last_equity
    cols = st.columns(5)
    cols[0].metric("Equity", _money(last["equity"]) if last else "n/a")
    cols[1].metric("Cash", _money(last["cash"]) if last else "n/a")
    cols[2].metric("Peak (kill switch)", _money(view.equity_peak))
    dd = view.equity["drawdown"].iloc[-1] if view.n_snapshots else None
    cols[3].metric("Drawdown", f"{dd:.2%}" if dd is not None else "n/a")
    cols[4].metric(
        "Last snapshot (UTC)",
        last["ts"].strftime("%H:%M:%S") if last else "none",
        help=_utc(last["ts"]) if last else None,
    )
    if view.n_snapshots:
        shown = live_data.downsample(view.equity)
        st.plotly_chart(equity_figure(shown), key="live_equity")
        if len(shown) < view.n_snapshots:
            st.caption(
                f"chart shows {len(shown):,} of {view.n_snapshots:,} snapshots (first/low/high/last per "
                "bucket); the stored data is unchanged"
            )
    else:
        st.info("No equity snapshots yet.")

    left, right = st.columns(2)
    with left:
        st.subheader("Positions")
        if len(view.positions):
            shown = view.positions.drop(columns=["updated"]).set_index("symbol")
            st.table(
                shown.round(
                    {
                        "avg_price": 2,
                        "cost_basis": 2,
                        "mark": 2,
                        "market_value": 2,
                        "unrealized_pnl": 2,
                        "unrealized_pct": 4,
                    }
                )
            )
            if view.positions["mark"].isna().any():
                st.caption("mark and unrealised P&L are empty where the trader has published no last price")
        else:
            st.write("flat: no positions")
        st.subheader("Open orders")
        if len(view.open_orders):
            st.dataframe(view.open_orders, hide_index=True, key="open_orders")
        else:
            st.write("none")
    with right:
        st.subheader("Kill switch")
        ks = live_data.killswitch_rows(view)
        if len(ks):
            st.table(ks.set_index("limit"))
        elif not view.session:
            st.write("limits unknown: the trader has not published its session (an older `autostock trade`)")
        else:
            st.write("no limits armed")
        st.subheader("Stream health")
        health = live_data.stream_health(view.health)
        if len(health):
            st.table(health.set_index("stream").round({"age_s": 1}))
            stale = health[health["age_s"] > 120]
            for name in stale["stream"]:
                st.warning(f"{name} stream: no message for {stale.set_index('stream').loc[name, 'age_s']:.0f} s")
        else:
            st.write("no stream health published yet")
        rate = live_data.request_rate(view.health)
        st.subheader("Request rate")
        if rate is None:
            st.write("unknown: no request counts published yet")
        else:
            st.progress(
                min(1.0, rate["fraction"]),
                text=f"{rate['used']} of {rate['limit']} requests/minute "
                f"(client cap {rate['client_limit']}, {rate['rate_limited']} rate-limited responses)",
            )
    st.subheader("Recent fills")
    if len(view.fills):
        st.dataframe(view.fills, hide_index=True, key="fills")
    else:
        st.write("none")
    st.subheader("Events and warnings")
    ev = view.events
    if len(ev):
        bad = ev[ev["level"].isin(["warning", "error"])]
        for _, r in bad.head(5).iterrows():
            st.warning(f"{_utc(r['ts'])} {r['kind']}: {r['message']}")
        st.dataframe(ev, hide_index=True, key="events")
    else:
        st.write("none")


# -- backtests -------------------------------------------------------------------------------------


def backtests_page(settings: Settings) -> None:
    """Every report folder; one backtest in detail; several compared."""
    st.title("Backtests")
    runs = rep.discover_runs(settings.reports)
    if not runs:
        st.info(f"No report folders under {settings.reports}: run `autostock backtest` (or pass --reports).")
        return
    st.subheader("All runs")
    st.dataframe(rep.runs_table(runs, settings.reports), hide_index=True, key="runs")
    bts = [r for r in runs if r.kind == "backtest" and r.problem is None]
    if not bts:
        st.info("No backtest folders (summary.json) yet.")
        return
    names = [str(r.path) for r in bts]
    choice = st.selectbox("Backtest", names, format_func=lambda p: Path(p).name, key="bt_run")
    try:
        run = rep.load_backtest(choice)
    except (OSError, ValueError, KeyError) as exc:
        st.error(f"cannot read {choice}: {exc}")
        return
    s = run.summary
    st.caption(
        f"{s.get('strategy')} {s.get('params')} · {','.join(s.get('symbols') or [])} · "
        f"{s.get('start')} .. {s.get('end')} · data: {(s.get('data') or {}).get('label', '?')}"
    )
    metrics = pd.DataFrame(
        {"metric": list((s.get("metrics") or {}).keys()), "value": list((s.get("metrics") or {}).values())}
    )
    c1, c2 = st.columns([1, 3])
    c1.dataframe(metrics, hide_index=True, key="bt_metrics")
    eq = run.equity.assign(drawdown=run.drawdown)
    c2.plotly_chart(equity_figure(eq, rep.trade_markers(run.orders), value="value"), key="bt_equity")
    st.subheader("Monthly returns")
    monthly = rep.monthly_returns(run.returns)
    if len(monthly):
        import plotly.express as px

        heat = monthly * 100
        heat.index = heat.index.astype(str)  # years as labels, not a numeric axis
        st.plotly_chart(
            px.imshow(
                heat,
                text_auto=".1f",
                aspect="auto",
                color_continuous_scale="RdYlGn",
                color_continuous_midpoint=0.0,
                labels={"color": "%"},
            ),
            key="bt_monthly",
        )
    st.subheader("Trades")
    tr = run.trades
    if len(tr):
        f1, f2, f3 = st.columns(3)
        syms = f1.multiselect("Symbols", sorted(tr["symbol"].unique()), key="tr_symbols")
        direction = f2.selectbox("Direction", ["all", "long", "short"], key="tr_direction")
        outcome = f3.selectbox("Outcome", ["all", "win", "loss"], key="tr_outcome")
        shown = rep.filter_trades(tr, syms or None, direction, outcome)
        st.dataframe(shown, hide_index=True, key="trades")
        st.caption(f"{len(shown)} of {len(tr)} trades")
    else:
        st.write("no closed trades")
    if run.tearsheet is not None:
        st.subheader("QuantStats tearsheet")
        st.download_button(
            "Download tearsheet.html",
            run.tearsheet.read_bytes(),
            file_name="tearsheet.html",
            mime="text/html",
            key="tearsheet_dl",
        )
        st.caption(f"file: {run.tearsheet.resolve().as_uri()}")
        if st.toggle("Show the tearsheet here", key="tearsheet_show"):
            import streamlit.components.v1 as components

            components.html(run.tearsheet.read_text(encoding="utf-8", errors="replace"), height=900, scrolling=True)
    st.subheader("Compare runs")
    picked = st.multiselect(
        "Backtests to compare (two or more)", names, format_func=lambda p: Path(p).name, key="bt_compare"
    )
    if len(picked) >= 2:
        loaded = [rep.load_backtest(p) for p in picked]
        import plotly.express as px

        growth = rep.compare_equity(loaded)
        st.plotly_chart(
            px.line(growth, labels={"value": "growth of 1", "variable": "run"}, title="equity, growth of 1"),
            key="compare_chart",
        )
        st.dataframe(rep.compare_metrics(loaded).astype(str), key="compare_table")


# -- robustness -------------------------------------------------------------------------------------


def robustness_page(settings: Settings) -> None:
    """Monte Carlo, optimisation surfaces and walk-forward folds."""
    import plotly.express as px

    st.title("Robustness")
    runs = rep.discover_runs(settings.reports)
    by_kind = {
        k: [r for r in runs if r.kind == k and r.problem is None] for k in ("montecarlo", "optimize", "walkforward")
    }
    if not any(by_kind.values()):
        st.info(f"No Monte Carlo, optimisation or walk-forward folders under {settings.reports}.")
        return
    tabs = st.tabs(["Monte Carlo", "Optimisation", "Walk-forward"])
    with tabs[0]:
        if not by_kind["montecarlo"]:
            st.write("no `autostock montecarlo` runs")
        else:
            choice = st.selectbox(
                "Monte Carlo run",
                [str(r.path) for r in by_kind["montecarlo"]],
                format_func=lambda p: Path(p).name,
                key="mc_run",
            )
            mc = rep.load_montecarlo(choice)
            summ = mc["summary"]
            c = st.columns(3)
            c[0].metric("Paths", summ.get("completed_paths"))
            c[1].metric("P(loss)", f"{summ.get('probability_of_loss', float('nan')):.1%}")
            c[2].metric(
                f"P(max DD > {summ.get('max_drawdown_limit', 0):.0%})",
                f"{summ.get('probability_drawdown_exceeds_limit', float('nan')):.1%}",
            )
            st.dataframe(pd.DataFrame(summ.get("percentiles") or {}).T, key="mc_percentiles")
            if mc["curves"] is not None:
                bands = rep.fan_bands(mc["curves"])
                st.line_chart(bands, y_label="equity")
            elif mc["fan_png"] is not None:
                st.image(str(mc["fan_png"]), caption="fan chart (montecarlo_fan.png)")
            paths = mc["paths"]
            if len(paths):
                h1, h2 = st.columns(2)
                h1.plotly_chart(px.histogram(paths, x="sharpe", nbins=30, title="Sharpe across paths"), key="mc_sh")
                h2.plotly_chart(
                    px.histogram(paths, x="max_drawdown", nbins=30, title="Max drawdown across paths"), key="mc_dd"
                )
    with tabs[1]:
        if not by_kind["optimize"]:
            st.write("no `autostock optimize` runs")
        else:
            choice = st.selectbox(
                "Optimisation run",
                [str(r.path) for r in by_kind["optimize"]],
                format_func=lambda p: Path(p).name,
                key="opt_run",
            )
            opt = rep.load_optimize(choice)
            best = opt["summary"].get("best") or {}
            st.write(f"best params {best.get('params')} · {opt['summary'].get('objective')} = {best.get('objective')}")
            c = st.columns(3)
            dsr, pbo = opt["dsr"] or {}, opt["pbo"] or {}
            c[0].metric("Deflated Sharpe (DSR)", f"{dsr['dsr']:.3f}" if rep.finite(dsr.get("dsr")) else "n/a")
            c[1].metric("PBO", f"{pbo['pbo']:.3f}" if rep.finite(pbo.get("pbo")) else "n/a")
            verdict = opt["verdict"]
            if isinstance(verdict, dict):  # optimize.json: {"skill", "text": "headline: reasons", "dsr", ...}
                text = str(verdict.get("text") or verdict.get("label") or verdict)
                c[2].metric("Verdict", text.split(":")[0])
                st.caption(text)
            else:
                c[2].metric("Verdict", verdict or "not recorded")
            params = opt["params"]
            trials = opt["trials"]
            if len(params) >= 2 and len(trials):
                x = st.selectbox("x param", params, index=0, key="opt_x")
                y = st.selectbox("y param", [p for p in params if p != x], index=0, key="opt_y")
                grid = rep.surface(trials, x, y)
                st.plotly_chart(
                    px.imshow(
                        grid,
                        text_auto=".2f",
                        aspect="auto",
                        origin="lower",
                        labels={"x": x, "y": y, "color": "objective"},
                    ),
                    key="opt_heatmap",
                )
            elif len(trials):
                st.line_chart(trials.set_index(params[0])["objective"] if params else trials["objective"])
            st.dataframe(trials, hide_index=True, key="opt_trials")
    with tabs[2]:
        if not by_kind["walkforward"]:
            st.write("no `autostock walkforward` runs")
        else:
            choice = st.selectbox(
                "Walk-forward run",
                [str(r.path) for r in by_kind["walkforward"]],
                format_func=lambda p: Path(p).name,
                key="wf_run",
            )
            wf = rep.load_walkforward(choice)
            st.metric("Walk-forward efficiency", f"{wf['summary'].get('walk_forward_efficiency', float('nan')):.2f}")
            folds = wf["folds"]
            if len(folds):
                st.dataframe(folds, hide_index=True, key="wf_folds")
                long = folds.melt(id_vars="fold", value_vars=[c for c in ("is_sharpe", "oos_sharpe") if c in folds])
                st.plotly_chart(
                    px.bar(
                        long,
                        x="fold",
                        y="value",
                        color="variable",
                        barmode="group",
                        title="in-sample vs out-of-sample Sharpe per fold",
                    ),
                    key="wf_bars",
                )
            if len(wf["equity"]):
                st.line_chart(wf["equity"]["value"], y_label="stitched OOS equity")


def models_page(settings: Settings) -> None:
    """A trained model's out-of-sample metrics beside the naive baselines."""
    import plotly.express as px

    st.title("Models")
    runs = [r for r in rep.discover_runs(settings.reports) if r.kind == "train" and r.problem is None]
    if not runs:
        st.info(f"No `autostock train` folders (metrics.json + params.json) under {settings.reports}.")
        return
    choice = st.selectbox("Model", [str(r.path) for r in runs], format_func=lambda p: Path(p).name, key="model_run")
    m = rep.load_model(choice)
    meta = m["metrics"]
    st.caption(
        f"{meta.get('model')} -> {meta.get('target')} · out-of-sample: {meta.get('out_of_sample')} · "
        f"{meta.get('note', '')}"
    )
    table = m["table"]
    st.dataframe(table, hide_index=True, key="model_table")
    if len(table):
        st.plotly_chart(
            px.bar(
                table,
                x="symbol",
                y="rmse",
                color="forecaster",
                barmode="group",
                title="out-of-sample RMSE: model vs naive baselines",
            ),
            key="model_rmse",
        )


def divergence_page(settings: Settings) -> None:
    """Replay the live session's bars in a backtest and show where the two differ."""
    st.title("Live vs backtest")
    st.write(
        "Replays bars through the strategy the live session recorded and pairs the orders. The same "
        "report is written by `autostock divergence --state ... --data ... --out DIR`."
    )
    source = st.text_input("Bars the session traded (CSV/Parquet file or folder, or 'alpaca')", key="div_data")
    start = st.text_input("First live bar (YYYY-MM-DD; empty: the first live order's bar)", key="div_start")
    if not st.button("Compare", key="div_run"):
        return
    if not source:
        st.warning("give the bars the live session traded")
        return
    from autostock.dashboard import divergence as dv
    from autostock.errors import UserError
    from autostock.feeds import load_market

    try:
        live = dv.read_live(settings.state)
        symbols = live.session.get("symbols") or (sorted(live.orders["symbol"].unique()) if len(live.orders) else None)
        market = load_market(source, symbols)
        div = dv.divergence(settings.state, market.bars, start=start or None)
    except UserError as exc:
        st.error(str(exc))
        return
    summary = div.summary()
    c = st.columns(5)
    for col, (k, label) in zip(
        c,
        [
            ("matched", "matched"),
            ("qty_differs", "qty differs"),
            ("live_only", "live only"),
            ("backtest_only", "backtest only"),
            ("mean_slippage_bps", "mean slippage bps"),
        ],
    ):
        v = summary[k]
        col.metric(label, "n/a" if v is None else (f"{v:.1f}" if isinstance(v, float) else v))
    st.dataframe(div.table, hide_index=True, key="div_table")
    slip = div.table.dropna(subset=["slippage_bps"])
    if len(slip):
        st.bar_chart(slip.set_index("bar")["slippage_bps"], y_label="slippage bps (+ = live worse)")


PAGES: dict[str, Callable[[Settings], None]] = {
    "Live": live_page,
    "Backtests": backtests_page,
    "Robustness": robustness_page,
    "Models": models_page,
    "Live vs backtest": divergence_page,
}
