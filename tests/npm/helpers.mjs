// Shared by the npm package tests: the native CLI's scores (the reference the package must
// match), a sample query and documents, and headless Chromium with WebGPU (SwiftShader).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './server.mjs';

const TARGET = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache/rankmamba/target');
export const CLI = join(TARGET, 'release/rankmamba');

export const QUERY = 'what makes mamba fast on long documents?';
export const DOCS = readFileSync(join(ROOT, 'assets/sample_docs.jsonl'), 'utf8')
  .split('\n').filter(Boolean).map((l) => JSON.parse(l).text);

/** Scores from `rankmamba score` on the CPU for the same model directory and pairs. */
export function cliScores(fixture, query, docs, extra = []) {
  const input = docs.map((document) => JSON.stringify({ query, document })).join('\n');
  const r = spawnSync(CLI, ['score', '--model', join(ROOT, 'tests/fixtures', fixture), '--input', '-', ...extra], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rankmamba score failed (${CLI}): ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l).score);
}

export function assertClose(got, want, tol = 1e-4, what = 'scores') {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  got.forEach((g, i) => {
    const err = Math.abs(g - want[i]) / Math.max(1, Math.abs(want[i]));
    if (!(err <= tol)) throw new Error(`${what}[${i}] = ${g}, expected ${want[i]} (relative error ${err})`);
  });
}

const ARGS = ['--no-sandbox', '--disable-dev-shm-usage', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** A persistent Chromium context (its own profile, so the Cache API persists across pages). */
export async function launchChromium() {
  const { chromium } = await import(join(ROOT, 'tools/node_modules/playwright-core/index.mjs'));
  const profile = mkdtempSync(join(tmpdir(), 'rankmamba-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/** A fresh page on `url` whose console errors are kept for failure messages. */
export async function openPage(context, url, init) {
  const page = await context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  if (init) await page.addInitScript(init);
  await page.goto(url);
  page.log = log;
  return page;
}
