#!/usr/bin/env python3
"""Generate oracle fixtures for the Rust analytics module.

Setup (exact versions the committed fixtures were produced with):

    python3 -m venv /work/scratch/venv
    /work/scratch/venv/bin/pip install "numpy==2.1.3" "pandas==2.2.3" \
        "scipy==1.14.1" "statsmodels==0.14.4"

(statsmodels 0.14.4 does not import under pandas 3.x, hence the pins.)

Run from the repository root:

    /work/scratch/venv/bin/python scripts/gen_analytics_fixtures.py

Writes tests/fixtures/analytics/*.json. Synthetic cases store inputs and
expected outputs. The case derived from the real recording in
../shared/data/ stores statistics only (never rows or bars of the
recording): the Rust test rebuilds the 1-second bars from the recording
itself and skips when it is absent.
"""

import json
import math
import os
import sys

import numpy as np
import pandas as pd
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import stats
from statsmodels.regression.rolling import RollingOLS
from statsmodels.robust.norms import HuberT
from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp
from statsmodels.tsa.stattools import adfuller, coint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "analytics")
RECORDING = os.path.join(
    ROOT, "..", "shared", "data", "binance-futures-btcusdt-ethusdt-2025-12-15.ndjson"
)

ROLL_WINDOW = 60
Z_WINDOW = 20
CORR_WINDOW = 30
KALMAN = {"delta": 1e-4, "obs_var": 1e-6, "initial_var": 0.0}


def fnum(v):
    """JSON number or null for NaN/inf."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def flist(a):
    return [fnum(v) for v in np.asarray(a, dtype=float)]


def ols_fit(x, y, intercept):
    X = sm.add_constant(x) if intercept else x[:, None]
    r = sm.OLS(y, X).fit()
    out = {
        "beta": fnum(r.params[-1]),
        "beta_se": fnum(r.bse[-1]),
        "beta_t": fnum(r.tvalues[-1]),
        "beta_p": fnum(r.pvalues[-1]),
        "r2": fnum(r.rsquared),
        "resid_std": fnum(np.sqrt(r.scale)),
        "ssr": fnum(r.ssr),
        "nobs": int(r.nobs),
    }
    if intercept:
        out.update(
            alpha=fnum(r.params[0]),
            alpha_se=fnum(r.bse[0]),
            alpha_t=fnum(r.tvalues[0]),
            alpha_p=fnum(r.pvalues[0]),
        )
    else:
        out.update(alpha=0.0, alpha_se=None, alpha_t=None, alpha_p=None)
    return out


def adf_dict(x, regression, autolag, maxlag=None):
    r = adfuller(x, maxlag=maxlag, regression=regression, autolag=autolag)
    d = {
        "regression": regression,
        "autolag": "none" if autolag is None else autolag.lower(),
        "maxlag": maxlag,
        "stat": fnum(r[0]),
        "pvalue": fnum(r[1]),
        "usedlag": int(r[2]),
        "nobs": int(r[3]),
        "crit": {k: fnum(v) for k, v in r[4].items()},
        "icbest": fnum(r[5]) if autolag is not None else None,
    }
    return d


def coint_dict(y0, y1, autolag="aic", maxlag=None):
    stat, p, crit = coint(y0, y1, trend="c", autolag=autolag, maxlag=maxlag)
    return {
        "stat": fnum(stat),
        "pvalue": fnum(p),
        "crit": {"1%": fnum(crit[0]), "5%": fnum(crit[1]), "10%": fnum(crit[2])},
    }


def coint_centred(y0, y1):
    """`coint` with the first-stage residuals computed on centred data.

    statsmodels' `OLS.resid` comes from pinv on [1, x]; when ln(price)
    varies by ~1e-4 around ~11 (minutes of BTC data) that design is badly
    conditioned and the residuals carry ~1e-7 relative error, which the
    ADF statistic inherits. The second stage is statsmodels verbatim."""
    mx, my = y1.mean(), y0.mean()
    b = ((y1 - mx) * (y0 - my)).sum() / ((y1 - mx) ** 2).sum()
    resid = (y0 - my) - b * (y1 - mx)
    stat = adfuller(resid, regression="n", autolag="AIC")[0]
    crit = mackinnoncrit(2, "c", len(y0) - 1)
    return {
        "stat": fnum(stat),
        "pvalue": fnum(mackinnonp(stat, "c", 2)),
        "crit": {"1%": fnum(crit[0]), "5%": fnum(crit[1]), "10%": fnum(crit[2])},
    }


def half_life(s):
    lag = s[:-1]
    d = np.diff(s)
    r = sm.OLS(d, sm.add_constant(lag)).fit()
    lam = r.params[1]
    return {"lambda": fnum(lam), "half_life": fnum(-np.log(2) / lam) if lam < 0 else None}


def hurst(s):
    """Lag-variance Hurst: slope of log std(s[t+lag]-s[t]) on log lag."""
    max_lag = min(100, len(s) // 2)
    lags = np.arange(2, max_lag)
    tau = [np.std(s[lag:] - s[:-lag]) for lag in lags]
    if min(tau) <= 0:
        return None
    return fnum(np.polyfit(np.log(lags), np.log(tau), 1)[0])


def zscore(spread, w):
    s = pd.Series(spread, dtype=float)
    m = s.rolling(w).mean()
    sd = s.rolling(w).std(ddof=1)
    z = (s - m) / sd
    z[~np.isfinite(z)] = np.nan
    return z.to_numpy()


def log_return_corr(x, y):
    rx, ry = np.diff(np.log(x)), np.diff(np.log(y))
    return fnum(np.corrcoef(rx, ry)[0, 1])


def rolling_corr(x, y, w):
    rx = pd.Series(np.log(x)).diff()
    ry = pd.Series(np.log(y)).diff()
    return rx.rolling(w).corr(ry).to_numpy()


def rolling_ols(x, y, w, intercept):
    """RollingOLS layout (value at t = fit on t-w+1..=t, first w-1 NaN).

    RollingOLS itself updates raw X'X/X'y by add/remove and solves the
    normal equations, which loses ~1e-7 relative accuracy at these price
    levels, so each window's values come from a fresh statsmodels OLS
    (pinv on X), the same estimator the full-sample fixtures use."""
    X = sm.add_constant(x) if intercept else x[:, None]
    p = RollingOLS(y, X, window=w).fit().params
    for t in range(w - 1, len(y)):
        if not np.isnan(p[t]).any():
            p[t] = sm.OLS(y[t - w + 1 : t + 1], X[t - w + 1 : t + 1]).fit().params
    if intercept:
        return p[:, 0], p[:, 1]
    return np.where(np.isnan(p[:, 0]), np.nan, 0.0), p[:, 0]


def kalman(x, y, delta, obs_var, initial_var):
    """Chan (2013) random-walk hedge ratio; state = [beta, alpha]."""
    n = len(x)
    vw = delta / (1 - delta) * np.eye(2)
    theta = np.zeros(2)
    P = initial_var * np.eye(2)
    out = {k: np.zeros(n) for k in ("beta", "alpha", "spread", "innovation_var", "zscore")}
    for t in range(n):
        R = P + vw
        F = np.array([x[t], 1.0])
        e = y[t] - F @ theta
        Q = F @ R @ F + obs_var
        K = R @ F / Q
        theta = theta + K * e
        P = R - np.outer(K, F @ R)
        out["beta"][t], out["alpha"][t] = theta
        out["spread"][t], out["innovation_var"][t] = e, Q
        out["zscore"][t] = e / np.sqrt(Q)
    return {k: flist(v) for k, v in out.items()}


def huber(x, y):
    r = sm.RLM(y, sm.add_constant(x), M=HuberT(t=1.345)).fit()
    return {"alpha": fnum(r.params[0]), "beta": fnum(r.params[1]), "scale": fnum(r.scale)}


def theil_sen(x, y):
    r = stats.theilslopes(y, x, method="joint")
    return {"alpha": fnum(r.intercept), "beta": fnum(r.slope)}


def analyze_expected(x, y, window=None):
    """The `analyze` report for OLS on log prices, default options."""
    lx, ly = np.log(x), np.log(y)
    fit = ols_fit(lx, ly, True)
    spread_full = ly - (fit["beta"] * lx + fit["alpha"])
    if window is None:
        a = np.full(len(x), fit["alpha"])
        b = np.full(len(x), fit["beta"])
    else:
        a, b = rolling_ols(lx, ly, window, True)
    spread = ly - (b * lx + a)
    adf = adf_dict(spread_full, "c", "AIC")
    return {
        "options": {"window": window},
        "report": {
            "n": len(x),
            "regression": {
                "kind": "ols",
                **{
                    k: fit[k]
                    for k in ("alpha", "beta", "alpha_se", "beta_se", "beta_t", "beta_p", "r2", "resid_std")
                },
            },
            "adf": {k: adf[k] for k in ("stat", "pvalue", "usedlag", "nobs", "crit")},
            "coint": coint_dict(ly, lx),
            "half_life": half_life(spread_full)["half_life"],
            "hurst": hurst(spread_full),
            "correlation": log_return_corr(x, y),
            "spread": flist(spread),
            "zscore": flist(zscore(spread, Z_WINDOW)),
            "beta": flist(b),
            "alpha": flist(a),
            # Runs of bars without rolling coefficients, and why (no window
            # in these synthetic cases has a flat x).
            "beta_undefined": [] if window is None else [{"start": 0, "end": window - 2, "reason": "warm-up"}],
        },
    }


def full_case(name, x, y, extra_adf=(), roll_window=ROLL_WINDOW):
    lx, ly = np.log(x), np.log(y)
    fit = ols_fit(lx, ly, True)
    spread = ly - (fit["beta"] * lx + fit["alpha"])
    adfs = []
    for reg in ("c", "ct", "ctt", "n"):
        for al in ("AIC", "BIC", "t-stat"):
            adfs.append({"series": "spread", **adf_dict(spread, reg, al)})
        adfs.append({"series": "spread", **adf_dict(spread, reg, None, maxlag=3)})
    for series, v in (("log_y", ly), ("raw_x", x)):
        for reg in ("c", "ct", "n"):
            adfs.append({"series": series, **adf_dict(v, reg, "AIC")})
    adfs.extend(extra_adf)
    ra, rb = rolling_ols(lx, ly, roll_window, True)
    na, nb = rolling_ols(x, y, roll_window, False)
    roll_spread = ly - (rb * lx + ra)
    case = {
        "name": name,
        "x": flist(x),
        "y": flist(y),
        "ols_log": fit,
        "ols_log_nointercept": ols_fit(lx, ly, False),
        "ols_raw": ols_fit(x, y, True),
        "rolling": {
            "window": roll_window,
            "log_intercept": {"alpha": flist(ra), "beta": flist(rb)},
            "raw_nointercept": {"alpha": flist(na), "beta": flist(nb)},
        },
        "spread": flist(spread),
        "zscore": {"window": Z_WINDOW, "values": flist(zscore(spread, Z_WINDOW))},
        "adf": adfs,
        "coint": coint_dict(ly, lx),
        "coint_bic": {**coint_dict(ly, lx, autolag="bic"), "autolag": "bic"},
        "half_life": half_life(spread),
        "hurst": hurst(spread),
        "correlation": log_return_corr(x, y),
        "rolling_corr": {"window": min(CORR_WINDOW, roll_window), "values": flist(rolling_corr(x, y, min(CORR_WINDOW, roll_window)))},
        "kalman": {"options": KALMAN, **kalman(lx, ly, **KALMAN)},
        "huber": huber(lx, ly),
        "huber_raw": huber(x, y),
        "theil_sen": theil_sen(lx, ly),
        "analyze": [analyze_expected(x, y), analyze_expected(x, y, roll_window)],
    }
    path = os.path.join(OUT, f"{name}.json")
    with open(path, "w") as f:
        json.dump(case, f, separators=(",", ":"))
    print(f"{path}: {os.path.getsize(path)} bytes")


def cointegrated(rng, n, btc=90000.0, eth=3000.0, phi=0.9, noise=0.002):
    lx = np.log(btc) + np.cumsum(rng.normal(0, 0.0008, n))
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal(0, noise)
    ly = np.log(eth) + 1.1 * (lx - np.log(btc)) + e
    return np.round(np.exp(lx), 2), np.round(np.exp(ly), 2)


def mackinnon_tables():
    out = {"p": [], "crit": []}
    grid = [-30.0, -19.0, -6.0, -4.2, -3.3, -2.9, -2.0, -1.2, -0.5, 0.0, 0.6, 0.9, 1.3, 2.0, 3.0]
    for reg in ("n", "c", "ct", "ctt"):
        for N in range(1, 7):
            for s in grid:
                out["p"].append({"regression": reg, "N": N, "stat": s, "p": fnum(mackinnonp(s, reg, N))})
        for N in (1,) if reg == "n" else (1, 2):
            for nobs in (25, 100, 999, None):
                c = mackinnoncrit(N, reg, np.inf if nobs is None else nobs)
                out["crit"].append({"regression": reg, "N": N, "nobs": nobs, "crit": flist(c)})
    path = os.path.join(OUT, "mackinnon.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"{path}: {os.path.getsize(path)} bytes")


def load_recording_bars(path, seconds=1):
    """`seconds`-second last-price bars of BTC (x) and ETH (y), inner-joined,
    as numpy arrays (also used by gen_rolling_fixtures.py).

    Parsed with the json module (pandas.read_json's fast float parser is
    not correctly rounded and would disagree with Rust's parser)."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                rows.append((r["symbol"], r["ts"], float(r["price"])))
    df = pd.DataFrame(rows, columns=["symbol", "ts", "price"])
    df = df[df.price > 0]
    df["ts"] = pd.to_datetime(df.ts, utc=True)
    df = df.sort_values("ts", kind="stable")
    bars = {}
    for sym in ("BTCUSDT", "ETHUSDT"):
        s = df[df.symbol == sym].set_index("ts").price
        bars[sym] = s.resample(f"{seconds}s").last()
    j = pd.concat(bars, axis=1, join="inner").dropna()
    return j.BTCUSDT.to_numpy(), j.ETHUSDT.to_numpy()


def recording_case():
    if not os.path.exists(RECORDING):
        print(f"recording not found at {RECORDING}; skipping", file=sys.stderr)
        return
    x, y = load_recording_bars(RECORDING)
    lx, ly = np.log(x), np.log(y)
    fit = ols_fit(lx, ly, True)
    spread = ly - (fit["beta"] * lx + fit["alpha"])
    rep = analyze_expected(x, y)["report"]
    rep["coint"] = coint_centred(ly, lx)
    # Statistics only: no bars or rows of the recording are stored.
    out = {
        "source": "binance-futures-btcusdt-ethusdt-2025-12-15.ndjson",
        "bars": "1s last price, price<=0 rows dropped, inner join, x=BTCUSDT, y=ETHUSDT",
        "n": len(x),
        "ols_log": fit,
        "ols_raw": ols_fit(x, y, True),
        "adf_spread": adf_dict(spread, "c", "AIC"),
        "adf_log_x": adf_dict(lx, "c", "AIC"),
        "coint": coint_centred(ly, lx),
        "coint_statsmodels": coint_dict(ly, lx),
        "half_life": half_life(spread),
        "hurst": hurst(spread),
        "correlation": log_return_corr(x, y),
        "huber": huber(lx, ly),
        "theil_sen": theil_sen(lx, ly),
        "analyze": {k: rep[k] for k in ("n", "regression", "adf", "coint", "half_life", "hurst", "correlation")},
    }
    path = os.path.join(OUT, "recording_stats.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"{path}: {os.path.getsize(path)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    print(
        f"numpy {np.__version__} pandas {pd.__version__} scipy {scipy.__version__} "
        f"statsmodels {statsmodels.__version__}"
    )
    rng = np.random.default_rng(20251215)
    x, y = cointegrated(rng, 1500)
    full_case("coint_btc_eth", x, y)

    rng = np.random.default_rng(7)
    x = np.exp(np.log(100.0) + np.cumsum(rng.normal(0, 0.01, 1000)))
    y = np.exp(np.log(50.0) + np.cumsum(rng.normal(0, 0.01, 1000)))
    full_case("random_walks", x, y)

    rng = np.random.default_rng(11)
    x, y = cointegrated(rng, 800, phi=0.995, noise=0.001)
    full_case("near_unit_root", x, y)

    rng = np.random.default_rng(3)
    n = 600
    t = np.arange(n)
    lx = np.log(90000.0) + 0.0004 * t + np.cumsum(rng.normal(0, 0.001, n))
    ly = np.log(3000.0) + 0.9 * (lx - lx[0]) + 0.0002 * t + 0.01 * np.sin(t / 15.0) + rng.normal(0, 0.002, n)
    x, y = np.exp(lx), np.exp(ly)
    trend_series = np.log(50.0) + 0.001 * t + np.cumsum(rng.normal(0, 0.002, n)) + 1e-6 * t**2
    extra = [
        {"series": "trend_series", "values": flist(trend_series), **adf_dict(trend_series, reg, al)}
        for reg in ("ct", "ctt", "c")
        for al in ("AIC", "t-stat")
    ]
    full_case("trending", x, y, extra_adf=extra)

    rng = np.random.default_rng(5)
    x, y = cointegrated(rng, 30, phi=0.5)
    full_case("short_n30", x, y, roll_window=10)

    mackinnon_tables()
    recording_case()


if __name__ == "__main__":
    main()
