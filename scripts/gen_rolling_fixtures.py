#!/usr/bin/env python3
"""Per-window reference figures for the rolling estimators on the shared
recording (issue 13: rolling statistics exact on real data).

Setup: the venv from scripts/gen_analytics_fixtures.py

    python3 -m venv /work/scratch/venv
    /work/scratch/venv/bin/pip install "numpy==2.1.3" "pandas==2.2.3" \
        "scipy==1.14.1" "statsmodels==0.14.4" "mpmath==1.4.1"

Run from the repository root:

    /work/scratch/venv/bin/python scripts/gen_rolling_fixtures.py

Writes tests/fixtures/analytics/recording_rolling.json. Figures only: no
rows or bars of the recording are stored; the Rust test
(`oracle_recording_rolling_windows` in tests/analytics_oracle.rs) rebuilds
the bars from the recording and skips when it is absent.

Bars: last trade price per 1 s and per 5 s bucket (UTC, epoch-aligned),
price <= 0 rows dropped, inner join, x = BTCUSDT, y = ETHUSDT, then natural
logs with math.log (the C library's log, the same function Rust's f64::ln
calls; numpy's SIMD log may differ by an ulp). A 64-bit FNV-1a hash of the
little-endian bits of every log price lets the Rust test prove it rebuilt
identical inputs.

Reference: for every full window of 20, 60 and 300 bars the least-squares
fit is solved in exact rational arithmetic (fractions.Fraction) on those
f64 log prices, then rounded once to f64, so the figures are the exact
answer for the data (17 significant digits). Per window:
beta, alpha, spread (residual of the window's last bar), the rolling z of
that spread, the no-intercept beta, sd(y)/sd(x) (the scale of beta used
by the test's tolerance near zero correlation) and the rolling Pearson
correlation of log returns. For comparison the script also reports how
far numpy.linalg.lstsq and statsmodels OLS per window are from the exact
fit ("lstsq_max_rel_dev"): they are themselves only accurate to about
cond([1, x]) * 1e-16.

It also writes tests/fixtures/analytics/kalman_log_level.json: the Kalman
filter's textbook recursion evaluated with 60-digit arithmetic (mpmath,
`pip install mpmath`) on a synthetic log-price pair at level 11.4 whose
inputs are plain f64 arithmetic (rebuilt identically in Rust), for a benign
and an ill-conditioned tuning; every 25th bar is stored.
"""

import json
import math
import os
import struct
import sys
from fractions import Fraction as Fr

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_analytics_fixtures import load_recording_bars  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "analytics", "recording_rolling.json")
RECORDING = os.path.join(
    ROOT, "..", "shared", "data", "binance-futures-btcusdt-ethusdt-2025-12-15.ndjson"
)
BAR_SECONDS = [1, 5]
WINDOWS = [20, 60, 300]
# z-score window per bar size (the 5 s series has only 78 bars).
Z_WINDOW = {1: 30, 5: 10}
# Must match FLAT_RELATIVE_SPREAD in src/analytics/moments.rs.
FLAT_RELATIVE_SPREAD = 1e-10


def load_bars(path, seconds):
    """Last-price bars per `seconds` bucket as lists of floats (the loader is
    gen_analytics_fixtures.py's, so both fixtures see the same bars)."""
    x, y = load_recording_bars(path, seconds)
    return [float(v) for v in x], [float(v) for v in y]


def fnv1a(values):
    h = 0xCBF29CE484222325
    for v in values:
        for b in struct.pack("<d", v):
            h ^= b
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def window_fit(X, Y):
    """Exact OLS of Y on X (lists of Fractions): dict or flat marker."""
    n = len(X)
    mx, my = sum(X) / n, sum(Y) / n
    dx = [a - mx for a in X]
    dy = [b - my for b in Y]
    sxx = sum(a * a for a in dx)
    sxy = sum(a * b for a, b in zip(dx, dy))
    syy = sum(b * b for b in dy)
    sxx0 = sum(a * a for a in X)
    beta0 = sum(a * b for a, b in zip(X, Y)) / sxx0
    lim = Fr(FLAT_RELATIVE_SPREAD) * abs(mx)
    if sxx == 0 or sxx <= lim * lim * n:
        return {"flat": True, "beta0": float(beta0)}
    beta = sxy / sxx
    alpha = my - beta * mx
    spread = dy[-1] - beta * dx[-1]
    scale = math.sqrt(float(syy / sxx))
    return {"flat": False, "beta": beta, "alpha": alpha, "spread": spread, "beta0": float(beta0), "scale": scale}


def exact_z(values, w):
    """Rolling z (ddof 1) of a list of Fractions/None, exact then rounded."""
    out = [None] * len(values)
    for t in range(w - 1, len(values)):
        win = values[t - w + 1 : t + 1]
        if any(v is None for v in win):
            continue
        m = sum(win) / w
        ss = sum((v - m) ** 2 for v in win)
        lim = Fr(FLAT_RELATIVE_SPREAD) * abs(m)
        if ss == 0 or ss <= lim * lim * w:
            continue
        num = win[-1] - m
        # z = num / sqrt(ss / (w - 1)); z^2 exact, sign from num.
        z2 = num * num * (w - 1) / ss
        out[t] = math.copysign(math.sqrt(float(z2)), float(num))
    return out


def exact_corr(rx, ry):
    n = len(rx)
    mx, my = sum(rx) / n, sum(ry) / n
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    for ss, m in ((sxx, mx), (syy, my)):
        lim = Fr(FLAT_RELATIVE_SPREAD) * abs(m)
        if ss == 0 or ss <= lim * lim * n:
            return None
    r2 = sxy * sxy / (sxx * syy)
    return math.copysign(math.sqrt(float(r2)), float(sxy))


def g17(v):
    return None if v is None else float(f"{float(v):.17g}")


def case(x, y, seconds, w):
    lx = [math.log(v) for v in x]
    ly = [math.log(v) for v in y]
    n = len(lx)
    if n < w:
        return {"window": w, "windows": 0, "note": f"{n} bars, fewer than the window"}
    FX = [Fr(v) for v in lx]
    FY = [Fr(v) for v in ly]
    # Returns as Rust computes them (f64 subtraction of log prices, exact by
    # Sterbenz's lemma at these levels, but take the f64 result regardless).
    RX = [Fr(lx[t] - lx[t - 1]) for t in range(1, n)]
    RY = [Fr(ly[t] - ly[t - 1]) for t in range(1, n)]
    fits = []
    spreads = [None] * n
    lstsq_dev = 0.0
    sm_dev = 0.0
    for t in range(w - 1, n):
        f = window_fit(FX[t - w + 1 : t + 1], FY[t - w + 1 : t + 1])
        fits.append(f)
        if not f["flat"]:
            spreads[t] = f["spread"]
            A = np.column_stack([np.ones(w), lx[t - w + 1 : t + 1]])
            b = np.array(ly[t - w + 1 : t + 1])
            p = np.linalg.lstsq(A, b, rcond=None)[0]
            q = sm.OLS(b, A).fit().params
            fb = float(f["beta"])
            lstsq_dev = max(lstsq_dev, abs(p[1] - fb) / abs(fb))
            sm_dev = max(sm_dev, abs(q[1] - fb) / abs(fb))
    zw = Z_WINDOW[seconds]
    z = exact_z(spreads, zw)
    rows = []
    for k, f in enumerate(fits):
        t = w - 1 + k
        corr = exact_corr(RX[t - w : t], RY[t - w : t]) if t >= w else None
        if f["flat"]:
            rows.append([None, None, None, None, g17(f["beta0"]), None, g17(corr)])
        else:
            rows.append(
                [g17(f["beta"]), g17(f["alpha"]), g17(f["spread"]), g17(z[t]), g17(f["beta0"]), g17(f["scale"]), g17(corr)]
            )
    defined = [float(s) for s in spreads if s is not None]
    return {
        "window": w,
        "z_window": zw,
        "windows": len(fits),
        "first_bar": w - 1,
        "flat_windows": sum(f["flat"] for f in fits),
        "spread_rms": math.sqrt(sum(v * v for v in defined) / len(defined)) if defined else None,
        "lstsq_max_rel_dev": lstsq_dev,
        "statsmodels_ols_max_rel_dev": sm_dev,
        "columns": ["beta", "alpha", "spread", "z", "beta_no_intercept", "sd_y_over_sd_x", "return_corr"],
        "rows": rows,
    }


KALMAN_OUT = os.path.join(ROOT, "tests", "fixtures", "analytics", "kalman_log_level.json")
KALMAN_N = 3000
KALMAN_CASES = [
    {"delta": 1e-4, "obs_var": 1e-3, "initial_var": 0.0},
    {"delta": 1e-8, "obs_var": 1e-8, "initial_var": 1.0},
    {"delta": 1e-12, "obs_var": 1e-12, "initial_var": 1e4},
]


def kalman_inputs():
    """Log-price-like pair from f64 arithmetic only (no libm), so Rust can
    rebuild it bit for bit: see `kalman_inputs` in tests/analytics_oracle.rs."""
    x, y = [], []
    for i in range(KALMAN_N):
        xi = 11.4 + 1e-6 * ((i * 7919) % 17) + 1e-5 * (((i * 31) % 101) / 101.0)
        yi = 8.05 + 1.1 * (xi - 11.4) + 2e-6 * (((i * 13) % 7) - 3.0)
        x.append(xi)
        y.append(yi)
    return x, y


def kalman_hp(x, y, delta, obs_var, initial_var):
    import mpmath

    mpmath.mp.dps = 60
    M = mpmath.mpf
    vw = M(delta) / (1 - M(delta))
    ve = M(obs_var)
    p00, p01, p11 = M(initial_var), M(0), M(initial_var)
    b = a = M(0)
    out = []
    for xt, yt in zip(x, y):
        xt, yt = M(xt), M(yt)
        r00, r01, r11 = p00 + vw, p01, p11 + vw
        e = yt - (b * xt + a)
        rf0 = r00 * xt + r01
        rf1 = r01 * xt + r11
        q = xt * rf0 + rf1 + ve
        k0, k1 = rf0 / q, rf1 / q
        b += k0 * e
        a += k1 * e
        p00, p01, p11 = r00 - k0 * rf0, r01 - k0 * rf1, r11 - k1 * rf1
        out.append((float(b), float(a), float(e / mpmath.sqrt(q)), float(q)))
    return out


def kalman_case():
    x, y = kalman_inputs()
    cases = []
    for c in KALMAN_CASES:
        res = kalman_hp(x, y, **c)
        rows = [[t, *[g17(v) for v in res[t]]] for t in range(0, KALMAN_N, 25)] + [
            [KALMAN_N - 1, *[g17(v) for v in res[-1]]]
        ]
        cases.append({**c, "columns": ["bar", "beta", "alpha", "zscore", "innovation_var"], "rows": rows})
    out = {"n": KALMAN_N, "reference": "textbook recursion at 60 digits (mpmath)", "cases": cases}
    with open(KALMAN_OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"{KALMAN_OUT}: {os.path.getsize(KALMAN_OUT)} bytes")


def main():
    kalman_case()
    if not os.path.exists(RECORDING):
        print(f"recording not found at {RECORDING}; skipping", file=sys.stderr)
        return
    print(f"numpy {np.__version__} pandas {pd.__version__} statsmodels {statsmodels.__version__}")
    out = {
        "source": "binance-futures-btcusdt-ethusdt-2025-12-15.ndjson",
        "bars": "last price per bucket, price<=0 rows dropped, inner join, x=BTCUSDT, y=ETHUSDT, ln via libm",
        "flat_relative_spread": FLAT_RELATIVE_SPREAD,
        "reference": "exact rational least squares per window, rounded to f64",
        "series": [],
    }
    for s in BAR_SECONDS:
        x, y = load_bars(RECORDING, s)
        lx = [math.log(v) for v in x]
        ly = [math.log(v) for v in y]
        entry = {"bar_seconds": s, "n": len(x), "log_hash": fnv1a(lx + ly), "cases": []}
        for w in WINDOWS:
            c = case(x, y, s, w)
            entry["cases"].append(c)
            print(
                f"{s}s bars n={len(x)} window {w}: {c['windows']} windows, "
                f"{c.get('flat_windows', 0)} flat, lstsq max rel dev {c.get('lstsq_max_rel_dev', 0):.2e}"
            )
        out["series"].append(entry)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"{OUT}: {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
