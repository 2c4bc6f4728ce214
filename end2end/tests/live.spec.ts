import { test, expect, Page } from '@playwright/test';
/** The busier server's port (playwright.config.ts). */
const BUSY_PORT = 3108;

async function open(page: Page, path = '/') {
  await page.goto(path);
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
}

async function storedTicks(page: Page): Promise<number> {
  return Number(await page.getByTestId('ticks-stored').first().textContent());
}

/** Pixels that differ clearly from the top-left (background) pixel. */
async function inkedPixels(page: Page, testid: string): Promise<number> {
  return page.evaluate((id) => {
    const c = document.querySelector(`canvas[data-testid="${id}"]`) as HTMLCanvasElement | null;
    if (!c || c.width === 0) return 0;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const [r0, g0, b0] = [d[0], d[1], d[2]];
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - r0) + Math.abs(d[i + 1] - g0) + Math.abs(d[i + 2] - b0) > 60) n++;
    }
    return n;
  }, testid);
}

test('history on start: within 10 s of the server answering, the table has numbers and every chart has drawn', async ({ page }) => {
  // The first test: the server answered a moment ago on an empty database,
  // and the simulated market generated the last six hours, so the default
  // view (600 one-second bars, window 300, z window 60) is complete at once.
  const t0 = Date.now();
  const budget = () => Math.max(500, 10_000 - (Date.now() - t0));
  await open(page);
  await expect(page.locator('td[data-stat="beta"]')).not.toHaveText('–', { timeout: budget() });
  await expect(page.locator('td[data-stat="adf_stat"]')).not.toHaveText('–', { timeout: budget() });
  for (const id of ['chart-prices', 'chart-spread', 'chart-z', 'chart-beta', 'chart-corr', 'chart-equity']) {
    const drawn = () => page.locator(`canvas[data-testid="${id}"]`).getAttribute('data-values').then(Number);
    await expect.poll(drawn, { timeout: budget(), message: `${id} drew nothing` }).toBeGreaterThan(100);
  }
  await expect(page.getByTestId('signal')).not.toContainText(/No statistics yet|Waiting/);
  expect(Date.now() - t0, 'ms from the first request to a complete page').toBeLessThan(10_000);
  await expect.poll(() => storedTicks(page), { timeout: 30_000 }).toBeGreaterThan(100_000);
  // 300 hourly bars cannot come from six hours: the page says what it waits for.
  await open(page, '/?x=BTCUSDT&y=ETHUSDT&tf=1h&bars=400&window=300');
  await expect(page.getByTestId('signal')).toContainText(/rolling window 300: ready in about \d+ d/, { timeout: 20_000 });
  // Meanwhile the charts that need no window draw: the prices, and the
  // full-sample spread of the hourly bars there are (the z-score stays blank).
  const values = (id: string) => page.locator(`canvas[data-testid="${id}"]`).getAttribute('data-values').then(Number);
  await expect.poll(() => values('chart-spread'), { timeout: 10_000 }).toBeGreaterThan(2);
  await expect.poll(() => values('chart-prices'), { timeout: 10_000 }).toBeGreaterThan(2);
  expect(await values('chart-z')).toBe(0);
});

test('the page hydrates and says plainly that the data is simulated', async ({ page }) => {
  await open(page);
  await expect(page.getByText('SIMULATED MARKET')).toBeVisible();
  await expect(page.getByTestId('source')).toHaveText('sim');
  await expect(page.getByTestId('conn')).toHaveText('connected');
  // The live push is open: the server is sending updates over /ws/live.
  await expect(page.getByTestId('link')).toHaveText('live', { timeout: 10_000 });
});

test('the dashboard works through localhost as well as 127.0.0.1; a foreign Host is refused', async ({ page, request, baseURL }) => {
  const port = new URL(baseURL!).port;
  await open(page, `http://localhost:${port}/`);
  await expect(page.getByTestId('link')).toHaveText('live', { timeout: 10_000 });
  // Through a name that is not this server's (a DNS-rebinding page), nothing is answered.
  const r = await request.get(`http://127.0.0.1:${port}/api/v1/symbols`, { headers: { Host: `evil.example:${port}` } });
  expect(r.status()).toBe(403);
  expect((await r.json()).error.code).toBe('forbidden_host');
});

test('the price chart is live: canvas drawn and stored ticks rising', async ({ page }) => {
  await open(page);
  await expect.poll(() => storedTicks(page), { timeout: 15_000 }).toBeGreaterThan(0);
  const first = await storedTicks(page);
  await expect.poll(() => inkedPixels(page, 'chart-prices'), { timeout: 20_000 }).toBeGreaterThan(200);
  await expect.poll(() => storedTicks(page), { timeout: 15_000 }).toBeGreaterThan(first + 20);
});

test('controls live in the URL and a bookmarked URL restores the view', async ({ page }) => {
  await open(page);
  await page.getByTestId('regression').selectOption('huber');
  await expect(page).toHaveURL(/reg=huber/);
  await page.getByTestId('timeframe').selectOption('5s');
  await expect(page).toHaveURL(/tf=5s/);
  const url = page.url();
  await open(page, url.replace(/^https?:\/\/[^/]+/, ''));
  await expect(page.getByTestId('regression')).toHaveValue('huber');
  await expect(page.getByTestId('timeframe')).toHaveValue('5s');
});

test('the span picker chooses the bar size for a span, and the URL keeps it', async ({ page }) => {
  await open(page);
  await page.getByTestId('span').selectOption('1d');
  await expect(page).toHaveURL(/tf=1m/);
  await expect(page).toHaveURL(/bars=1440/);
  await expect(page.getByTestId('timeframe')).toHaveValue('1m');
  await expect(page.getByTestId('bars')).toHaveValue('1440');
  await page.getByTestId('span').selectOption('30d');
  await expect(page).toHaveURL(/tf=15m/);
  await expect(page.getByTestId('bars')).toHaveValue('2880');
  // Setting the bar size by hand leaves the presets.
  await page.getByTestId('timeframe').selectOption('5s');
  await expect(page.getByTestId('span')).toHaveValue('custom');
});

test('an invalid value is rejected with a message next to its control', async ({ page }) => {
  await open(page);
  await page.getByTestId('window').fill('1');
  await page.getByTestId('window').press('Enter');
  await page.getByTestId('window').blur();
  await expect(page.getByTestId('err-window')).toContainText('whole number');
  await open(page, '/?tf=7m&entry=abc');
  await expect(page.getByTestId('err-tf')).toBeVisible();
  await expect(page.getByTestId('err-entry')).toBeVisible();
});

test('the table matches the HTTP API for the same parameters, and changes with them', async ({ page, request }) => {
  await open(page);
  // Enough 1 s bars on both legs for 30 bars (ADF needs more than 20).
  await expect.poll(() => storedTicks(page), { timeout: 40_000 }).toBeGreaterThan(2000);
  const to = Math.floor(Date.now() / 1000) * 1000 - 2000;
  const stat = async (k: string) => (await page.locator(`td[data-stat="${k}"]`).textContent())?.trim();
  const betas = new Map<string, string>();
  for (const [reg, window] of [['ols', '10'], ['huber', '12'], ['ols-no-intercept', '10']]) {
    await open(page, `/?x=BTCUSDT&y=ETHUSDT&tf=1s&bars=30&reg=${reg}&window=${window}&zw=5&to=${to}`);
    await expect(page.locator('td[data-stat="beta"]')).not.toHaveText('–', { timeout: 15_000 });
    const api = await request.get(
      `/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=30&regression=${reg}&window=${window}&z_window=5&corr_window=5&to=${to}`,
    );
    expect(api.status()).toBe(200);
    const j = await api.json();
    expect(await stat('n')).toBe(String(j.report.n));
    expect(await stat('beta')).toBe(j.report.regression.beta.toFixed(6));
    expect(await stat('alpha')).toBe(j.report.regression.alpha.toFixed(6));
    expect(await stat('adf_stat')).toBe(j.report.adf.stat.toFixed(4));
    betas.set(reg, (await stat('beta'))!);
  }
  // Dropping the intercept changes the hedge ratio on the same bars. (Huber
  // may equal OLS when no residual is large enough to be down-weighted.)
  expect(betas.get('ols-no-intercept')).not.toBe(betas.get('ols'));
  // README screenshot: a historical view with statistics and a crosshair.
  const box = (await page.getByTestId('chart-z').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2);
  await page.screenshot({ path: '../docs/screenshot.png' });
});

test('a basket alert created in the page fires on the basket\'s rolling-hedge z-score', async ({ page }) => {
  await open(page);
  await page.getByTestId('alert-basket').fill('BTCUSDT, ETHUSDT, SOLUSDT');
  await page.getByTestId('alert-metric').selectOption('zscore');
  await page.getByTestId('alert-op').selectOption('above');
  // Any defined z is above -100: the rule fires on the first evaluation.
  await page.getByTestId('alert-value').fill('-100');
  await page.getByTestId('alert-add').click();
  await expect(page.getByTestId('alert-rules')).toContainText('BTCUSDT+ETHUSDT+SOLUSDT zscore above -100');
  await expect(page.getByTestId('alert-history')).toContainText(/BTCUSDT\+ETHUSDT\+SOLUSDT: zscore above -100 \(now -?\d+\.\d{4}\)/, { timeout: 15_000 });
});

test('hovering one chart shows the crosshair values on every chart', async ({ page }) => {
  await open(page);
  await expect.poll(() => inkedPixels(page, 'chart-prices'), { timeout: 20_000 }).toBeGreaterThan(200);
  const box = (await page.getByTestId('chart-prices').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  for (const id of ['chart-prices-hover', 'chart-spread-hover', 'chart-z-hover', 'chart-beta-hover']) {
    await expect(page.getByTestId(id)).toContainText(/\d\d:\d\d:\d\d/);
  }
});

test('an alert rule created in the page fires on the server and appears in the history', async ({ page }) => {
  await open(page);
  await page.getByTestId('alert-metric').selectOption('price');
  await page.getByTestId('alert-op').selectOption('above');
  await page.getByTestId('alert-value').fill('1');
  await page.getByTestId('alert-add').click();
  await expect(page.getByTestId('alert-rules')).toContainText('price above 1');
  // The engine evaluates every bar; ETHUSDT trades far above 1.
  await expect(page.getByTestId('alert-history')).toContainText('ETHUSDT/BTCUSDT: price above 1', { timeout: 15_000 });
  await expect(page.getByTestId('toasts')).toContainText('price above 1', { timeout: 10_000 });
});

test('the pair scanner ranks the watchlist and opens a pair on click', async ({ page }) => {
  await open(page, '/?x=ETHUSDT&y=BTCUSDT');
  await page.getByTestId('scan-symbols').fill('BTCUSDT,ETHUSDT');
  await page.getByTestId('scan-bars').fill('300');
  // Five minutes of simulated ticks are too few for the I(1) screen to be
  // a stable verdict; the ranking is what this checks.
  await page.getByTestId('scan-screen').uncheck();
  // Hold the scan's answer back for two seconds, so the page polls the
  // scan's progress (by the job id it sent) while it waits.
  let job: number | undefined;
  await page.route('**/api/scan_pairs*', async (route) => {
    job = Number(new URLSearchParams(route.request().postData() ?? '').get('job'));
    const response = await route.fetch();
    await new Promise((r) => setTimeout(r, 2_000));
    await route.fulfill({ response });
  });
  const polled = page.waitForResponse(async (r) => r.url().includes('/api/scan_progress') && (await r.json()) !== null);
  await page.getByTestId('scan-run').click();
  const progress = await (await polled).json();
  expect(job).toBeGreaterThan(0);
  expect(progress.done).toBeLessThanOrEqual(progress.total);
  await expect(page.getByTestId('scan-progress')).toHaveText(/^(Reading bars: symbol|I\(1\) screen: leg|Testing pairs:|Refreshing pairs:|Done:) \d+ of \d+$/);
  await expect(page.getByTestId('scan-heatmap')).toContainText('BTCUSDT', { timeout: 15_000 });
  await expect(page.getByTestId('scan-summary')).toContainText('pairs tested');
  const row = page.getByTestId('scan-ranked').locator('tbody tr').first();
  await expect(row).toContainText('ETHUSDT/BTCUSDT');
  await row.click();
  await expect(page).toHaveURL(/x=BTCUSDT&y=ETHUSDT/);
});

test('a three-leg basket opens from the controls and its weights, Johansen table, bands and backtest match the API', async ({ page, request }) => {
  // A fixed range, so the page and the API test the same bars.
  const to = Math.floor((Date.now() - 120_000) / 1000) * 1000;
  await open(page, `/?x=BTCUSDT&y=ETHUSDT&tf=1s&bars=600&to=${to}`);
  const legs = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
  await page.getByTestId('basket-symbols').fill(legs.join(','));
  await page.getByTestId('basket-bars').fill('500');
  await page.getByTestId('basket-window').fill('100');
  await page.getByTestId('basket-entry').fill('1.5');
  await page.getByTestId('basket-run').click();
  await expect(page.getByTestId('basket-weights').locator('tr[data-leg="SOLUSDT"]')).toBeVisible({ timeout: 15_000 });
  const api = await (await request.get(`/api/v1/johansen?symbols=${legs.join(',')}&timeframe=1s&bars=500&to=${to}&window=100&entry=1.5`)).json();
  const weight = async (leg: string) =>
    Number(await page.getByTestId('basket-weights').locator(`tr[data-leg="${leg}"]`).getAttribute('data-weight'));
  expect(api.weights_johansen).toHaveLength(3);
  for (const [i, leg] of legs.entries()) {
    expect(await weight(leg)).toBe(api.weights_johansen[i]);
  }
  // One trace and one max-eigenvalue statistic per rank hypothesis.
  const traces = await page.getByTestId('basket-johansen').locator('tbody tr').evaluateAll(
    (rows) => rows.map((r) => Number(r.getAttribute('data-trace'))));
  expect(traces).toHaveLength(3);
  expect(traces).toEqual(api.johansen.trace_stat);
  await expect(page.getByTestId('basket-summary')).toContainText(`${api.bars} bars`);
  const z = await page.getByTestId('basket-bands').getAttribute('data-z');
  if (api.suggested_bands.return_max) {
    expect(Number(z)).toBe(api.suggested_bands.return_max.z);
  } else {
    await expect(page.getByTestId('basket-bands')).toContainText('none');
  }
  // The backtest on the rolling hedge: the API's net, trades and curve.
  expect(api.backtest, api.backtest_error).toBeTruthy();
  const bt = page.getByTestId('basket-backtest');
  await expect(bt).toContainText('rolling OLS hedge (100 bars)');
  expect(Number(await bt.getAttribute('data-net'))).toBe(api.backtest.summary.net);
  expect(Number(await bt.getAttribute('data-trades'))).toBe(api.backtest.summary.trades);
  expect(api.backtest.equity).toHaveLength(api.bars);
  await expect(page.getByTestId('basket-equity')).toHaveAttribute('data-points', String(api.bars));
});

test('a basket paper-traded from the basket panel fills every leg on the server, as the API shows', async ({ page, request }) => {
  await open(page);
  await expect.poll(() => storedTicks(page), { timeout: 40_000 }).toBeGreaterThan(2000);
  await open(page, '/?x=BTCUSDT&y=ETHUSDT&tf=1s&bars=120');
  const legs = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
  // A live basket with a quick rule, so it trades within seconds.
  await page.getByTestId('basket-symbols').fill(legs.join(','));
  await page.getByTestId('basket-bars').fill('120');
  await page.getByTestId('basket-window').fill('12');
  await page.getByTestId('basket-z-window').fill('6');
  await page.getByTestId('basket-entry').fill('0.5');
  await page.getByTestId('basket-exit').fill('0.1');
  await page.getByTestId('basket-run').click();
  const start = page.getByTestId('basket-paper-start');
  await expect(start).toBeVisible({ timeout: 15_000 });
  await start.click();
  await expect(page.getByTestId('basket-paper-message')).toContainText('started', { timeout: 10_000 });
  const list = await (await request.get('/api/v1/paper')).json();
  const session = list.sessions[list.sessions.length - 1].session;
  expect(session.query.basket.symbols).toEqual(legs);
  expect(session.query.basket.window).toBe(12);
  const id = session.id;
  const row = page.locator(`tr[data-session="${id}"]`);
  await expect(row).toContainText('BTCUSDT + ETHUSDT + SOLUSDT');
  // Every order fills all three legs at once.
  await expect.poll(async () => (await (await request.get(`/api/v1/paper/${id}`)).json()).ledger.fills,
    { timeout: 60_000 }).toBeGreaterThan(0);
  const b = await (await request.get(`/api/v1/paper/${id}`)).json();
  expect(b.ledger.fills % 3).toBe(0);
  expect(b.ledger.qty).toHaveLength(3);
  await expect.poll(async () => {
    const now = await (await request.get(`/api/v1/paper/${id}`)).json();
    return (await row.getAttribute('data-fills')) === String(now.ledger.fills);
  }, { timeout: 15_000 }).toBe(true);
  await page.getByTestId(`paper-stop-${id}`).click();
  await expect.poll(async () => (await (await request.get(`/api/v1/paper/${id}`)).json()).session.status,
    { timeout: 20_000 }).toBe('stopped');
  await expect(row).toHaveAttribute('data-side', 'flat', { timeout: 10_000 });
});

test('the z chart draws the suggested bands, and bands=bertram trades at them', async ({ page, request }) => {
  const to = Math.floor((Date.now() - 120_000) / 1000) * 1000;
  await open(page, `/?x=BTCUSDT&y=ETHUSDT&tf=1s&bars=600&to=${to}&bands=bertram`);
  const api = await (await request.get(`/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=600&window=300&z_window=60&to=${to}&bands=bertram`)).json();
  await expect(page.getByTestId('bands')).toHaveValue('bertram');
  const guides = () => page.locator('canvas[data-testid="chart-z"]').getAttribute('data-guides');
  if (api.suggested_bands.return_max) {
    const z = api.suggested_bands.return_max.z;
    await expect.poll(guides, { timeout: 15_000 }).toContain(`bertram:${z}`);
    expect(api.query.options.entry).toBe(z);
    await expect(page.locator('td[data-stat="bands_return"]')).toContainText(`±${z.toFixed(2)} z`);
  } else {
    await expect(page.locator('td[data-stat="bands_return"]')).toHaveText('none', { timeout: 15_000 });
  }
});

test('uploading a recording stores it and reports malformed lines by number', async ({ page }) => {
  await open(page);
  const t0 = Date.parse('2025-12-15T08:00:00Z');
  const lines: string[] = [];
  for (let i = 0; i < 120; i++) {
    const ts = new Date(t0 + i * 1000).toISOString();
    const btc = 90000 + 50 * Math.sin(i / 7) + i;
    const eth = 3100 + 2 * Math.sin(i / 7) + 0.3 * Math.cos(i / 3) + i * 0.04;
    lines.push(JSON.stringify({ symbol: 'BTCUSDT', ts, price: +btc.toFixed(1), size: 0.01 }));
    lines.push(JSON.stringify({ symbol: 'ETHUSDT', ts, price: +eth.toFixed(2), size: 0.1 }));
  }
  lines.splice(2, 0, 'this is not a trade');
  lines.splice(5, 0, '{"symbol":"BTCUSDT","ts":"not-a-time","price":1,"size":1}');
  await page.getByTestId('upload-file').setInputFiles({
    name: 'small.ndjson',
    mimeType: 'application/x-ndjson',
    buffer: Buffer.from(lines.join('\n') + '\n'),
  });
  await page.getByTestId('upload-send').click();
  await expect(page.getByTestId('upload-summary')).toContainText('240 ticks', { timeout: 15_000 });
  await expect(page.getByTestId('upload-summary')).toContainText('2 malformed');
  await expect(page.getByTestId('upload-errors')).toContainText('line 3');
  await expect(page.getByTestId('upload-errors')).toContainText('line 6');
  await page.getByTestId('upload-open').click();
  await expect(page).toHaveURL(/src=replay/);
  await expect(page.getByTestId('src')).toHaveValue('replay');
  await expect(page.getByTestId('signal')).not.toContainText('Waiting', { timeout: 15_000 });
});

test('ten thousand bars draw on every chart (redraw time is recorded, not asserted)', async ({ page }) => {
  await open(page);
  const t0 = Date.parse('2025-12-16T00:00:00Z');
  const lines: string[] = [];
  let btc = 90000, eth = 3100;
  for (let i = 0; i < 10_500; i++) {
    const ts = new Date(t0 + i * 1000).toISOString();
    btc *= 1 + 0.0002 * Math.sin(i * 12.9898);
    eth = 3100 * Math.pow(btc / 90000, 1.2) * (1 + 0.001 * Math.sin(i / 40));
    lines.push(`{"symbol":"SOLUSDT","ts":"${ts}","price":${btc.toFixed(1)},"size":0.01}`);
    lines.push(`{"symbol":"BNBUSDT","ts":"${ts}","price":${eth.toFixed(2)},"size":0.1}`);
  }
  await page.getByTestId('upload-file').setInputFiles({ name: 'big.ndjson', mimeType: 'application/x-ndjson', buffer: Buffer.from(lines.join('\n')) });
  await page.getByTestId('upload-send').click();
  await expect(page.getByTestId('upload-summary')).toContainText('21000 ticks', { timeout: 30_000 });
  await open(page, '/?x=SOLUSDT&y=BNBUSDT&src=replay&tf=1s&bars=10000&window=300&zw=60');
  const canvas = page.locator('canvas[data-testid="chart-z"]');
  await expect(canvas).toHaveAttribute('data-points', '10000', { timeout: 30_000 });
  // Hover redraws all six charts; record how long each took.
  const box = (await canvas.boundingBox())!;
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    await page.mouse.move(box.x + box.width * (0.2 + i * 0.06), box.y + box.height / 2);
    await page.waitForTimeout(100);
    times.push(Number(await canvas.getAttribute('data-draw-ms')));
  }
  times.sort((a, b) => a - b);
  console.log(`redraw of one 10,000-point chart: median ${times[5].toFixed(1)} ms, max ${times[9].toFixed(1)} ms`);
});

test('a symbol added from the page starts streaming; an unlisted one is refused', async ({ page, request }) => {
  await open(page);
  await page.getByTestId('add-symbol').fill('FOOBAR');
  await page.getByTestId('add-symbol-btn').click();
  await expect(page.getByTestId('add-symbol-error')).toContainText('FOOBAR is not listed');
  await page.getByTestId('add-symbol').fill('bnbusdt');
  await page.getByTestId('add-symbol-btn').click();
  await expect(page.getByTestId('add-symbol-ok')).toContainText('streaming 4 symbols');
  // Its trades arrive and are stored (the other legs lost nothing meanwhile:
  // the ingest fault tests cover the handover), and the pickers offer it.
  await expect.poll(async () => {
    const j = await (await request.get('/api/v1/symbols')).json();
    const s = j.symbols.find((x: any) => x.symbol === 'BNBUSDT' && x.venue === 'sim');
    return s && s.stored && s.live ? s.live.ticks_per_sec : 0;
  }, { timeout: 20_000 }).toBeGreaterThan(0);
  await expect(page.locator('#symbol-list option[value="BNBUSDT"]')).toHaveCount(1);
});

/** Tick-to-screen latency: exchange time of the newest pushed trade to the
 *  animation frame after the page shows it (browser and server share a
 *  clock), for the price chart's repaint and the top bar's trade clock. */
async function tickToScreen(page: Page, ms: number): Promise<{ chart: number[]; clock: number[] }> {
  const chart = page.locator('canvas[data-testid="chart-prices"]');
  await expect(chart).toHaveAttribute('data-last-ts', /\d+/, { timeout: 20_000 });
  await expect(page.getByTestId('last-tick')).toHaveAttribute('data-ts', /\d+/, { timeout: 15_000 });
  return page.evaluate(async (ms) => {
    const watch = (el: Element, attr: string, out: number[]) => {
      const obs = new MutationObserver(() => {
        const ts = Number(el.getAttribute(attr));
        requestAnimationFrame(() => out.push(Date.now() - ts));
      });
      obs.observe(el, { attributes: true, attributeFilter: [attr] });
      return obs;
    };
    const chart: number[] = [];
    const clock: number[] = [];
    const a = watch(document.querySelector('canvas[data-testid="chart-prices"]')!, 'data-last-ts', chart);
    const b = watch(document.querySelector('[data-testid="last-tick"]')!, 'data-ts', clock);
    await new Promise((r) => setTimeout(r, ms));
    a.disconnect();
    b.disconnect();
    return { chart, clock };
  }, ms);
}

test('tick-to-screen latency at about 50 and 500 trades/s (recorded, not asserted)', async ({ page }) => {
  test.setTimeout(90_000);
  const report: string[] = [];
  const stats = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
    return `${s.length} repaints, median ${q(50)} ms, p99 ${q(99)} ms, max ${s[s.length - 1]} ms`;
  };
  for (const [label, url] of [['~50 trades/s', '/'], ['~500 trades/s', `http://127.0.0.1:${BUSY_PORT}/`]]) {
    await open(page, url);
    const { chart, clock } = await tickToScreen(page, 15_000);
    expect(chart.length).toBeGreaterThan(50);
    expect(clock.length).toBeGreaterThan(50);
    report.push(`${label}: price chart ${stats(chart)}; trade clock ${stats(clock)}`);
  }
  console.log(`tick-to-screen: ${report.join(' | ')}`);
});

test('pair, timeframe and a historical range set from the controls give the API figures', async ({ page, request }) => {
  test.setTimeout(200_000);
  // 22 closed 5 s bars on both legs (the ADF test needs that many), ending
  // at a bar boundary; this test runs last so the market has had time.
  let to = 0;
  await expect.poll(async () => {
    to = Math.floor(Date.now() / 5000) * 5000 - 5000;
    const r = await request.get(`/api/v1/pair?x=ETHUSDT&y=BTCUSDT&timeframe=5s&bars=22&regression=ols&z_window=5&corr_window=5&to=${to}`);
    return r.status() === 200 ? (await r.json()).report.n : 0;
  }, { timeout: 170_000, intervals: [2_000] }).toBe(22);
  await open(page);
  const set = async (id: string, v: string) => {
    await page.getByTestId(id).fill(v);
    await page.getByTestId(id).press('Enter');
    await page.getByTestId(id).blur();
  };
  await set('sym-y', 'BTCUSDT');
  await set('sym-x', 'ETHUSDT');
  await page.getByTestId('timeframe').selectOption('5s');
  await page.getByTestId('regression').selectOption('ols');
  await set('window', 'full');
  await set('zwindow', '5');
  await set('from', new Date(to - 110_000).toISOString());
  await set('to', new Date(to).toISOString().replace('T', ' ').replace('.000Z', ''));
  await expect(page).toHaveURL(/x=ETHUSDT&y=BTCUSDT&tf=5s/);
  await expect(page.getByTestId('back-to-live')).toContainText('back to live');
  const stat = async (k: string) => (await page.locator(`td[data-stat="${k}"]`).textContent())?.trim();
  const j = await (await request.get(
    `/api/v1/pair?x=ETHUSDT&y=BTCUSDT&timeframe=5s&bars=22&regression=ols&z_window=5&corr_window=5&to=${to}`,
  )).json();
  await expect(page.locator('td[data-stat="n"]')).toHaveText(String(j.report.n), { timeout: 15_000 });
  expect(await stat('beta')).toBe(j.report.regression.beta.toFixed(6));
  expect(await stat('alpha')).toBe(j.report.regression.alpha.toFixed(6));
  // The ACF chart draws the API's autocorrelations, lag 1 on.
  const acf = await page.getByTestId('acf-chart').locator('rect').evaluateAll(
    (bars) => bars.map((b) => Number(b.getAttribute('data-acf'))));
  expect(j.report.diagnostics.acf.length).toBeGreaterThan(1);
  expect(acf).toEqual(j.report.diagnostics.acf.slice(1));
  // What the signal costs, from the simulated market's book and funding:
  // the same figures as the API, formatted as the page does (bp()).
  const bp = (v: number) => {
    const a = Math.abs(v);
    return a >= 10 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : a >= 0.1 ? v.toFixed(2) : v.toFixed(3);
  };
  expect(j.cost, 'the pair view carries the cost of the newest book').toBeTruthy();
  const quoted = (l: { bid: number; ask: number }) => ((l.ask - l.bid) / ((l.ask + l.bid) / 2)) * 1e4;
  expect(await stat('round_trip_bp')).toBe(bp(j.cost.round_trip_bp));
  expect(await stat('quoted_y')).toBe(bp(quoted(j.cost.y)));
  expect(await stat('quoted_x')).toBe(bp(quoted(j.cost.x)));
  const side = j.signal === 'long-spread' ? j.cost.long : j.cost.short;
  expect(side.funding_bp_8h, 'the simulated market streams funding').not.toBeNull();
  expect(await stat('funding_8h')).toBe(bp(side.funding_bp_8h));
  expect(await stat('funding_y')).toBe(bp(j.cost.y.funding_8h * 1e4));
  expect(await stat('funding_x')).toBe(bp(j.cost.x.funding_8h * 1e4));
  expect(j.cost.short.spread).toBeLessThan(j.cost.spread_mid);
  expect(j.cost.long.spread).toBeGreaterThan(j.cost.spread_mid);
  // The executable band is drawn around the spread where both legs were quoted.
  expect(j.band.filter((b: unknown) => b !== null).length).toBeGreaterThan(0);
  await expect(page.locator('canvas[data-testid="chart-spread"]'))
    .toHaveAttribute('data-lines', /short receives,long pays/);
  // The download is the same view, one CSV row per bar.
  const href = (await page.getByTestId('download-pair').getAttribute('href'))!;
  expect(href).toContain('x=ETHUSDT&y=BTCUSDT&timeframe=5s&bars=22');
  const csv = await (await request.get(href)).text();
  const rows = csv.trim().split('\n');
  expect(rows[0]).toBe('ts_iso,ts_ms,ETHUSDT_close,BTCUSDT_close,alpha,beta,spread,zscore,correlation,equity');
  expect(rows.length).toBe(j.ts.length + 1);
  expect(Number(rows[rows.length - 1].split(',')[5]).toFixed(6)).toBe(j.report.regression.beta.toFixed(6));
  // Back to the live tail.
  await page.getByTestId('back-to-live').click();
  await expect(page).not.toHaveURL(/to=/);
});

test('the backtest blotter and figures on the page agree with the API', async ({ page, request }) => {
  await open(page);
  await expect.poll(() => storedTicks(page), { timeout: 40_000 }).toBeGreaterThan(2000);
  const to = Math.floor(Date.now() / 1000) * 1000 - 2000;
  await open(page, `/?x=BTCUSDT&y=ETHUSDT&tf=1s&bars=60&reg=ols&window=10&zw=5&entry=1&exit=0.2&fee=2&to=${to}`);
  const net = page.locator('td[data-stat="bt_pnl"]');
  await expect(net).not.toHaveText('–', { timeout: 15_000 });
  const api = await request.get(
    `/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=60&regression=ols&window=10&z_window=5&entry=1&exit=0.2&fee_bps=2&corr_window=5&to=${to}`,
  );
  expect(api.status()).toBe(200);
  const bt = (await api.json()).backtest;
  expect(bt).toBeTruthy();
  expect((await net.textContent())?.trim()).toBe(bt.summary.net.toFixed(2));
  const rows = page.getByTestId('blotter').locator('tbody tr');
  await expect(rows).toHaveCount(Math.min(bt.trades.length, 100));
  await expect(page.getByTestId('blotter').locator('caption')).toContainText(`Backtest trades: ${bt.summary.trades} (`);
  // Newest first: the first row is the API's last trade, to the cent.
  if (bt.trades.length > 0) {
    const last = bt.trades[bt.trades.length - 1];
    await expect(rows.first()).toHaveAttribute('data-entry-ts', String(last.entry_ts));
    const cell = rows.first().locator('td[data-net]');
    expect(Number(await cell.getAttribute('data-net'))).toBeCloseTo(last.net, 9);
  }
  // Entry and exit markers on the z chart sit on the API's fill bars;
  // the equity chart is shaded over the API's drawdown spans.
  const body = await api.json();
  const want: string[] = [];
  for (const t of bt.trades) {
    if (body.report.zscore[t.entry_bar] !== null) want.push(`${body.ts[t.entry_bar]}:${t.side}`);
    if (t.exit_bar !== null && body.report.zscore[t.exit_bar] !== null) want.push(`${body.ts[t.exit_bar]}:exit`);
  }
  await expect(page.getByTestId('chart-z')).toHaveAttribute('data-marks', want.join(','));
  const spans: string[] = [];
  let start: number | null = null;
  bt.drawdown.forEach((d: number, i: number) => {
    if (start === null && d > 0) start = body.ts[i];
    else if (start !== null && !(d > 0)) { spans.push(`${start}-${body.ts[i]}`); start = null; }
  });
  if (start !== null) spans.push(`${start}-${body.ts[body.ts.length - 1]}`);
  await expect(page.getByTestId('chart-equity')).toHaveAttribute('data-spans', spans.join(','));
});

test('paper trading started from the page trades on the server and the panel agrees with the API', async ({ page, request }) => {
  await open(page);
  await expect.poll(() => storedTicks(page), { timeout: 40_000 }).toBeGreaterThan(2000);
  // A live view with a quick rule, so it trades within seconds.
  await open(page, '/?x=BTCUSDT&y=ETHUSDT&tf=1s&bars=120&reg=ols&window=10&zw=5&entry=0.5&exit=0.1&fee=2');
  const start = page.getByTestId('paper-start');
  await expect(start).toBeEnabled({ timeout: 15_000 });
  await start.click();
  await expect(page.getByTestId('paper-message')).toContainText('started', { timeout: 10_000 });
  const list = await (await request.get('/api/v1/paper')).json();
  const id = list.sessions[list.sessions.length - 1].session.id;
  const row = page.locator(`tr[data-session="${id}"]`);
  await expect(row).toBeVisible();
  // It fills on the server; the push brings the fills to the panel.
  await expect.poll(async () => (await (await request.get(`/api/v1/paper/${id}`)).json()).ledger.fills,
    { timeout: 60_000 }).toBeGreaterThan(0);
  await expect.poll(async () => {
    const b = await (await request.get(`/api/v1/paper/${id}`)).json();
    const fills = await row.getAttribute('data-fills');
    const realized = Number(await row.locator('td[data-realized]').getAttribute('data-realized'));
    return fills === String(b.ledger.fills) && Math.abs(realized - b.ledger.realized) < 1e-9;
  }, { timeout: 15_000 }).toBe(true);
  await expect(page.getByTestId('paper-fills').locator(`tr[data-fill-session="${id}"]`).first()).toBeVisible();
  // Stop: flattened, then stopped, on the page and in the API.
  await page.getByTestId(`paper-stop-${id}`).click();
  await expect.poll(async () => (await (await request.get(`/api/v1/paper/${id}`)).json()).session.status,
    { timeout: 20_000 }).toBe('stopped');
  const b = await (await request.get(`/api/v1/paper/${id}`)).json();
  expect(b.ledger.side).toBeNull();
  await expect(row).toHaveAttribute('data-side', 'flat', { timeout: 10_000 });
  await expect(row).toContainText('stopped');
});
