#!/usr/bin/env python3
"""Reference timings (pandas/statsmodels) for the Rust analytics bench.

Setup: the venv from scripts/gen_analytics_fixtures.py
(numpy==2.1.3 pandas==2.2.3 scipy==1.14.1 statsmodels==0.14.4).

    /work/scratch/venv/bin/python scripts/bench_reference.py [OUT_DIR] [--sizes=1000,10000]

For n = 1k, 10k, 100k, 1M bars it writes the synthetic input as
OUT_DIR/bars_<n>.csv (columns x,y; default OUT_DIR = /tmp/pairdesk_bench),
times on it
  * full analysis: OLS of ln y on ln x, ADF (autolag AIC) on the spread,
    Engle-Granger coint, half-life, rolling z-score (20 bars);
  * RollingOLS (window 100) of ln y on ln x;
  * adfuller (regression "c", autolag AIC) on the spread;
and writes the medians to OUT_DIR/reference.json, which
`cargo bench --bench analytics` reads to print speed-ups.
An operation is skipped at the next (10x larger) size, reported as null,
when ten times its last time exceeds BUDGET_S (statsmodels' 1M-bar ADF with
maxlag 120 fits 121 regressions of 1M x 123 and takes minutes).
"""

import json
import os
import sys
import time

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm
from statsmodels.regression.rolling import RollingOLS
from statsmodels.tsa.stattools import adfuller, coint

SIZES = [1_000, 10_000, 100_000, 1_000_000]
# Skip an operation at the next (10x) size when that would exceed this.
BUDGET_S = 150.0


def make_pair(n, seed=42):
    rng = np.random.default_rng(seed)
    lx = np.log(90000.0) + np.cumsum(rng.normal(0, 0.0005, n))
    e = np.zeros(n)
    eps = rng.normal(0, 0.001, n)
    for t in range(1, n):
        e[t] = 0.97 * e[t - 1] + eps[t]
    ly = np.log(3000.0) + 1.05 * (lx - np.log(90000.0)) + e
    return np.round(np.exp(lx), 1), np.round(np.exp(ly), 2)


def full_analysis(x, y):
    lx, ly = np.log(x), np.log(y)
    fit = sm.OLS(ly, sm.add_constant(lx)).fit()
    spread = ly - fit.params[0] - fit.params[1] * lx
    adf = adfuller(spread, regression="c", autolag="AIC")
    eg = coint(ly, lx)
    hl = sm.OLS(np.diff(spread), sm.add_constant(spread[:-1])).fit()
    s = pd.Series(spread)
    z = (s - s.rolling(20).mean()) / s.rolling(20).std()
    return adf[0], eg[0], hl.params[1], z.iloc[-1]


def rolling_ols(x, y):
    lx, ly = np.log(x), np.log(y)
    return RollingOLS(ly, sm.add_constant(lx), window=100).fit(params_only=True).params


def adf_only(x, y):
    lx, ly = np.log(x), np.log(y)
    fit = sm.OLS(ly, sm.add_constant(lx)).fit()
    spread = ly - fit.params[0] - fit.params[1] * lx
    return adfuller(spread, regression="c", autolag="AIC")


def timed(fn, x, y, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x, y)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = args[0] if args else "/tmp/pairdesk_bench"
    sizes = SIZES
    for a in sys.argv[1:]:
        if a.startswith("--sizes="):
            sizes = [int(v) for v in a.split("=", 1)[1].split(",")]
    os.makedirs(out, exist_ok=True)
    ops = {"full_analysis": full_analysis, "rolling_ols_w100": rolling_ols, "adf_aic": adf_only}
    results = {name: {} for name in ops}
    ref_path = os.path.join(out, "reference.json")
    if os.path.exists(ref_path):
        # Keep sizes measured by earlier runs (--sizes measures a subset).
        with open(ref_path) as f:
            for name, per_n in json.load(f).get("results_seconds", {}).items():
                results.setdefault(name, {}).update(per_n)
    slow = set()
    for n in sizes:
        x, y = make_pair(n)
        pd.DataFrame({"x": x, "y": y}).to_csv(os.path.join(out, f"bars_{n}.csv"), index=False)
        repeats = 7 if n <= 10_000 else 1
        for name, fn in ops.items():
            if name in slow:
                results[name][str(n)] = None
                print(f"n={n:>8} {name:<18} skipped (projected over {BUDGET_S:.0f}s)", flush=True)
                continue
            t = timed(fn, x, y, repeats)
            results[name][str(n)] = t
            print(f"n={n:>8} {name:<18} {t * 1e3:12.2f} ms", flush=True)
            if t * 10 > BUDGET_S and n < max(sizes):
                slow.add(name)
    meta = {
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "statsmodels": statsmodels.__version__,
        "results_seconds": results,
    }
    with open(ref_path, "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
