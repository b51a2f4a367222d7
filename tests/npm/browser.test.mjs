// The npm package in headless Chromium (WebGPU on SwiftShader), loading tiny fixture models
// from a local server in the hub's resolve/main layout: scores equal the native CLI's, the
// second load comes from the Cache API, abort, the error paths, the CPU fallback, the worker.
// Run: node --test tests/npm/ (scripts/test-npm.sh builds the package first).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { assertClose, cliScores, DOCS, launchChromium, openPage, QUERY } from './helpers.mjs';

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** Load `id` from the test hub in a fresh page and score; errors come back as values. */
async function loadAndScore(id, options = {}, { init, docs = DOCS, page } = {}) {
  const p = page ?? (await openPage(browser.context, `${server.url}/blank.html`, init));
  const out = await p.evaluate(
    async ({ hub, id, options, query, docs }) => {
      const { Reranker } = await import('/pkg/index.js');
      try {
        const r = await Reranker.load(id, { hubUrl: hub, ...options });
        const scores = await r.score(query, docs);
        const ranked = await r.rank(query, docs, { topK: 3, returnDocuments: true });
        const info = r.info;
        r.dispose();
        return { scores, ranked, info };
      } catch (e) {
        return { error: { name: e.name, message: e.message, file: e.file } };
      }
    },
    { hub: server.hub, id, options, query: QUERY, docs },
  );
  if (!page) await p.close();
  out.log = p.log;
  return out;
}

describe('scores equal the native CLI', () => {
  for (const [id, fixture, device] of [
    ['test/tiny-mamba', 'tiny-hf', 'webgpu'],
    ['test/tiny-bert', 'tiny-bert', 'webgpu'],
    ['test/sharded-mamba', 'tiny-rankmamba', 'webgpu'],
    ['test/tiny-mamba', 'tiny-hf', 'cpu'],
    ['test/tiny-bert', 'tiny-bert', 'cpu'],
  ]) {
    test(`${id} on ${device}`, async () => {
      const out = await loadAndScore(id, { device, cache: false });
      assert.equal(out.error, undefined, `${JSON.stringify(out.error)}\n${out.log.join('\n')}`);
      assertClose(out.scores, cliScores(fixture, QUERY, DOCS));
      assert.equal(out.info.device, device);
      if (device === 'webgpu') assert.ok(out.info.adapter.maxStorageBufferBindingSize > 128 * 2 ** 20, 'adapter limits, not the defaults');
      const best = out.scores.indexOf(Math.max(...out.scores));
      assert.equal(out.ranked[0].index, best);
      assert.equal(out.ranked[0].document, DOCS[best]);
      assert.equal(out.ranked.length, 3);
    });
  }

  test('without navigator.gpu, auto falls back to the CPU and says so', async () => {
    const init = () => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
    const out = await loadAndScore('test/tiny-mamba', { cache: false }, { init });
    assert.equal(out.error, undefined, JSON.stringify(out.error));
    assert.equal(out.info.device, 'cpu');
    assert.match(out.info.warnings.join('\n'), /WebGPU is not available/);
    assertClose(out.scores, cliScores('tiny-hf', QUERY, DOCS));
  });
});

test('the second load is served from the Cache API', async () => {
  const id = 'test/tiny-mamba';
  const files = ['config.json', 'tokenizer.json', 'model.safetensors'];
  const before = files.map((f) => server.count(id, f));
  const first = await loadAndScore(id);
  assert.equal(first.error, undefined, JSON.stringify(first.error));
  assert.deepEqual(files.map((f) => server.count(id, f) - before[files.indexOf(f)]), [1, 1, 1]);
  const second = await loadAndScore(id);
  assert.deepEqual(files.map((f) => server.count(id, f) - before[files.indexOf(f)]), [1, 1, 1], 'no new requests');
  assert.deepEqual(second.info.filesFromCache.sort(), [...files].sort());
  assert.deepEqual(second.scores, first.scores);
  await loadAndScore(id, { cache: false });
  assert.equal(server.count(id, 'model.safetensors') - before[2], 2, 'cache: false downloads again');
});

test('abort mid-download rejects with AbortError and leaves the page usable', async () => {
  const page = await openPage(browser.context, `${server.url}/blank.html`);
  const out = await page.evaluate(async ({ hub }) => {
    const { Reranker } = await import('/pkg/index.js');
    const ac = new AbortController();
    const seen = [];
    let error;
    try {
      await Reranker.load('test/slow-mamba', {
        hubUrl: hub,
        cache: false,
        signal: ac.signal,
        onProgress: (p) => {
          seen.push(p);
          if (p.file === 'model.safetensors' && p.status === 'progress' && p.fileLoaded >= 4096) ac.abort();
        },
      });
    } catch (e) {
      error = { name: e.name, message: e.message };
    }
    const last = seen.filter((p) => p.file === 'model.safetensors').at(-1);
    const r = await Reranker.load('test/tiny-mamba', { hubUrl: hub, cache: false });
    const scores = await r.score('a query', ['a document', 'another one']);
    return { error, last, scores };
  }, { hub: server.hub });
  await page.close();
  assert.equal(out.error?.name, 'AbortError', JSON.stringify(out.error));
  assert.ok(out.last.fileLoaded < out.last.fileTotal, 'aborted before the end');
  assert.equal(out.scores.length, 2);
});

test('scoring can be aborted between batches', async () => {
  const page = await openPage(browser.context, `${server.url}/blank.html`);
  const out = await page.evaluate(async ({ hub, docs }) => {
    const { Reranker } = await import('/pkg/index.js');
    const r = await Reranker.load('test/tiny-mamba', { hubUrl: hub, cache: false });
    const ac = new AbortController();
    let done = 0;
    try {
      await r.score('q', docs, { batchSize: 1, signal: ac.signal, onProgress: (p) => { done = p.done; if (p.done === 2) ac.abort(); } });
      return { done };
    } catch (e) {
      const again = await r.score('q', docs.slice(0, 2));
      return { name: e.name, done, again };
    }
  }, { hub: server.hub, docs: DOCS });
  await page.close();
  assert.equal(out.name, 'AbortError');
  assert.equal(out.done, 2);
  assert.equal(out.again.length, 2);
});

describe('bad checkpoints reject with a clear error', () => {
  test('a truncated model.safetensors', async () => {
    const out = await loadAndScore('test/truncated', { cache: false });
    assert.match(out.error?.message ?? '', /test\/truncated\/resolve\/main\/model\.safetensors: not a valid safetensors file/);
  });
  test('a 404', async () => {
    const out = await loadAndScore('test/no-such-model', { cache: false });
    assert.match(out.error?.message ?? '', /no-such-model\/resolve\/main\/config\.json: HTTP 404/);
    assert.equal(out.error.name, 'LoadError');
  });
  test('no weights at all', async () => {
    const out = await loadAndScore('test/missing-weights', { cache: false });
    assert.match(out.error?.message ?? '', /model\.safetensors: not found, and no model\.safetensors\.index\.json/);
  });
  test('config and weights that disagree', async () => {
    const out = await loadAndScore('test/mismatch', { cache: false });
    assert.match(out.error?.message ?? '', /config\.json.*hidden_size|hidden_size.*config\.json/);
  });
  test('bad arguments', async () => {
    const page = await openPage(browser.context, `${server.url}/blank.html`);
    const out = await page.evaluate(async ({ hub }) => {
      const { Reranker } = await import('/pkg/index.js');
      const r = await Reranker.load('test/tiny-mamba', { hubUrl: hub });
      const errs = [];
      for (const f of [() => r.score('', ['d']), () => r.score('q', 'not an array'), () => r.score('q', ['ok', 3]), () => Reranker.load('test/tiny-mamba', { hubUrl: hub, device: 'tpu' })]) {
        try { await f(); errs.push(null); } catch (e) { errs.push(e.message); }
      }
      return errs;
    }, { hub: server.hub });
    await page.close();
    assert.match(out[0], /the query is empty/);
    assert.match(out[1], /documents must be an array/);
    assert.match(out[2], /documents\[1\] is a number/);
    assert.match(out[3], /device "tpu"/);
  });
});

test('dispose frees one ranker without breaking another', async () => {
  const page = await openPage(browser.context, `${server.url}/blank.html`);
  const out = await page.evaluate(async ({ hub }) => {
    const { Reranker } = await import('/pkg/index.js');
    const a = await Reranker.load('test/tiny-mamba', { hubUrl: hub });
    const b = await Reranker.load('test/tiny-bert', { hubUrl: hub });
    const before = await b.score('q', ['d1', 'd2']);
    a.dispose();
    const after = await b.score('q', ['d1', 'd2']);
    let disposed;
    try { await a.score('q', ['d']); } catch (e) { disposed = e.message; }
    return { before, after, disposed };
  }, { hub: server.hub });
  await page.close();
  assert.deepEqual(out.after, out.before);
  assert.match(out.disposed, /disposed/);
});

test('RerankerWorker gives the same scores off the main thread', async () => {
  const page = await openPage(browser.context, `${server.url}/blank.html`);
  const out = await page.evaluate(async ({ hub, query, docs }) => {
    const { RerankerWorker } = await import('/pkg/worker.js');
    const events = [];
    const w = await RerankerWorker.load('test/tiny-mamba', { hubUrl: hub, onProgress: (p) => events.push(p.status) });
    const scores = await w.score(query, docs);
    const ranked = await w.rank(query, docs, { topK: 2 });
    const info = w.info;
    w.terminate();
    return { scores, ranked, device: info.device, events };
  }, { hub: server.hub, query: QUERY, docs: DOCS });
  await page.close();
  assertClose(out.scores, cliScores('tiny-hf', QUERY, DOCS));
  assert.equal(out.device, 'webgpu');
  assert.equal(out.ranked.length, 2);
  assert.ok(out.events.includes('ready'));
});
