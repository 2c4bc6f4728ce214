import { test, expect, Page } from '@playwright/test';

async function hydrated(page: Page) {
  await page.goto('/');
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
}

async function storedTicks(page: Page): Promise<number> {
  const txt = await page.getByTestId('ticks-stored').first().textContent();
  return Number(txt);
}

test('the page hydrates and says the data is simulated', async ({ page }) => {
  await hydrated(page);
  await expect(page.getByText('SIMULATED MARKET')).toBeVisible();
  await expect(page.getByTestId('source')).toHaveText('sim');
});

test('the price chart is live: canvas drawn and stored ticks rising', async ({ page }) => {
  await hydrated(page);
  await expect.poll(() => storedTicks(page), { timeout: 15_000 }).toBeGreaterThan(0);
  const first = await storedTicks(page);

  // The canvas has drawn a line: count pixels that differ from the background.
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          const c = document.querySelector('canvas[data-testid="price-chart"]') as HTMLCanvasElement | null;
          if (!c || c.width === 0) return 0;
          const ctx = c.getContext('2d')!;
          const d = ctx.getImageData(0, 0, c.width, c.height).data;
          const [r0, g0, b0] = [d[0], d[1], d[2]];
          let n = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (Math.abs(d[i] - r0) + Math.abs(d[i + 1] - g0) + Math.abs(d[i + 2] - b0) > 60) n++;
          }
          return n;
        }),
      { timeout: 20_000 },
    )
    .toBeGreaterThan(200);

  await expect.poll(() => storedTicks(page), { timeout: 15_000 }).toBeGreaterThan(first + 20);
  await page.screenshot({ path: '../docs/screenshot.png' });
});

test('changing the timeframe keeps the chart drawing', async ({ page }) => {
  await hydrated(page);
  await page.getByTestId('timeframe').selectOption('5s');
  await expect(page.getByTestId('last-BTCUSDT')).not.toHaveText('–', { timeout: 15_000 });
});
