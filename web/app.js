// The demo page: inputs → RerankerWorker (the model runs in a worker, so the page never blocks)
// → ranked lists, timings and, side by side, the agreement of two models.
// URL parameters: ?hub=URL (a hub mirror for model ids), ?model=ID (preselect a custom model).

import { RerankerWorker } from '../pkg/worker.js';

const params = new URLSearchParams(location.search);
const HUB = params.get('hub') ?? undefined;
const BUNDLED = {
  mamba: { label: 'Mamba reranker (bundled, BoolQ)', source: new URL('../models/boolq-mamba/', location.href).href },
  bert: { label: 'Attention baseline (bundled BERT, BoolQ)', source: new URL('../models/boolq-bert/', location.href).href },
};

const $ = (id) => document.getElementById(id);
const ui = {
  query: $('query'), docs: $('docs'), docCount: $('doc-count'), sample: $('sample'), file: $('file'), license: $('sample-license'),
  model: $('model'), custom: $('custom-model'), side: $('side-by-side'), run: $('run'), cancel: $('cancel'),
  messages: $('messages'), progress: $('progress'), progressLabel: $('progress-label'), progressBytes: $('progress-bytes'),
  progressBar: $('progress-bar'), results: $('results'), agreement: $('agreement'), empty: $('empty-state'), gpu: $('gpu-status'),
};

let samples = [];
let relevant = null; // index of the relevant passage when a sample is loaded unchanged
let running = null; // AbortController of the current run
const workers = new Map(); // source → Promise<RerankerWorker>

// --- inputs ----------------------------------------------------------------------------------

function documents() {
  return ui.docs.value.split('\n').map((d) => d.trim()).filter(Boolean);
}

function updateCount() {
  const n = documents().length;
  ui.docCount.textContent = `${n} document${n === 1 ? '' : 's'}`;
}

ui.docs.addEventListener('input', () => {
  relevant = null;
  updateCount();
});

async function loadSamples() {
  try {
    const data = await (await fetch('samples/boolq.json')).json();
    samples = data.samples;
    samples.forEach((s, i) => ui.sample.add(new Option(s.query, String(i))));
    ui.license.textContent = `Samples: ${data.source.split(';')[0]} — ${data.license}.`;
  } catch (e) {
    ui.license.textContent = `Sample questions could not be loaded (${e.message}).`;
  }
}

function useSample(i) {
  const s = samples[i];
  if (!s) return;
  ui.query.value = s.query;
  ui.docs.value = s.documents.join('\n');
  relevant = s.relevant;
  updateCount();
}

ui.sample.addEventListener('change', () => useSample(Number(ui.sample.value)));

ui.file.addEventListener('change', async () => {
  const f = ui.file.files[0];
  if (!f) return;
  const text = await f.text();
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  let docs = lines;
  if (/\.jsonl?$/i.test(f.name)) {
    try {
      docs = lines.map((l, n) => {
        const v = JSON.parse(l);
        const d = typeof v === 'string' ? v : v.text ?? v.document ?? v.passage ?? v.contents;
        if (typeof d !== 'string') throw new Error(`line ${n + 1}: no "text", "document", "passage" or "contents" field`);
        return d.replace(/\s*\n\s*/g, ' ');
      });
    } catch (e) {
      return showMessage('error', `${f.name}: ${e.message}`);
    }
  }
  ui.docs.value = docs.join('\n');
  relevant = null;
  updateCount();
  showMessage('info', `Loaded ${docs.length} documents from ${f.name}.`);
  ui.file.value = '';
});

ui.model.addEventListener('change', () => {
  ui.custom.hidden = ui.model.value !== 'custom';
  if (!ui.custom.hidden) ui.custom.focus();
});

// --- messages and progress --------------------------------------------------------------------

function showMessage(kind, text) {
  const p = document.createElement('p');
  p.className = `message ${kind}`;
  p.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  p.textContent = text;
  ui.messages.append(p);
  return p;
}

/** On narrow screens the output sits below the inputs: bring it into view. */
function reveal() {
  if (matchMedia('(max-width: 860px)').matches) document.querySelector('.output').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function clearMessages() {
  ui.messages.replaceChildren();
}

const mb = (b) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${Math.max(0, b / 1e3).toFixed(0)} kB`);

function onProgress(label) {
  return (p) => {
    ui.progress.hidden = false;
    if (p.status === 'loading') {
      ui.progressLabel.textContent = `${label}: building the model…`;
      ui.progressBar.removeAttribute('value');
      return;
    }
    if (p.status === 'ready') return;
    ui.progressLabel.textContent = `${label}: ${p.file}${p.fromCache ? ' (from cache)' : ''}`;
    ui.progressBytes.textContent = `${mb(p.loaded)} / ${mb(p.total)}`;
    ui.progressBar.value = p.total ? p.loaded / p.total : 0;
  };
}

function setBusy(busy, label = '') {
  ui.run.disabled = busy;
  ui.run.textContent = busy ? label || 'Working…' : 'Rerank';
  ui.cancel.hidden = !busy;
  document.body.classList.toggle('busy', busy);
  if (!busy) ui.progress.hidden = true;
}

// --- models ----------------------------------------------------------------------------------

function pickedModels() {
  const choice = ui.model.value;
  let main;
  if (choice === 'custom') {
    const s = ui.custom.value.trim();
    if (!s) throw new Error('Enter a Hugging Face model id (owner/name) or a URL for the custom model.');
    main = { label: s, source: s };
  } else {
    main = BUNDLED[choice];
  }
  if (!ui.side.checked) return [main];
  const left = choice === 'bert' ? BUNDLED.mamba : main;
  return [left, BUNDLED.bert];
}

async function getWorker(model, signal) {
  let p = workers.get(model.source);
  if (!p) {
    const t0 = performance.now();
    // the worker sees the same WebGPU as the page; deciding here keeps the badge and the run in step
    const device = navigator.gpu ? 'auto' : 'cpu';
    p = RerankerWorker.load(model.source, { hubUrl: HUB, device, signal, onProgress: onProgress(model.label) }).then((w) => {
      w.loadMs = performance.now() - t0;
      w.runs = 0;
      return w;
    });
    workers.set(model.source, p);
    p.catch(() => workers.delete(model.source));
  }
  return p;
}

function deviceLabel(info) {
  if (info.device === 'webgpu') return `WebGPU · ${info.adapter?.name || 'adapter'}`;
  return 'CPU (WebAssembly)';
}

// --- running ----------------------------------------------------------------------------------

async function run() {
  clearMessages();
  const query = ui.query.value.trim();
  const docs = documents();
  let problem = !query ? 'Enter a query first.' : docs.length === 0 ? 'Add at least one document: one per line, a sample, or a .txt/.jsonl file.' : null;
  let models;
  try {
    models = problem ? [] : pickedModels();
  } catch (e) {
    problem = e.message;
  }
  if (problem) {
    showMessage('error', problem);
    return reveal();
  }
  running = new AbortController();
  const { signal } = running;
  ui.empty.hidden = true;
  const runs = [];
  try {
    for (const model of models) {
      setBusy(true, `Loading ${model.label}…`);
      let worker;
      try {
        worker = await getWorker(model, signal);
      } catch (e) {
        if (e.name === 'AbortError') throw e;
        throw new Error(`Could not load ${model.label}: ${e.message}`);
      }
      noteDevice(worker.info);
      setBusy(true, `Scoring with ${model.label}…`);
      const ranked = await worker.rank(query, docs, { signal });
      runs.push({ model, info: worker.info, ranked, timings: worker.lastTimings, loadMs: worker.loadMs, first: worker.runs++ === 0 });
    }
    render(runs, docs);
  } catch (e) {
    if (e.name === 'AbortError') showMessage('info', 'Cancelled.');
    else showMessage('error', e.message);
  } finally {
    reveal();
    running = null;
    setBusy(false);
  }
}

ui.run.addEventListener('click', run);
ui.query.addEventListener('keydown', (e) => e.key === 'Enter' && !ui.run.disabled && run());
ui.cancel.addEventListener('click', () => running?.abort());

let notedCpu = false;
function noteDevice(info) {
  ui.gpu.textContent = deviceLabel(info);
  ui.gpu.className = `badge ${info.device}`;
  if (info.device === 'cpu' && !notedCpu) {
    notedCpu = true;
    showMessage('warning', 'WebGPU is not available in this browser, so the model runs on the CPU inside WebAssembly (slower, same scores).');
  }
}

// --- output -----------------------------------------------------------------------------------

function kendallTau(a, b) {
  // tau-b over all pairs of documents (ties in either list count as neither)
  let c = 0, d = 0, ta = 0, tb = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const x = Math.sign(a[i] - a[j]);
      const y = Math.sign(b[i] - b[j]);
      if (x === 0 && y === 0) continue;
      if (x === 0) ta++;
      else if (y === 0) tb++;
      else if (x === y) c++;
      else d++;
    }
  }
  const den = Math.sqrt((c + d + ta) * (c + d + tb));
  return den ? (c - d) / den : 1;
}

function render(runs, docs) {
  ui.empty.hidden = true;
  ui.results.replaceChildren(...runs.map((r) => renderRun(r, docs)));
  ui.results.classList.toggle('two', runs.length === 2);
  if (runs.length === 2) {
    const scores = runs.map((r) => {
      const s = new Array(docs.length);
      for (const x of r.ranked) s[x.index] = x.score;
      return s;
    });
    const tau = kendallTau(scores[0], scores[1]);
    const sameTop = runs[0].ranked[0].index === runs[1].ranked[0].index;
    const speed = runs.map((r) => docs.length / (r.timings.scoreMs / 1000));
    ui.agreement.hidden = false;
    ui.agreement.innerHTML = '';
    const h = document.createElement('p');
    h.innerHTML = `<b>Agreement</b>: Kendall τ = <span id="tau">${tau.toFixed(3)}</span> · top-1 ${sameTop ? 'identical' : 'differs'} · speed ${runs[0].model.label} ${speed[0].toFixed(0)} docs/s vs ${runs[1].model.label} ${speed[1].toFixed(0)} docs/s`;
    ui.agreement.append(h);
  } else {
    ui.agreement.hidden = true;
  }
}

function renderRun({ model, info, ranked, timings, loadMs, first }, docs) {
  const card = document.createElement('article');
  card.className = 'run';
  card.dataset.model = model.source;
  const min = Math.min(...ranked.map((r) => r.score));
  const max = Math.max(...ranked.map((r) => r.score));
  const docsPerS = docs.length / (timings.scoreMs / 1000);
  const head = document.createElement('header');
  head.innerHTML = `<h2></h2><p class="meta"><span class="badge ${info.device}"></span> <span class="timings"></span></p>`;
  head.querySelector('h2').textContent = model.label;
  head.querySelector('.badge').textContent = deviceLabel(info);
  head.querySelector('.timings').textContent =
    `${info.architecture} · ${(info.parameters / 1e6).toFixed(2)}M params · load ${loadMs.toFixed(0)} ms · tokenize ${timings.tokenizeMs.toFixed(1)} ms · score ${timings.scoreMs.toFixed(0)} ms · ${docsPerS.toFixed(0)} docs/s` +
    (first && info.device === 'webgpu' ? ' (first run: includes compiling the GPU kernels)' : '');
  const list = document.createElement('ol');
  list.className = 'ranked';
  ranked.forEach((r, rank) => {
    const li = document.createElement('li');
    li.dataset.index = String(r.index);
    li.dataset.score = String(r.score);
    if (r.index === relevant) li.classList.add('relevant');
    const frac = max > min ? (r.score - min) / (max - min) : 1;
    li.innerHTML = `<div class="line"><span class="rank">${rank + 1}</span><span class="bar"><span style="width:${(4 + 96 * frac).toFixed(1)}%"></span></span><span class="score"></span><span class="orig"></span></div><p class="text"></p>`;
    li.querySelector('.score').textContent = r.score.toFixed(4);
    li.querySelector('.orig').textContent = `was #${r.index + 1}${r.index === relevant ? ' · relevant' : ''}`;
    li.querySelector('.text').textContent = docs[r.index];
    li.querySelector('.text').title = 'click to expand';
    li.querySelector('.text').addEventListener('click', (e) => e.currentTarget.classList.toggle('open'));
    list.append(li);
  });
  card.append(head, list);
  return card;
}

// --- start ------------------------------------------------------------------------------------

if (!navigator.gpu) {
  ui.gpu.textContent = 'no WebGPU: CPU fallback';
  ui.gpu.className = 'badge cpu';
} else {
  navigator.gpu.requestAdapter().then((a) => {
    if (!a) {
      ui.gpu.textContent = 'no WebGPU adapter: CPU fallback';
      ui.gpu.className = 'badge cpu';
    } else if (!running) {
      ui.gpu.textContent = 'WebGPU available';
      ui.gpu.className = 'badge webgpu';
    }
  }, () => {});
}
if (params.get('model')) {
  ui.model.value = 'custom';
  ui.custom.hidden = false;
  ui.custom.value = params.get('model');
}
await loadSamples();
updateCount();
document.body.dataset.ready = '1';
