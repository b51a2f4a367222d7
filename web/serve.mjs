// Serve the demo page: `node web/serve.mjs [port]` (default 8080, 127.0.0.1 only), then open
// http://127.0.0.1:8080/. Static files from web/, the npm package (pkg/) and the bundled
// models (models/); nothing else of the repository. The tests reuse `serveStatic`.

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';

export const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SERVED = ['web', 'pkg', 'models'];
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.txt': 'text/plain; charset=utf-8', '.jsonl': 'application/jsonl', '.png': 'image/png', '.svg': 'image/svg+xml', '.safetensors': 'application/octet-stream' };

export function send(res, status, body, ext, headers = {}) {
  res.writeHead(status, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache', ...headers });
  res.end(body);
}

/** Answer `path` from the served folders (`/` is the demo page); false if it is not one of them. */
export async function serveStatic(res, path, { extra = [] } = {}) {
  if (path === '/') {
    res.writeHead(302, { location: '/web/' });
    res.end();
    return true;
  }
  let file = normalize(join(ROOT, path));
  if (![...SERVED, ...extra].some((d) => file === join(ROOT, d) || file.startsWith(join(ROOT, d) + sep))) return false;
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    send(res, 200, await readFile(file), extname(file));
  } catch {
    send(res, 404, 'not found', '.txt');
  }
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 8080);
  createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (!(await serveStatic(res, path))) send(res, 404, 'not found', '.txt');
  }).listen(port, '127.0.0.1', () => console.log(`rankmamba demo: http://127.0.0.1:${port}/  (Ctrl-C stops)`));
}
