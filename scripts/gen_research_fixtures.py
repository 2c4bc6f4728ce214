#!/usr/bin/env python3
"""Oracle fixtures for the research statistics: multi-regressor OLS, the
Engle-Granger test of a basket, residual diagnostics, total least squares,
the minimum-half-life hedge ratio and the Ornstein-Uhlenbeck MLE
(src/analytics/{ols_multi,coint,diagnostics,tls,half_life,ou}.rs).

Setup: the venv of gen_analytics_fixtures.py (numpy 2.1.3, pandas 2.2.3,
scipy 1.14.1, statsmodels 0.14.4). Run from the repository root:

    /work/scratch/venv/bin/python scripts/gen_research_fixtures.py

Writes tests/fixtures/analytics/research.json. Synthetic cases store their
inputs; the cases on the shared recording store figures only (the Rust test
rebuilds the 1-second bars itself and skips when the recording is absent).

References, each independent of the Rust code:
- OLS: statsmodels OLS(y, [X, 1]).fit(); coint: statsmodels coint(y0, Y).
- jarque_bera, acorr_ljungbox, acf(adjusted=False, fft=False): statsmodels.
- TLS: the smallest right-singular vector of the centred [x y] (numpy SVD).
- Minimum half-life hedge: a grid over beta of statsmodels' AR(1) slope of
  the spread, refined by scipy's bounded minimize_scalar.
- Benjamini-Hochberg: statsmodels multipletests(method="fdr_bh").
- OU: scipy's Nelder-Mead on the exact transition density's negative
  log-likelihood, standard errors from a finite-difference Hessian of it.
"""

import json
import os
import sys

import numpy as np
import statsmodels.api as sm
from scipy import optimize
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.stats.stattools import jarque_bera
from statsmodels.tsa.adfvalues import mackinnoncrit
from statsmodels.tsa.stattools import acf, coint

sys.path.insert(0, os.path.dirname(__file__))
from gen_analytics_fixtures import RECORDING, load_recording_bars  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "analytics")
LB_LAGS = [1, 5, 10, 20]


def fl(a):
    return [float(v) for v in np.asarray(a).ravel()]


def multi_ols(y, xs):
    X = np.column_stack(xs + [np.ones(len(y))])
    r = sm.OLS(y, X).fit()
    return {
        "params": fl(r.params),
        "bse": fl(r.bse),
        "tvalues": fl(r.tvalues),
        "pvalues": fl(r.pvalues),
        "rsquared": float(r.rsquared),
        "ssr": float(r.ssr),
        "df_resid": int(r.df_resid),
    }


def coint_case(y0, ys):
    stat, p, crit = coint(y0, np.column_stack(ys))
    return {"stat": float(stat), "pvalue": float(p), "crit": fl(crit)}


def coint_exact(y0, ys, dps=50):
    """coint's statistic with the cointegrating regression solved in
    `dps`-digit arithmetic (mpmath, centred normal equations): BTC now and
    five seconds earlier are so alike (cond(X) ~ 1e8) that float64 least
    squares, statsmodels' pinv included, leaves residuals off by ~1e-9 on a
    scale of ~1e-4, which moves the ADF statistic in its 6th digit. The ADF
    then runs on the exact residuals (a well-conditioned problem)."""
    import mpmath as mp
    from statsmodels.tsa.adfvalues import mackinnonp
    from statsmodels.tsa.stattools import adfuller
    mp.mp.dps = dps
    n, k = len(y0), len(ys)
    cols = [[mp.mpf(float(v)) for v in c] for c in ys]
    yv = [mp.mpf(float(v)) for v in y0]
    means = [mp.fsum(c) / n for c in cols]
    my = mp.fsum(yv) / n
    cc = [[v - m for v in c] for c, m in zip(cols, means)]
    yc = [v - my for v in yv]
    A = mp.matrix(k, k)
    b = mp.matrix(k, 1)
    for i in range(k):
        b[i] = mp.fsum([p * q for p, q in zip(cc[i], yc)])
        for j in range(k):
            A[i, j] = mp.fsum([p * q for p, q in zip(cc[i], cc[j])])
    beta = mp.lu_solve(A, b)
    const = my - mp.fsum([beta[i] * means[i] for i in range(k)])
    resid = np.array([float(yv[t] - const - mp.fsum([beta[i] * cols[i][t] for i in range(k)]))
                      for t in range(n)])
    stat = adfuller(resid, regression="n", autolag="AIC")[0]
    return {"stat": float(stat), "pvalue": float(mackinnonp(stat, regression="c", N=k + 1)),
            "crit": fl(mackinnoncrit(N=k + 1, regression="c", nobs=n - 1))}


def diag(x):
    jb, jbp, skew, kurt = jarque_bera(x)
    lb = acorr_ljungbox(x, lags=[l for l in LB_LAGS if l < len(x)])
    return {
        "skew": float(skew),
        "kurtosis": float(kurt) - 3.0,
        "jarque_bera": float(jb),
        "jarque_bera_p": float(jbp),
        "lb_lags": [int(v) for v in lb.index],
        "lb_stat": fl(lb.lb_stat),
        "lb_pvalue": fl(lb.lb_pvalue),
        "acf": fl(acf(x, nlags=40, adjusted=False, fft=False)),
    }


def tls_ref(x, y):
    A = np.column_stack([x - x.mean(), y - y.mean()])
    _, _, vt = np.linalg.svd(A, full_matrices=False)
    v = vt[-1]
    beta = -v[0] / v[1]
    return {"beta": float(beta), "alpha": float(y.mean() - beta * x.mean())}


def ar_slope(s):
    r = sm.OLS(np.diff(s), sm.add_constant(s[:-1])).fit()
    return r.params[1]


def min_hl_ref(x, y, lo=-5.0, hi=5.0):
    grid = np.linspace(lo, hi, 4001)
    vals = [ar_slope(y - b * x) for b in grid]
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    r = optimize.minimize_scalar(lambda b: ar_slope(y - b * x), bounds=(a, b),
                                 method="bounded", options={"xatol": 1e-13})
    return {"beta": float(r.x), "lambda": float(r.fun)}


def ou_nll(params, x, dt):
    theta, mu, sigma = params
    if theta <= 0 or sigma <= 0:
        return np.inf
    b = np.exp(-theta * dt)
    var = sigma**2 * (1 - b * b) / (2 * theta)
    e = x[1:] - (mu + b * (x[:-1] - mu))
    return 0.5 * np.sum(np.log(2 * np.pi * var) + e * e / var)


def ou_ref(x, dt):
    # Start from a crude moment guess, not from the closed form under test.
    r1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    theta0 = max(-np.log(max(r1, 1e-3)) / dt, 1e-4)
    start = [theta0, x.mean(), x.std() * np.sqrt(2 * theta0)]
    res = optimize.minimize(ou_nll, start, args=(x, dt), method="Nelder-Mead",
                            options={"xatol": 1e-13, "fatol": 1e-13,
                                     "maxiter": 200000, "maxfev": 400000})
    res = optimize.minimize(ou_nll, res.x, args=(x, dt), method="Nelder-Mead",
                            options={"xatol": 1e-14, "fatol": 1e-14,
                                     "maxiter": 200000, "maxfev": 400000})
    p = res.x
    h = np.abs(p) * 1e-4
    H = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            ei, ej = np.eye(3)[i] * h[i], np.eye(3)[j] * h[j]
            H[i, j] = (ou_nll(p + ei + ej, x, dt) - ou_nll(p + ei - ej, x, dt)
                       - ou_nll(p - ei + ej, x, dt) + ou_nll(p - ei - ej, x, dt)) / (4 * h[i] * h[j])
    se = np.sqrt(np.diag(np.linalg.inv(H)))
    return {"theta": float(p[0]), "mu": float(p[1]), "sigma": float(p[2]),
            "theta_se": float(se[0]), "mu_se": float(se[1]), "sigma_se": float(se[2]),
            "log_likelihood": float(-res.fun), "dt": dt}


def bertram_ref(theta, sigma, c, rf=None, dps=40):
    """Bertram's bands from his formulas in `dps`-digit arithmetic: the
    series summed term by term to 400 terms (past convergence for the
    bands here), erfi and digamma from mpmath, and the
    optimum as the root of the objective's derivative (mpmath findroot,
    bracketed around the best of a grid, on a numerical derivative), independent of the Rust bisection/golden
    search."""
    import mpmath as mp
    mp.mp.dps = dps
    th, sg, c = mp.mpf(theta), mp.mpf(sigma), mp.mpf(c)

    K = 400
    g_half = [mp.gamma(mp.mpf(k) / 2) / mp.factorial(k) for k in range(1, K + 1)]
    psi1 = mp.digamma(1)
    g_w2 = [mp.gamma(mp.mpf(2 * k - 1) / 2) * (mp.digamma(mp.mpf(2 * k - 1) / 2) - psi1)
            / mp.factorial(2 * k - 1) for k in range(1, K // 2 + 1)]

    def w1(z):
        y = mp.sqrt(2) * z
        A = mp.fsum(g * y**k for k, g in enumerate(g_half, 1)) / 2
        B = mp.fsum((-1)**k * g * y**k for k, g in enumerate(g_half, 1)) / 2
        return A * A - B * B

    def w2(z):
        y = mp.sqrt(2) * z
        return mp.fsum(g * y**(2 * k - 1) for k, g in enumerate(g_w2, 1))

    def ev(b):
        k = mp.sqrt(th) / sg
        et = mp.pi / th * (mp.erfi(b * k) - mp.erfi(-b * k))
        z = b * mp.sqrt(2 * th) / sg
        vt = (w1(z) - w1(-z) - w2(z) + w2(-z)) / th**2
        r = 2 * b - c
        mu, var = r / et, r * r * vt / et**3
        s = (mu - (mp.mpf(rf) if rf is not None else 0) / et) / mp.sqrt(var)
        return et, vt, mu, var, s

    sd = sg / mp.sqrt(2 * th)
    obj = (lambda b: ev(b)[2]) if rf is None else (lambda b: ev(b)[4])
    grid = [c / 2 + (8 * sd - c / 2) * i / 60 for i in range(1, 60)]
    i = max(range(len(grid)), key=lambda j: obj(grid[j]))
    lo, hi = (grid[i - 1] if i > 0 else c / 2 + mp.mpf(10) ** -30), grid[i + 1]
    b = mp.findroot(lambda b: mp.diff(obj, b), (lo, hi), solver="illinois")
    et, vt, mu, var, s = ev(b)
    return {"theta": theta, "sigma": sigma, "cost": float(c), "rf": rf,
            "distance": float(b), "trade_length": float(et), "trade_length_variance": float(vt),
            "expected_return": float(mu), "return_variance": float(var), "sharpe": float(s)}


def simulate_ou(rng, theta, mu, sigma, dt, n):
    b = np.exp(-theta * dt)
    sd = sigma * np.sqrt((1 - b * b) / (2 * theta))
    x = np.empty(n)
    v = mu
    for t in range(n):
        v = mu + b * (v - mu) + sd * rng.standard_normal()
        x[t] = v
    return x


def main():
    rng = np.random.default_rng(20261203)
    out = {"ols": [], "coint": [], "diagnostics": [], "tls": [], "min_half_life": [], "ou": []}

    # Random cointegrated baskets: I(1) legs and a stationary AR(1) error.
    for name, n, k, coefs in [("two-regressors", 600, 2, [0.8, -0.4]),
                              ("three-regressors", 800, 3, [0.6, 0.3, -0.5]),
                              ("walks-only", 500, 2, None)]:
        legs = [np.cumsum(rng.standard_normal(n)) + 50 for _ in range(k)]
        if coefs is None:
            y0 = np.cumsum(rng.standard_normal(n)) + 20
        else:
            e = np.zeros(n)
            for t in range(1, n):
                e[t] = 0.6 * e[t - 1] + rng.standard_normal()
            y0 = 3.0 + sum(c * l for c, l in zip(coefs, legs)) + e
        case = {"name": name, "y": fl(y0), "xs": [fl(l) for l in legs],
                "ols": multi_ols(y0, legs), "coint": coint_case(y0, legs)}
        out["ols"].append(case)

    out["mackinnoncrit_c"] = [
        {"n": n, "nobs": nobs, "crit": fl(mackinnoncrit(N=n, regression="c",
                                                        nobs=np.inf if nobs is None else nobs))}
        for n in range(1, 13) for nobs in (None, 99, 999)
    ]

    for name, x in [("normal", rng.standard_normal(400)),
                    ("student-t3", rng.standard_t(3, 500)),
                    ("ar1", np.cumsum(rng.standard_normal(300)) * 0.1 + simulate_ou(rng, 0.2, 0, 1, 1, 300))]:
        out["diagnostics"].append({"name": name, "x": fl(x), **diag(x)})

    for name, n, beta in [("positive", 500, 0.7), ("negative", 400, -1.8), ("steep", 300, 12.0)]:
        x = np.cumsum(rng.standard_normal(n)) + 100
        y = 5 + beta * x + rng.standard_normal(n) * 2
        out["tls"].append({"name": name, "x": fl(x), "y": fl(y), **tls_ref(x, y)})

    for name, n, beta in [("ar-spread", 600, 1.3), ("near-walk", 500, 0.6)]:
        x = np.cumsum(rng.standard_normal(n)) + 40
        s = simulate_ou(rng, 0.15 if name == "ar-spread" else 0.02, 0.0, 1.0, 1.0, n)
        y = 2 + beta * x + s
        out["min_half_life"].append({"name": name, "x": fl(x), "y": fl(y), **min_hl_ref(x, y)})

    for name, theta, mu, sigma, dt, n in [("fast", 0.3, 1.0, 0.5, 1.0, 2000),
                                         ("slow", 0.02, -2.0, 0.05, 1.0, 5000),
                                         ("daily", 4.0, 0.1, 0.3, 1 / 252, 3000)]:
        x = simulate_ou(rng, theta, mu, sigma, dt, n)
        out["ou"].append({"name": name, "x": fl(x), "true": [theta, mu, sigma], **ou_ref(x, dt)})

    out["bertram"] = [
        bertram_ref(180.9670, 0.1538, 0.001),
        bertram_ref(180.9670, 0.1538, 0.001, rf=0.01),
        bertram_ref(0.05, 0.002, 0.0008),
        bertram_ref(0.05, 0.002, 0.0008, rf=0.0005),
        bertram_ref(0.3, 0.01, 0.0001),
        bertram_ref(2.0, 0.5, 0.2, rf=0.01),
    ]

    from statsmodels.stats.multitest import multipletests
    brng = np.random.default_rng(7)
    out["bh"] = []
    for p in [brng.uniform(size=200),
              np.concatenate([brng.uniform(0, 1e-3, 20), brng.uniform(size=180)]),
              np.round(brng.uniform(size=50), 2)]:  # ties
        out["bh"].append({"p": fl(p), "q": fl(multipletests(p, method="fdr_bh")[1])})

    if os.path.exists(RECORDING):
        x, y = load_recording_bars(RECORDING)
        lx, ly = np.log(x), np.log(y)
        lag = 5
        # ETH on BTC now and five seconds earlier: a distributed-lag hedge.
        yy, x0, x5 = ly[lag:], lx[lag:], lx[:-lag]
        fit = sm.OLS(ly, sm.add_constant(lx)).fit()
        spread = ly - fit.params[0] - fit.params[1] * lx
        mhl = min_hl_ref(lx, ly, -5.0, 5.0)
        out["recording"] = {
            "source": "binance-futures-btcusdt-ethusdt-2025-12-15.ndjson",
            "bars": int(len(x)),
            "lag": lag,
            "ols_lagged": multi_ols(yy, [x0, x5]),
            "coint_lagged": coint_case(yy, [x0, x5]),
            "coint_lagged_exact": coint_exact(yy, [x0, x5]),
            "spread_diagnostics": diag(spread),
            "tls_log": tls_ref(lx, ly),
            "min_half_life_log": mhl,
            "ou_spread": ou_ref(spread, 1.0),
        }
    else:
        print(f"recording not found at {RECORDING}; skipping", file=sys.stderr)

    with open(os.path.join(OUT, "research.json"), "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
