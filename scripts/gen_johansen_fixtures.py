#!/usr/bin/env python3
"""Oracle fixtures for the Johansen test (src/analytics/johansen.rs).

Setup: the venv of gen_analytics_fixtures.py (numpy 2.1.3, pandas 2.2.3,
scipy 1.14.1, statsmodels 0.14.4) plus mpmath 1.4.1. Run from the
repository root:

    /work/scratch/venv/bin/python scripts/gen_johansen_fixtures.py

Writes tests/fixtures/analytics/johansen.json: random cointegrated baskets of
2 to 5 legs (inputs and statsmodels' coint_johansen output for det_order
-1, 0, 1 and k_ar_diff 0..3), the critical-value tables statsmodels uses,
and, when ../shared/data/ has the recording, the test's figures on its
1-second log-price bars (statistics only, never the recording's rows; the
Rust test rebuilds the bars itself).
"""

import json
import os
import sys

import numpy as np
from statsmodels.tsa import coint_tables
from statsmodels.tsa.vector_ar.vecm import coint_johansen

sys.path.insert(0, os.path.dirname(__file__))
from gen_analytics_fixtures import RECORDING, load_recording_bars  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "analytics")


def result(data, det_order, k):
    r = coint_johansen(data, det_order, k)
    return {
        "det_order": det_order,
        "k_ar_diff": k,
        "eig": r.eig.tolist(),
        # Columns are the vectors; compare up to each one's sign.
        "evec": r.evec.T.tolist(),
        "trace_stat": r.lr1.tolist(),
        "trace_crit": r.cvt.tolist(),
        "max_eig_stat": r.lr2.tolist(),
        "max_eig_crit": r.cvm.tolist(),
        "nobs": int(r.rkt.shape[0]),
    }


def exact(data, k, dps=60):
    """The same algorithm without deterministic terms (det_order -1) in
    `dps`-digit arithmetic (mpmath): on raw log levels that barely move,
    S11 is nearly singular (condition ~1e9) and float64, statsmodels'
    included, keeps only 4 to 6 digits of the eigenvalues; this is the
    reference they are held to there."""
    import mpmath as mp
    mp.mp.dps = dps
    t_all, n = data.shape
    e = mp.matrix(data.tolist())
    dx = [[e[i + 1, j] - e[i, j] for j in range(n)] for i in range(t_all - 1)]
    rows = t_all - 1 - k
    DX = mp.matrix([dx[k + i] for i in range(rows)])
    LX = mp.matrix([[e[1 + i, j] for j in range(n)] for i in range(rows)])
    if k > 0:
        Z = mp.matrix([[dx[k - lag + i][j] for lag in range(1, k + 1) for j in range(n)]
                       for i in range(rows)])
        ZtZ_inv = mp.inverse(Z.T * Z)

        def resid(Y):
            return Y - Z * (ZtZ_inv * (Z.T * Y))
    else:
        def resid(Y):
            return Y
    R0, R1 = resid(DX), resid(LX)
    t = R1.rows
    S11, S10, S00 = (R1.T * R1) / t, (R1.T * R0) / t, (R0.T * R0) / t
    ev, _ = mp.eig(mp.inverse(S11) * S10 * mp.inverse(S00) * S10.T)
    ev = sorted([mp.re(v) for v in ev], reverse=True)
    return {
        "k_ar_diff": k,
        "eig": [float(v) for v in ev],
        "trace_stat": [float(-t * sum(mp.log(1 - v) for v in ev[i:])) for i in range(n)],
        "max_eig_stat": [float(-t * mp.log(1 - v)) for v in ev],
    }


def basket(rng, n, t):
    """One or more common random walks, legs loading on them with
    stationary AR(1) noise: cointegration rank n - (number of walks)."""
    walks = rng.integers(1, n)
    w = np.cumsum(rng.normal(0, 0.01, size=(t, walks)), axis=0)
    load = rng.normal(1.0, 0.5, size=(walks, n))
    e = np.zeros((t, n))
    for i in range(1, t):
        e[i] = 0.8 * e[i - 1] + rng.normal(0, 0.004, size=n)
    trend = np.linspace(0, rng.normal(0, 0.02), t)[:, None]
    return 4.0 + w @ load + e + trend, int(walks)


def main():
    rng = np.random.default_rng(20261203)
    cases = []
    for n, t in [(2, 300), (3, 400), (4, 500), (5, 600)]:
        data, walks = basket(rng, n, t)
        cases.append({
            "name": f"basket{n}",
            "walks": walks,
            "data": data.T.tolist(),
            "results": [result(data, d, k) for d in (-1, 0, 1) for k in range(4)],
        })
    tables = {
        "trace": [np.asarray(x).tolist() for x in (coint_tables.tjcp0, coint_tables.tjcp1, coint_tables.tjcp2)],
        "max_eig": [np.asarray(x).tolist() for x in (coint_tables.ejcp0, coint_tables.ejcp1, coint_tables.ejcp2)],
    }
    out = {"cases": cases, "tables": tables}
    if os.path.exists(RECORDING):
        x, y = load_recording_bars(RECORDING)
        data = np.column_stack([np.log(x), np.log(y)])
        out["recording"] = {
            "source": os.path.basename(RECORDING),
            "bars": int(len(x)),
            "results": [result(data, d, k) for d in (-1, 0, 1) for k in (0, 1, 2)],
            "exact_det_order_-1": [exact(data, k) for k in (0, 1, 2)],
        }
    else:
        print(f"recording not found at {RECORDING}; no real-data case", file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "johansen.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
