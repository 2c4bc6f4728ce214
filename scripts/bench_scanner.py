#!/usr/bin/env python3
"""The scanner's work in statsmodels on the legs `cargo bench --bench
scanner` wrote to target/scanner-bench/ (run that first): the I(1) screen
(adfuller with a constant on levels and on differences, AIC autolag) on
every leg, and coint both ways on a random sample of pairs, projected to
every pair of the watchlist (n (n - 1) / 2). Uses the venv of
gen_analytics_fixtures.py:

    /work/scratch/venv/bin/python scripts/bench_scanner.py [pairs-sampled]
"""

import os
import sys
import time

import numpy as np
from statsmodels.tsa.stattools import adfuller, coint

DIR = os.path.join(os.path.dirname(__file__), "..", "target", "scanner-bench")
SAMPLE = int(sys.argv[1]) if len(sys.argv) > 1 else 100

for n in (100, 200):
    data = np.loadtxt(os.path.join(DIR, f"legs_{n}.csv"), delimiter=",")
    t0 = time.perf_counter()
    for j in range(n):
        adfuller(data[:, j], regression="c", autolag="AIC")
        adfuller(np.diff(data[:, j]), regression="c", autolag="AIC")
    screen = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    pairs = [tuple(rng.choice(n, 2, replace=False)) for _ in range(SAMPLE)]
    t0 = time.perf_counter()
    for i, j in pairs:
        coint(data[:, j], data[:, i], autolag="aic")
        coint(data[:, i], data[:, j], autolag="aic")
    per_pair = (time.perf_counter() - t0) / SAMPLE
    total = n * (n - 1) // 2
    print(f"statsmodels {n} symbols: screen {screen:.2f} s, {per_pair * 1e3:.1f} ms a pair "
          f"(both ways, {SAMPLE} sampled), projected {screen + per_pair * total:.0f} s "
          f"for {total} pairs")
