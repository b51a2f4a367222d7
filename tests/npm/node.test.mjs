// The packed npm tarball in Node.js: `npm pack`, installed into a temporary project, scores
// fixture models from disk (and from in-memory files) on the CPU path equal to the native CLI;
// the hand-written TypeScript declarations type-check a usage example.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './server.mjs';
import { assertClose, cliScores, DOCS, QUERY } from './helpers.mjs';

let project;
before(() => {
  project = mkdtempSync(join(tmpdir(), 'rankmamba-npm-'));
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], { cwd: join(ROOT, 'pkg'), encoding: 'utf8' });
  const tgz = join(project, out.trim().split('\n').at(-1));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--silent', '--no-audit', '--no-fund', tgz], { cwd: project, stdio: 'inherit' });
});
after(() => rmSync(project, { recursive: true, force: true }));

function run(script) {
  writeFileSync(join(project, 'run.mjs'), script);
  return JSON.parse(execFileSync('node', ['run.mjs'], { cwd: project, encoding: 'utf8' }));
}

test('the tarball holds the module, the wasm and the declarations', () => {
  const files = readdirSync(join(project, 'node_modules/rankmamba'), { recursive: true });
  for (const f of ['index.js', 'index.d.ts', 'worker.js', 'worker-entry.js', 'wasm/rankmamba.js', 'wasm/rankmamba_bg.wasm', 'README.md']) {
    assert.ok(files.includes(f), `${f} missing from the package (${files.join(', ')})`);
  }
});

for (const fixture of ['tiny-hf', 'tiny-bert', 'tiny-rankmamba']) {
  test(`scores ${fixture} from a directory like the CLI`, () => {
    const dir = join(ROOT, 'tests/fixtures', fixture);
    const out = run(`
      import { Reranker, sigmoid } from 'rankmamba';
      const r = await Reranker.load(${JSON.stringify(dir)});
      const scores = await r.score(${JSON.stringify(QUERY)}, ${JSON.stringify(DOCS)});
      const ranked = await r.rank(${JSON.stringify(QUERY)}, ${JSON.stringify(DOCS)}, { topK: 2 });
      console.log(JSON.stringify({ scores, ranked, device: r.info.device, p: sigmoid(0) }));
    `);
    assertClose(out.scores, cliScores(fixture, QUERY, DOCS));
    assert.equal(out.device, 'cpu');
    assert.equal(out.p, 0.5);
    assert.equal(out.ranked[0].score, Math.max(...out.scores));
  });
}

test('in-memory files and a missing directory', () => {
  const dir = join(ROOT, 'tests/fixtures/tiny-hf');
  const out = run(`
    import { readFile } from 'node:fs/promises';
    import { Reranker } from 'rankmamba';
    const files = {};
    for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) files[f] = await readFile(${JSON.stringify(dir)} + '/' + f);
    const r = await Reranker.load(files);
    const scores = await r.score('q', ['a', 'b']);
    let missing;
    try { await Reranker.load('/nonexistent/model'); } catch (e) { missing = e.message; }
    console.log(JSON.stringify({ scores, missing }));
  `);
  assertClose(out.scores, cliScores('tiny-hf', 'q', ['a', 'b']));
  assert.match(out.missing, /\/nonexistent\/model\/config\.json: file not found/);
});

test('the TypeScript declarations check a usage example', () => {
  writeFileSync(join(project, 'check.ts'), `
    import { Reranker, sigmoid, type Ranked, type RerankerInfo } from 'rankmamba';
    import { RerankerWorker } from 'rankmamba/worker';
    async function main(): Promise<void> {
      const ac = new AbortController();
      const r = await Reranker.load('owner/model', { device: 'auto', signal: ac.signal, onProgress: (p) => console.log(p.file, p.loaded / p.total) });
      const info: RerankerInfo = r.info;
      const ranked: Ranked[] = await r.rank('q', ['a', 'b'], { topK: 1, returnDocuments: true });
      const probs: number[] = sigmoid(await r.score('q', ['a']));
      const w = await RerankerWorker.load('owner/model');
      console.log(info.device, ranked[0].document, probs, await w.score('q', ['a']));
      r.dispose();
      w.terminate();
    }
    void main();
  `);
  execFileSync(join(ROOT, 'tools/node_modules/.bin/tsc'), ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', 'check.ts'], { cwd: project, stdio: 'inherit' });
});
