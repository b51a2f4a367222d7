// Benchmarks of the npm package (BENCHMARKS.md §4): wasm size, time to first score (cold:
// fresh browser profile; warm: files from the Cache API) and scoring 100 documents with the
// bundled fixture model, in headless Chromium (WebGPU on SwiftShader, and the CPU path) and in
// Node.js; the native CLI's CPU scoring of the same pairs in the same run for a ratio.
// Run: node scripts/bench-npm.mjs   (after scripts/build-pkg.sh and a native release build)

import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, startServer } from '../tests/npm/server.mjs';
import { CLI, DOCS, launchChromium, openPage, QUERY } from '../tests/npm/helpers.mjs';

const ID = 'test/tiny-mamba';
const FIXTURE = join(ROOT, 'tests/fixtures/tiny-hf');
const docs100 = Array.from({ length: 100 }, (_, i) => DOCS[i % DOCS.length]);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];

const wasm = readFileSync(join(ROOT, 'pkg/wasm/rankmamba_bg.wasm'));
const glue = readFileSync(join(ROOT, 'pkg/wasm/rankmamba.js'));
rows.push(['wasm size', `${(wasm.length / 1e6).toFixed(2)} MB raw, ${(gzipSync(wasm, { level: 9 }).length / 1e6).toFixed(2)} MB gzip -9 (+ JS glue ${(glue.length / 1e3).toFixed(0)} KB)`]);

async function pageRun(context, server, device) {
  const page = await openPage(context, `${server.url}/blank.html`);
  const r = await page.evaluate(async ({ hub, id, device, query, docs }) => {
    const t0 = performance.now();
    const { Reranker } = await import('/pkg/index.js');
    const r = await Reranker.load(id, { hubUrl: hub, device });
    await r.score(query, [docs[0]]);
    const first = performance.now() - t0;
    const times = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await r.score(query, docs);
      times.push(performance.now() - t);
    }
    const info = r.info;
    r.dispose();
    return { first, times, device: info.device, adapter: info.adapter?.name, cached: info.filesFromCache.length };
  }, { hub: server.hub, id: ID, device, query: QUERY, docs: docs100 });
  await page.close();
  return r;
}

const server = await startServer();
for (const device of ['webgpu', 'cpu']) {
  const browser = await launchChromium();
  const cold = await pageRun(browser.context, server, device);
  const warm = await pageRun(browser.context, server, device);
  await browser.close();
  rows.push([`Chromium ${device} (${cold.adapter ?? 'wasm'}): first score, cold`, `${cold.first.toFixed(0)} ms`]);
  rows.push([`Chromium ${device}: first score, warm cache (${warm.cached} files from the Cache API)`, `${warm.first.toFixed(0)} ms`]);
  rows.push([`Chromium ${device}: 100 docs`, `${median(warm.times).toFixed(0)} ms (median of 3; ${(100000 / median(warm.times)).toFixed(0)} docs/s)`]);
}
await server.close();

const node = JSON.parse(execFileSync('node', ['--input-type=module', '-e', `
  const t0 = performance.now();
  const { Reranker } = await import(${JSON.stringify(join(ROOT, 'pkg/index.js'))});
  const r = await Reranker.load(${JSON.stringify(FIXTURE)});
  await r.score(${JSON.stringify(QUERY)}, [${JSON.stringify(DOCS[0])}]);
  const first = performance.now() - t0;
  const docs = ${JSON.stringify(docs100)};
  const times = [];
  for (let i = 0; i < 3; i++) { const t = performance.now(); await r.score(${JSON.stringify(QUERY)}, docs); times.push(performance.now() - t); }
  console.log(JSON.stringify({ first, times }));
`], { encoding: 'utf8' }));
rows.push(['Node.js (wasm, CPU): first score (process start excluded)', `${node.first.toFixed(0)} ms`]);
rows.push(['Node.js (wasm, CPU): 100 docs', `${median(node.times).toFixed(0)} ms (median of 3)`]);

// the native CLI on the same pairs (process start and model load included)
const input = docs100.map((document) => JSON.stringify({ query: QUERY, document })).join('\n');
const native = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  const r = spawnSync(CLI, ['score', '--model', FIXTURE, '--input', '-'], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  native.push(performance.now() - t);
}
rows.push(['native CLI (CPU): 100 docs incl. process start and load', `${median(native).toFixed(0)} ms (median of 3); Node wasm / native = ${(median(node.times) / median(native)).toFixed(2)}`]);

console.log('| measurement | result |\n|---|---|');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
