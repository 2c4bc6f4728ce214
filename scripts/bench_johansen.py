#!/usr/bin/env python3
"""statsmodels' coint_johansen on the inputs `cargo bench --bench johansen`
wrote to target/johansen-bench/ (run that first), timed the same way:
median and minimum of seven runs. Uses the venv of
gen_analytics_fixtures.py:

    /work/scratch/venv/bin/python scripts/bench_johansen.py
"""

import os
import time

import numpy as np
from statsmodels.tsa.vector_ar.vecm import coint_johansen

DIR = os.path.join(os.path.dirname(__file__), "..", "target", "johansen-bench")

for n in (3, 5):
    for t in (10_000, 100_000):
        data = np.loadtxt(os.path.join(DIR, f"basket_{n}_{t}.csv"), delimiter=",")
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            coint_johansen(data, 0, 1)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(f"statsmodels {n} legs x {t} bars: median {times[3] * 1e3:.2f} ms, min {times[0] * 1e3:.2f} ms")
