#!/usr/bin/env python3
"""Independent reference of pairdesk's backtest (src/analytics/backtest.rs
and walk_forward.rs), written from the rules in their module docs, and the
fixtures the Rust engine must match to 1e-9.

Plain Python 3 (no numpy): every number is a float64 loop, so the cases
can be regenerated anywhere:

    python3 scripts/gen_backtest_fixtures.py

Writes tests/fixtures/backtest/*.json: inputs (bars, books, funding, the
beta and z series), options, and the expected trades, equity and summary.
"""

import json
import math
import os
import random

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "backtest")


# ------------------------------------------------------------ inputs


def market(seed, n, bar_ms, quote_share, spread_bp):
    """Two cointegrated legs (log y = 0.9 log x + c + OU noise), opens near
    the previous close, and books on a share of the bars."""
    rnd = random.Random(seed)
    lx, u = math.log(100.0), 0.0
    ts, xo, xc, yo, yc = [], [], [], [], []
    t = 1_765_000_000_000
    for i in range(n):
        # Occasional gaps in the bar times.
        t += bar_ms * (3 if rnd.random() < 0.03 else 1)
        ts.append(t)
        prev_x = math.exp(lx)
        prev_y = math.exp(0.9 * lx + 0.5 + u)
        lx += rnd.gauss(0.0, 0.004)
        u = 0.85 * u + rnd.gauss(0.0, 0.003)
        cx, cy = math.exp(lx), math.exp(0.9 * lx + 0.5 + u)
        xo.append(prev_x * (1 + rnd.gauss(0.0, 0.0005)))
        yo.append(prev_y * (1 + rnd.gauss(0.0, 0.0005)))
        xc.append(cx)
        yc.append(cy)

    def books(closes):
        out = []
        for i, c in enumerate(closes):
            if rnd.random() < quote_share:
                half = c * spread_bp * 1e-4 * (0.5 + rnd.random())
                mid = c * (1 + rnd.gauss(0.0, 0.0003))
                out.append({"bid": mid - half, "ask": mid + half, "ts": ts[i] + rnd.randrange(0, bar_ms)})
            else:
                out.append(None)
        return out

    bx = books(xo) if quote_share > 0 else None
    by = books(yo) if quote_share > 0 else None
    return ts, xo, xc, yo, yc, bx, by


def funding_events(ts, bar_ms, every_ms, rnd):
    out = []
    t = ts[0] - every_ms // 3
    while t < ts[-1] + bar_ms:
        out.append({"ts": t, "rate": rnd.uniform(-3e-4, 3e-4)})
        t += every_ms
    return out


def ols_fit(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    beta = sxy / sxx
    return my - beta * mx, beta


def rolling_beta_z(fx, fy, window, zw):
    """Rolling OLS beta and the rolling z-score (ddof 1) of its spread."""
    n = len(fx)
    beta, spread = [None] * n, [None] * n
    for t in range(window - 1, n):
        a, b = ols_fit(fx[t - window + 1 : t + 1], fy[t - window + 1 : t + 1])
        beta[t] = b
        spread[t] = fy[t] - a - b * fx[t]
    z = [None] * n
    for t in range(n):
        w = spread[max(0, t - zw + 1) : t + 1]
        if t + 1 < zw or any(v is None for v in w):
            continue
        m = sum(w) / zw
        sd = math.sqrt(sum((v - m) ** 2 for v in w) / (zw - 1))
        z[t] = (spread[t] - m) / sd if sd > 0 else None
    return beta, z


# ------------------------------------------------------------ engine


def rstep(q, step):
    if step <= 0:
        return q
    s = 1.0 if q > 0 else (-1.0 if q < 0 else 0.0)
    return s * (math.floor(abs(q) / step + 1e-9) * step)


def backtest(c, beta, z, flat_after, o):
    """The rules of backtest.rs's module docs, from scratch."""
    ts, bar_ms = c["ts"], c["bar_ms"]
    n = len(ts)
    X = {"open": c["x_open"], "close": c["x_close"], "book": c.get("x_book"), "fund": c.get("x_funding", []), "fee": o["fee_bps_x"], "step": o["qty_step_x"]}
    Y = {"open": c["y_open"], "close": c["y_close"], "book": c.get("y_book"), "fund": c.get("y_funding", []), "fee": o["fee_bps_y"], "step": o["qty_step_y"]}
    entry, exit_, log = o["entry"], o["exit"], o["prices"] == "log"
    notional = o["notional"]
    bpy = o.get("bars_per_year") or 365.0 * 86_400_000.0 / bar_ms
    flat_set = set(flat_after)

    q = {"x": 0.0, "y": 0.0}
    cash = 0.0
    turnover = 0.0
    trades, cur = [], None
    order = None
    locked = None
    skipped = {"beta": 0, "size": 0, "quote": 0}
    equity, position, drawdown, rets = [], [], [], []
    peak, peak_t, under, max_dd, max_dd_ms = notional, None, False, 0.0, 0
    last_eq = 0.0
    exposed = 0
    # funding events already applied, by leg
    fdone = {"x": set(), "y": set()}

    def fill_price(L, t, dq):
        buy = dq > 0
        bk = L["book"][t] if L["book"] is not None else None
        if bk is not None:
            mid = (bk["bid"] + bk["ask"]) / 2
            px = bk["ask"] if buy else bk["bid"]
        else:
            if o["fill"] == "next-quote":
                return None
            mid = L["open"][t] if o["fill"] == "next-open" else L["close"][t]
            hs = o["half_spread_bps"] * 1e-4
            px = mid * (1 + hs) if buy else mid * (1 - hs)
        sl = o["slippage_bps"] * 1e-4
        px = px * (1 + sl) if buy else px * (1 - sl)
        return px, mid, L["fee"] * 1e-4 * abs(dq) * px, abs(dq) * abs(px - mid)

    def fill_time(t):
        if o["fill"] == "next-open":
            return ts[t]
        if o["fill"] == "next-close":
            return ts[t] + bar_ms - 1
        times = [L["book"][t]["ts"] if L["book"][t] is not None else ts[t] for L in (X, Y)]
        return max(times)

    def do_trade(t, dx, dy):
        nonlocal cash, turnover
        fx = fill_price(X, t, dx)
        fy = fill_price(Y, t, dy)
        if fx is None or fy is None:
            return None
        cash -= dx * fx[0] + dy * fy[0] + fx[2] + fy[2]
        q["x"] += dx
        q["y"] += dy
        turnover += abs(dx) * fx[0] + abs(dy) * fy[0]
        return fx, fy

    def pay_funding(t, lo, hi):
        """Settlements with lo <= T < hi (T >= ts[0]) on the position now."""
        nonlocal cash
        for key, L in (("x", X), ("y", Y)):
            for k, ev in enumerate(L["fund"]):
                if k in fdone[key] or ev["ts"] < ts[0] or not (lo <= ev["ts"] < hi):
                    continue
                fdone[key].add(k)
                if q[key] == 0:
                    continue
                pay = -q[key] * ev["rate"] * L["close"][t]
                cash += pay
                if cur is not None:
                    cur["funding"] += pay

    def finish(tr):
        tr["net"] = tr["gross"] - tr["slippage"] - tr["fees"] + tr["funding"]
        tr["net_pct"] = tr["net"] / tr["notional"] * 100

    for t in range(n):
        end = ts[t + 1] if t + 1 < n else ts[t] + bar_ms
        start = ts[t]
        cur_side = cur["side"] if cur else None
        if order is not None and order["target"] != cur_side:
            ft = fill_time(t)
            pay_funding(t, -(2**62), ft)
            # ---- execute
            new = None
            if order["target"] is not None and order["beta"] is not None:
                b = order["beta"]
                cx, cy = X["close"][order["bar"]], Y["close"][order["bar"]]
                h = b * cy / cx if log else b
                if o["sizing"] == "beta-weighted":
                    qy = notional / (cy + abs(h) * cx)
                    qx = -h * qy
                else:
                    qy = notional / 2 / cy
                    qx = -math.copysign(1.0, h) * notional / 2 / cx if h != 0 else 0.0
                qy, qx = rstep(qy, Y["step"]), rstep(qx, X["step"])
                if qy == 0 or qx == 0:
                    skipped["size"] += 1
                else:
                    sgn = 1.0 if order["target"] == "long" else -1.0
                    new = (order["target"], b, sgn * qx, sgn * qy)
            ok = True
            if cur is not None:
                dx, dy = -cur["qty_x"], -cur["qty_y"]
                r = do_trade(t, dx, dy)
                if r is None:
                    skipped["quote"] += 1
                    ok = False
                else:
                    fx, fy = r
                    cur.update(exit_bar=t, exit_ts=ft, exit_x=fx[0], exit_y=fy[0], exit_reason=order["reason"])
                    cur["gross"] += -dx * fx[1] - dy * fy[1]
                    cur["fees"] += fx[2] + fy[2]
                    cur["slippage"] += fx[3] + fy[3]
                    finish(cur)
                    trades.append(cur)
                    cur = None
            if ok and new is not None:
                side, b, qx, qy = new
                r = do_trade(t, qx, qy)
                if r is None:
                    skipped["quote"] += 1
                else:
                    fx, fy = r
                    cur = dict(side=side, signal_bar=order["bar"], entry_z=order["z"], beta=b, entry_bar=t, entry_ts=ft,
                               qty_x=qx, qty_y=qy, entry_x=fx[0], entry_y=fy[0],
                               notional=abs(qx) * fx[0] + abs(qy) * fy[0],
                               exit_bar=None, exit_ts=None, exit_x=None, exit_y=None, exit_reason=None,
                               gross=-(qx * fx[1] + qy * fy[1]), fees=fx[2] + fy[2], funding=0.0,
                               slippage=fx[3] + fy[3], net=0.0, net_pct=0.0)
        order = None
        pay_funding(t, -(2**62), end)
        cx, cy = X["close"][t], Y["close"][t]
        eq = cash + q["x"] * cx + q["y"] * cy
        rets.append((eq - last_eq) / notional)
        last_eq = eq
        pos = 0 if cur is None else (1 if cur["side"] == "long" else -1)
        exposed += pos != 0
        position.append(pos)
        equity.append(eq)
        acct = notional + eq
        if peak_t is None:
            peak_t = ts[t]
        if acct >= peak:
            if under:
                max_dd_ms = max(max_dd_ms, ts[t] - peak_t)
                under = False
            peak, peak_t = acct, ts[t]
            drawdown.append(0.0)
        else:
            under = True
            max_dd_ms = max(max_dd_ms, ts[t] - peak_t)
            d = (peak - acct) / peak * 100
            max_dd = max(max_dd, d)
            drawdown.append(d)

        # ---- decide
        zt = z[t]
        bt = beta[t]
        if zt is not None and abs(zt) < entry:
            locked = None
        fold_end = t in flat_set
        inb = lambda v: v is not None and o["beta_min"] <= v <= o["beta_max"]
        es = None
        if zt is not None and zt > entry:
            es = "short"
        elif zt is not None and zt < -entry:
            es = "long"
        if es == locked:
            es = None
        dec = None
        if cur is None:
            if es is not None and not fold_end:
                if inb(bt):
                    dec = (es, None)
                else:
                    skipped["beta"] += 1
        else:
            unreal = cur["qty_x"] * (cx - cur["entry_x"]) + cur["qty_y"] * (cy - cur["entry_y"]) - cur["fees"] + cur["funding"]
            stop = o["stop_pct"] is not None and unreal <= -o["stop_pct"] / 100 * cur["notional"]
            if bt is None:
                broken = True
            else:
                broken = not inb(bt) or (o["beta_jump"] is not None and abs(bt - cur["beta"]) > o["beta_jump"] * abs(cur["beta"]))
            broken = broken and o["on_beta_break"] == "flatten"
            held = o["max_hold_bars"] is not None and t - cur["entry_bar"] >= o["max_hold_bars"]
            flip = es is not None and es != cur["side"]
            band = zt is not None and abs(zt) < exit_
            if stop:
                dec = (None, "stop")
            elif broken:
                dec = (None, "beta-break")
            elif held:
                dec = (None, "max-hold")
            elif fold_end:
                dec = (None, "fold-end")
            elif flip:
                dec = (es if inb(bt) else None, "flip")
            elif band:
                dec = (None, "band")
        if dec is not None:
            if dec[1] in ("stop", "beta-break", "max-hold"):
                locked = cur["side"] if cur else None
            order = dict(target=dec[0], reason=dec[1], bar=t, z=zt, beta=bt)

    if cur is not None:
        cur["gross"] += cur["qty_x"] * X["close"][n - 1] + cur["qty_y"] * Y["close"][n - 1]
        finish(cur)
        trades.append(cur)

    closed = [tr for tr in trades if tr["exit_ts"] is not None]
    m = sum(rets) / n
    var = sum((r - m) ** 2 for r in rets) / (n - 1) if n > 1 else 0
    down = math.sqrt(sum(r * r for r in rets if r < 0) / n)
    summary = dict(
        notional=notional, bars=n, net=last_eq, net_pct=last_eq / notional * 100,
        gross=sum(tr["gross"] for tr in trades), fees=sum(tr["fees"] for tr in trades),
        funding=sum(tr["funding"] for tr in trades), slippage=sum(tr["slippage"] for tr in trades),
        trades=len(trades), closed=len(closed), wins=sum(1 for tr in closed if tr["net"] > 0),
        hit_rate=(sum(1 for tr in closed if tr["net"] > 0) / len(closed)) if closed else None,
        avg_hold_ms=(sum(tr["exit_ts"] - tr["entry_ts"] for tr in closed) / len(closed)) if closed else None,
        sharpe=(m / math.sqrt(var) * math.sqrt(bpy)) if var > 0 else None,
        sortino=(m / down * math.sqrt(bpy)) if down > 0 else None,
        bars_per_year=bpy, max_drawdown_pct=max_dd, max_drawdown_ms=max_dd_ms,
        exposure=exposed / n, turnover=turnover / notional,
        skipped_beta=skipped["beta"], skipped_size=skipped["size"], skipped_no_quote=skipped["quote"],
    )
    return dict(position=position, equity=equity, drawdown=drawdown, trades=trades, summary=summary), rets


def walk_forward(c, o, train, test):
    n = len(c["ts"])
    f = (lambda v: [math.log(p) for p in v]) if o["prices"] == "log" else (lambda v: list(v))
    fx, fy = f(c["x_close"]), f(c["y_close"])
    beta, z, flat_after, folds, parts = [None] * n, [None] * n, [], [], []
    s = 0
    while s + train < n:
        t0, t1 = s + train, min(s + train + test, n)
        a, b = ols_fit(fx[s:t0], fy[s:t0])
        res = [fy[i] - a - b * fx[i] for i in range(s, t0)]
        mu = sum(res) / train
        sigma = math.sqrt(sum((r - mu) ** 2 for r in res) / (train - 1))
        score = lambda i: (fy[i] - a - b * fx[i] - mu) / sigma
        for i in range(t0, t1):
            beta[i], z[i] = b, score(i)
        sub = {k: (v[s:t0] if isinstance(v, list) and k not in ("x_funding", "y_funding") and v is not None else v) for k, v in c.items()}
        r, rets = backtest(sub, [b] * train, [score(i) for i in range(s, t0)], [train - 1], o)
        parts.append((r["summary"], rets))
        folds.append(dict(train_from=c["ts"][s], test_from=c["ts"][t0], test_to=c["ts"][t1 - 1], alpha=a, beta=b, mu=mu, sigma=sigma,
                          in_sample_net=r["summary"]["net"], in_sample_trades=r["summary"]["trades"], t0=t0, t1=t1))
        flat_after.append(t1 - 1)
        s += test
    r, _ = backtest(c, beta, z, flat_after, o)
    for fd in folds:
        t0, t1 = fd.pop("t0"), fd.pop("t1")
        before = r["equity"][t0 - 1] if t0 > 0 else 0.0
        fd["out_of_sample_net"] = r["equity"][t1 - 1] - before
        fd["out_of_sample_trades"] = sum(1 for tr in r["trades"] if t0 <= tr["signal_bar"] < t1)
    allrets = [x for _, rets in parts for x in rets]
    m = sum(allrets) / len(allrets)
    var = sum((x - m) ** 2 for x in allrets) / (len(allrets) - 1)
    down = math.sqrt(sum(x * x for x in allrets if x < 0) / len(allrets))
    bpy = parts[0][0]["bars_per_year"]
    closed = sum(p["closed"] for p, _ in parts)
    wins = sum(p["wins"] for p, _ in parts)
    ins = dict(
        net=sum(p["net"] for p, _ in parts), trades=sum(p["trades"] for p, _ in parts), closed=closed, wins=wins,
        fees=sum(p["fees"] for p, _ in parts), funding=sum(p["funding"] for p, _ in parts),
        hit_rate=wins / closed if closed else None,
        sharpe=m / math.sqrt(var) * math.sqrt(bpy) if var > 0 else None,
        sortino=m / down * math.sqrt(bpy) if down > 0 else None,
        max_drawdown_pct=max(p["max_drawdown_pct"] for p, _ in parts),
    )
    r["walk_forward"] = dict(train=train, test=test, folds=folds, in_sample=ins)
    return r


def base_options(**kw):
    o = dict(entry=2.0, exit=0.5, prices="log", fill="next-open", notional=10_000.0, sizing="beta-weighted",
             fee_bps_x=5.0, fee_bps_y=5.0, half_spread_bps=0.5, slippage_bps=0.0, qty_step_x=0.0, qty_step_y=0.0,
             stop_pct=None, max_hold_bars=None, beta_min=0.0, beta_max=10.0, beta_jump=0.5,
             on_beta_break="flatten", bars_per_year=None)
    o.update(kw)
    return o


def case_with(name, seed, n, o, quote_share=0.8, window=40, zw=30, wf=None, funding_every=None):
    bar_ms = 60_000
    rnd = random.Random(seed + 1)
    ts, xo, xc, yo, yc, bx, by = market(seed, n, bar_ms, quote_share, 3.0)
    c = dict(ts=ts, bar_ms=bar_ms, x_open=xo, x_close=xc, y_open=yo, y_close=yc, x_book=bx, y_book=by)
    if funding_every:
        c["x_funding"] = funding_events(ts, bar_ms, funding_every, rnd)
        c["y_funding"] = funding_events(ts, bar_ms, funding_every + 7 * bar_ms // 2, rnd)
    else:
        c["x_funding"], c["y_funding"] = [], []
    f = (lambda v: [math.log(p) for p in v]) if o["prices"] == "log" else (lambda v: list(v))
    if wf:
        expected = walk_forward(c, o, *wf)
        beta = z = None
    else:
        beta, z = rolling_beta_z(f(xc), f(yc), window, zw)
        expected, _ = backtest(c, beta, z, [], o)
    case = dict(name=name, input=c, beta=beta, z=z, options=o, walk_forward=(dict(train=wf[0], test=wf[1]) if wf else None),
                expected=expected)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".json"), "w") as fh:
        json.dump(case, fh, indent=1)
    s = expected["summary"]
    reasons = sorted({t["exit_reason"] for t in expected["trades"] if t["exit_reason"]})
    print(f"{name}: {s['trades']} trades, net {s['net']:.4f}, reasons {reasons}, skipped beta/size/quote "
          f"{s['skipped_beta']}/{s['skipped_size']}/{s['skipped_no_quote']}")


def main():
    case_with("quotes_fees_funding_stop", 11, 320,
              base_options(fee_bps_x=4.0, fee_bps_y=6.0, stop_pct=0.15, max_hold_bars=8, qty_step_x=0.01,
                           qty_step_y=0.1, entry=1.6, exit=0.4, beta_jump=0.8, slippage_bps=0.3),
              funding_every=37 * 60_000)
    case_with("next_close_dollar_neutral_raw", 23, 300,
              base_options(fill="next-close", sizing="dollar-neutral", prices="raw", half_spread_bps=1.5,
                           slippage_bps=0.5, entry=1.0, exit=0.0, beta_min=0.0, beta_max=100.0, beta_jump=None),
              quote_share=0.0, funding_every=53 * 60_000)
    case_with("next_quote_beta_break_hold", 37, 300,
              base_options(fill="next-quote", entry=1.5, exit=0.2, beta_jump=0.15, max_hold_bars=30, stop_pct=0.5),
              quote_share=0.7, window=20, zw=20, funding_every=41 * 60_000)
    case_with("walk_forward_ols", 41, 420,
              base_options(entry=1.5, exit=0.3, stop_pct=0.3, fee_bps_x=5.0, fee_bps_y=5.0, qty_step_x=0.001, qty_step_y=0.01),
              wf=(120, 60), funding_every=29 * 60_000)


if __name__ == "__main__":
    main()
