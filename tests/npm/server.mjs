// A local HTTP server for the npm package's tests: the demo's static files (pkg/, web/,
// models/, as web/serve.mjs serves them), tiny fixture models in the Hugging Face hub's
// `/{id}/resolve/{revision}/{file}` layout, and broken models for the error paths. Counts
// requests per path.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { ROOT, send, serveStatic } from '../../web/serve.mjs';

export { ROOT };
const FIX = join(ROOT, 'tests/fixtures');

/** Hub ids served under /hub/ → fixture directory and how to alter it. */
export const MODELS = {
  'test/tiny-mamba': { dir: 'tiny-hf' },
  'test/tiny-bert': { dir: 'tiny-bert' },
  'test/sharded-mamba': { dir: 'tiny-rankmamba' },
  'test/slow-mamba': { dir: 'tiny-hf', slow: 'model.safetensors' },
  'test/truncated': { dir: 'tiny-hf', truncate: 'model.safetensors' },
  'test/missing-weights': { dir: 'tiny-hf', hide: ['model.safetensors'] },
  'test/mismatch': { dir: 'tiny-hf', config: (c) => ({ ...c, hidden_size: c.hidden_size + 8, d_model: undefined }) },
};

export async function startServer({ port = 0 } = {}) {
  const counts = new Map();
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    counts.set(path, (counts.get(path) ?? 0) + 1);
    try {
      const hub = path.match(/^\/hub\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/([^/]+)$/);
      if (hub) return await serveModel(res, hub[1], hub[3]);
      if (path === '/blank.html') return send(res, 200, '<!doctype html><meta charset="utf-8"><title>rankmamba test</title>', '.html');
      if (await serveStatic(res, path, { extra: ['assets'] })) return;
      return send(res, 404, 'not found', '.txt');
    } catch (e) {
      return send(res, 500, String(e), '.txt');
    }
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    hub: `${url}/hub`,
    counts,
    /** Requests for one file of a hub model so far. */
    count: (id, file) => counts.get(`/hub/${id}/resolve/main/${file}`) ?? 0,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

async function serveModel(res, id, file) {
  const m = MODELS[id];
  const path = m && join(FIX, m.dir, file);
  if (!m || m.hide?.includes(file) || !existsSync(path)) return send(res, 404, 'Entry not found', '.txt');
  let body = await readFile(path);
  if (file === 'config.json' && m.config) body = Buffer.from(JSON.stringify(m.config(JSON.parse(body))));
  if (file === m.truncate) body = body.subarray(0, Math.floor(body.length / 2));
  if (file !== m.slow) return send(res, 200, body, extname(file));
  // slow: 1 KiB every 50 ms, so a test can abort mid-download
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  for (let o = 0; o < body.length && !res.destroyed; o += 1024) {
    res.write(body.subarray(o, o + 1024));
    await new Promise((r) => setTimeout(r, 50));
  }
  res.end();
}

// `node tests/npm/server.mjs [port]`: serve for manual testing (e.g. the demo page).
if (import.meta.url === `file://${process.argv[1]}`) {
  const s = await startServer({ port: Number(process.argv[2] ?? 8765) });
  console.log(`serving ${ROOT} and test models at ${s.url} (hub: ${s.hub})`);
}
