#!/usr/bin/env python3
"""Largest relative error of `pairdesk analyze` rolling OLS on the shared
recording against the exact per-window fit in
tests/fixtures/analytics/recording_rolling.json (issue 13; the figures in
BENCHMARKS.md "Rolling statistics exact on real data").

    /work/scratch/venv/bin/python scripts/check_rolling_drift.py target/release/pairdesk

Writes the 1 s / 5 s bars as CSV under /tmp, runs
`pairdesk analyze --regression ols --prices log --window W --z-window Z` for
every case of the fixture and prints, per case, the number of windows whose
beta is off by more than 1e-8 relative and the worst relative errors of
beta, alpha, spread and z. Needs the venv of scripts/gen_rolling_fixtures.py.
"""
import json, os, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_rolling_fixtures as g
BIN = sys.argv[1]
fx = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'analytics', 'recording_rolling.json')))
for ser in fx['series']:
    s = ser['bar_seconds']
    x, y = g.load_bars(g.RECORDING, s)
    csv = f'/tmp/pairdesk_rec_{s}s.csv'
    with open(csv, 'w') as f:
        f.write("ts,BTCUSDT,ETHUSDT\n")
        for i, (a, b) in enumerate(zip(x, y)):
            f.write(f"{i},{a!r},{b!r}\n")
    for c in ser['cases']:
        if c['windows'] == 0: continue
        w, zw = c['window'], c['z_window']
        out = subprocess.run([BIN, 'analyze', '--input', csv, '--regression', 'ols', '--prices', 'log',
                              '--window', str(w), '--z-window', str(zw)], capture_output=True, text=True, check=True).stdout
        rep = json.loads(out)
        worst = dict(beta=0, alpha=0, spread=0, z=0); bad = 0; undefined = 0
        for k, r in enumerate(c['rows']):
            t = w - 1 + k
            if r[0] is None: continue
            if rep['beta'][t] is None: undefined += 1; continue
            rb = abs(rep['beta'][t] - r[0]) / abs(r[0]); bad += rb > 1e-8
            worst['beta'] = max(worst['beta'], rb)
            worst['alpha'] = max(worst['alpha'], abs(rep['alpha'][t] - r[1]) / abs(r[1]))
            worst['spread'] = max(worst['spread'], abs(rep['spread'][t] - r[2]) / abs(r[2]))
            if r[3] is not None and rep['zscore'][t] is not None:
                worst['z'] = max(worst['z'], abs(rep['zscore'][t] - r[3]) / abs(r[3]))
        print(f"{s}s w{w} z{zw}: {c['windows']} windows, beta rel>1e-8: {bad}, undefined: {undefined}, worst rel: "
              + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
