#!/usr/bin/env python3
"""Bars oracle for tests/store_bars_oracle.rs.

Reads the shared real recording (Binance USD-M futures trades, BTCUSDT and
ETHUSDT, 2025-12-15), drops rows with price <= 0 or size <= 0 (as pairdesk's
replay does), and resamples each symbol with pandas:

    df.resample(tf).agg(open=first, high=max, low=min, close=last,
                        volume=sum, trades=count) + vwap = sum(p*q)/sum(q)

for 1s, 1m and 5m, keeping only non-empty buckets (pairdesk never invents a
bar). Rows are ordered by timestamp with a *stable* sort, so within one
millisecond file order decides `first`/`last`, exactly like pairdesk's replay,
which stores records with line-number ids and orders by (time, id).

The fixture holds figures only (licensing: no copy of rows or bar series):
bar counts, at most 10 sampled bars per symbol and timeframe, and aggregate
checksums.

Setup:  python3 -m venv /work/scratch/venv && /work/scratch/venv/bin/pip install pandas==2.2.3
Run:    /work/scratch/venv/bin/python scripts/gen_bar_fixtures.py \
            [../shared/data/binance-futures-btcusdt-ethusdt-2025-12-15.ndjson] \
            [tests/fixtures/bars/binance-futures-2025-12-15.json]
"""
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IN = ROOT.parent / "shared/data/binance-futures-btcusdt-ethusdt-2025-12-15.ndjson"
DEFAULT_OUT = ROOT / "tests/fixtures/bars/binance-futures-2025-12-15.json"
TIMEFRAMES = {"1s": "1s", "1m": "1min", "5m": "5min"}
SAMPLES = 10


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_IN
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUT
    # precise_float: correctly rounded parsing, as Rust does, so prices compare exactly.
    df = pd.read_json(src, lines=True, dtype={"symbol": str, "ts": str}, precise_float=True)
    lines = len(df)
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
    keep = (df["price"] > 0) & (df["size"] > 0)
    dropped = int((~keep).sum())
    df = df[keep]
    result = {
        "source": src.name,
        "generator": "scripts/gen_bar_fixtures.py (pandas %s)" % pd.__version__,
        "lines": lines,
        "dropped_nonpositive": dropped,
        "symbols": {},
    }
    for sym, g in sorted(df.groupby("symbol")):
        g = g.sort_values("ts", kind="stable").set_index("ts")
        g = g.assign(notional=g["price"] * g["size"])
        sym_out = {"ticks": len(g), "timeframes": {}}
        for name, rule in TIMEFRAMES.items():
            r = g.resample(rule)
            bars = pd.DataFrame(
                {
                    "open": r["price"].first(),
                    "high": r["price"].max(),
                    "low": r["price"].min(),
                    "close": r["price"].last(),
                    "volume": r["size"].sum(),
                    "trades": r["price"].count(),
                    "notional": r["notional"].sum(),
                }
            )
            bars = bars[bars["trades"] > 0]
            bars["vwap"] = bars["notional"] / bars["volume"]
            n = len(bars)
            # Evenly spaced samples, always including the first and last bar.
            idx = sorted({round(i * (n - 1) / (SAMPLES - 1)) for i in range(SAMPLES)}) if n else []
            samples = []
            for i in idx:
                b = bars.iloc[i]
                samples.append(
                    {
                        "ts_ms": int(bars.index[i].value // 1_000_000),
                        "open": float(b["open"]),
                        "high": float(b["high"]),
                        "low": float(b["low"]),
                        "close": float(b["close"]),
                        "volume": float(b["volume"]),
                        "trades": int(b["trades"]),
                        "vwap": float(b["vwap"]),
                    }
                )
            sym_out["timeframes"][name] = {
                "bars": n,
                "sum_open": float(bars["open"].sum()),
                "sum_close": float(bars["close"].sum()),
                "sum_high": float(bars["high"].sum()),
                "sum_low": float(bars["low"].sum()),
                "sum_volume": float(bars["volume"].sum()),
                "sum_trades": int(bars["trades"].sum()),
                "sum_vwap": float(bars["vwap"].sum()),
                "samples": samples,
            }
        result["symbols"][sym] = sym_out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
