// The demo page (web/) in headless Chromium: the sample query on the default model gives the
// same order and scores as the npm package, side-by-side mode shows both models and their
// agreement, and each error path says what is wrong. Screenshots (laptop and phone widths) go
// to tests/npm/artifacts/ (or $RANKMAMBA_ARTIFACTS).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startServer } from './server.mjs';
import { launchChromium, openPage } from './helpers.mjs';

const ARTIFACTS = process.env.RANKMAMBA_ARTIFACTS ?? join(ROOT, 'tests/npm/artifacts');
const SAMPLE = JSON.parse(readFileSync(join(ROOT, 'web/samples/boolq.json'), 'utf8')).samples[0];
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

let server, browser;
before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startServer();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function demo({ init, query = '' } = {}) {
  const page = await openPage(browser.context, `${server.url}/web/?hub=${encodeURIComponent(server.hub)}${query}`, init);
  await page.setViewportSize(LAPTOP);
  await page.waitForSelector('body[data-ready="1"]');
  return page;
}

const shot = (page, name, fullPage = true) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });

/** The ranked list of result card `n`: [{ index, score }]. */
const rankedList = (page, n = 0) =>
  page.$$eval(`.run:nth-child(${n + 1}) ol.ranked li`, (lis) => lis.map((li) => ({ index: Number(li.dataset.index), score: Number(li.dataset.score) })));

/** The npm package's ranking of the sample on `model` (a bundled model folder), in the page. */
const packageRanking = (page, model, device = 'auto') =>
  page.evaluate(async ({ model, device, query, docs }) => {
    const { Reranker } = await import('/pkg/index.js');
    const r = await Reranker.load(new URL(`/models/${model}/`, location.href).href, { device });
    const ranked = await r.rank(query, docs);
    r.dispose();
    return ranked;
  }, { model, device, query: SAMPLE.query, docs: SAMPLE.documents });

function sameRanking(got, want) {
  assert.deepEqual(got.map((r) => r.index), want.map((r) => r.index), 'order');
  got.forEach((g, i) => assert.ok(Math.abs(g.score - want[i].score) <= 1e-5 * Math.max(1, Math.abs(want[i].score)), `score ${i}: ${g.score} vs ${want[i].score}`));
}

test('the sample query on the default model ranks as the npm package does; side by side', async () => {
  const page = await demo();
  await shot(page, 'laptop-start', false);
  await page.selectOption('#sample', '0');
  assert.equal(await page.inputValue('#query'), SAMPLE.query);
  await page.click('#run');
  await page.waitForSelector('.run ol.ranked li', { timeout: 120000 });
  const got = await rankedList(page);
  assert.equal(got.length, SAMPLE.documents.length);
  sameRanking(got, await packageRanking(page, 'boolq-mamba'));
  const relevantRow = await page.$eval('li.relevant .orig', (e) => e.textContent);
  assert.match(relevantRow, new RegExp(`was #${SAMPLE.relevant + 1} · relevant`));
  const meta = await page.textContent('.run .timings');
  assert.match(meta, /load \d+ ms · tokenize [\d.]+ ms · score \d+ ms · \d+ docs\/s/);
  assert.match(await page.textContent('.run .badge'), /WebGPU/);
  await shot(page, 'laptop-ranked');

  await page.check('#side-by-side');
  await page.click('#run');
  await page.waitForFunction(() => document.querySelectorAll('.run').length === 2 && document.getElementById('tau'), null, { timeout: 120000 });
  const left = await rankedList(page, 0);
  const right = await rankedList(page, 1);
  sameRanking(left, await packageRanking(page, 'boolq-mamba'));
  sameRanking(right, await packageRanking(page, 'boolq-bert'));
  // Kendall tau from the two lists, as the page should compute it
  const a = [], b = [];
  left.forEach((r) => (a[r.index] = r.score));
  right.forEach((r) => (b[r.index] = r.score));
  let c = 0, d = 0;
  for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) Math.sign(a[i] - a[j]) * Math.sign(b[i] - b[j]) > 0 ? c++ : d++;
  assert.equal(await page.textContent('#tau'), ((c - d) / (c + d)).toFixed(3));
  assert.match(await page.textContent('#agreement'), /docs\/s vs .* docs\/s/);
  await shot(page, 'laptop-side-by-side');
  await page.setViewportSize(PHONE);
  await shot(page, 'phone-side-by-side');
  await page.close();
});

test('error paths: empty input, a model that fails to load, cancel', async () => {
  const page = await demo();
  await page.click('#run');
  assert.match(await page.textContent('.message.error'), /Enter a query/);
  await page.fill('#query', 'a question');
  await page.click('#run');
  assert.match(await page.textContent('.message.error'), /Add at least one document/);
  await page.fill('#docs', 'one passage\nanother passage');

  await page.selectOption('#model', 'custom');
  await page.fill('#custom-model', 'test/missing-weights');
  await page.click('#run');
  await page.waitForSelector('.message.error', { timeout: 60000 });
  const msg = await page.textContent('.message.error');
  assert.match(msg, /Could not load test\/missing-weights: .*test\/missing-weights\/resolve\/main\/model\.safetensors: not found/);
  await page.setViewportSize(PHONE);
  await shot(page, 'phone-load-error');
  await page.setViewportSize(LAPTOP);

  await page.fill('#custom-model', 'test/slow-mamba');
  await page.click('#run');
  await page.waitForFunction(() => /model\.safetensors/.test(document.getElementById('progress-label').textContent), null, { timeout: 60000 });
  assert.match(await page.textContent('#progress-bytes'), /[\d.]+ [kM]B \/ [\d.]+ MB/);
  await shot(page, 'laptop-loading', false);
  await page.click('#cancel');
  await page.waitForSelector('.message.info');
  assert.match(await page.textContent('.message.info'), /Cancelled/);
  assert.equal(await page.isEnabled('#run'), true);

  await page.selectOption('#model', 'mamba');
  await page.click('#run');
  await page.waitForSelector('.run ol.ranked li', { timeout: 60000 });
  assert.equal((await rankedList(page)).length, 2);
  await page.close();
});

test('without WebGPU the page says so and ranks on the CPU', async () => {
  const init = () => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
  const page = await demo({ init });
  assert.match(await page.textContent('#gpu-status'), /no WebGPU: CPU fallback/);
  await page.selectOption('#sample', '0');
  await page.click('#run');
  await page.waitForSelector('.run ol.ranked li', { timeout: 120000 });
  assert.match(await page.textContent('.message.warning'), /WebGPU is not available/);
  assert.match(await page.textContent('.run .badge'), /CPU/);
  sameRanking(await rankedList(page), await packageRanking(page, 'boolq-mamba', 'cpu'));
  await page.setViewportSize(PHONE);
  await shot(page, 'phone-cpu-fallback');
  await page.close();
});
