// rankmamba: rerank documents for a query in the browser (WebGPU, else the CPU inside wasm)
// or in Node.js (CPU). The model runs in the wasm module built from the Rust crate; this file
// finds and fetches the checkpoint files, keeps them in the Cache API, and wraps the scoring.

import init, { loadReranker } from './wasm/rankmamba.js';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
const CACHE_NAME = 'rankmamba-files-v1';
const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined' && typeof self === 'undefined';

let wasmReady;
function initWasm() {
  wasmReady ??= (async () => {
    const url = new URL('./wasm/rankmamba_bg.wasm', import.meta.url);
    if (isNode) {
      const { readFile } = await import('node:fs/promises');
      await init({ module_or_path: await readFile(url) });
    } else {
      await init({ module_or_path: url });
    }
  })();
  return wasmReady;
}

/** The logistic function: a raw score (logit) to a probability-like value in (0, 1). */
export function sigmoid(x) {
  if (Array.isArray(x) || ArrayBuffer.isView(x)) return Array.from(x, sigmoid);
  return 1 / (1 + Math.exp(-x));
}

/** A loading error that names the file (URL or path) it is about. */
export class LoadError extends Error {
  constructor(message, file, options) {
    super(message, options);
    this.name = 'LoadError';
    this.file = file;
  }
}

function abortError(signal) {
  const r = signal?.reason;
  if (r instanceof Error && r.name === 'AbortError') return r;
  return new DOMException(typeof r === 'string' ? r : 'The operation was aborted.', 'AbortError');
}

function checkAbort(signal) {
  if (signal?.aborted) throw abortError(signal);
}

const nextTick = () => new Promise((resolve) => setTimeout(resolve, 0));

// --- where the files come from ------------------------------------------------------------

function resolveSource(source, { revision = 'main', hubUrl = DEFAULT_HUB_URL } = {}) {
  if (source instanceof URL) return { kind: 'url', base: withSlash(source.href) };
  if (source && typeof source === 'object') return { kind: 'memory', files: source };
  if (typeof source !== 'string' || source.trim() === '') {
    throw new TypeError('source must be a Hugging Face model id, a URL, a local directory (Node.js) or an object of files');
  }
  const s = source.trim();
  if (/^(https?|blob|data):/i.test(s)) return { kind: 'url', base: withSlash(s) };
  if (isNode && (/^(\.{1,2}\/|\/|file:|[A-Za-z]:\\)/.test(s))) {
    return { kind: 'dir', dir: s.startsWith('file:') ? new URL(s) : s };
  }
  if (!isNode && /^(\.{0,2}\/)/.test(s)) return { kind: 'url', base: withSlash(new URL(s, globalThis.location?.href).href) };
  if (/^[\w.-]+(\/[\w.-]+)?$/.test(s)) {
    return { kind: 'url', base: `${hubUrl.replace(/\/+$/, '')}/${s}/resolve/${encodeURIComponent(revision)}/` };
  }
  throw new TypeError(`source "${s}" is neither a Hugging Face model id (owner/name), a URL nor a directory`);
}

function withSlash(u) {
  return u.endsWith('/') ? u : `${u}/`;
}

async function openCache(enabled, warn) {
  if (!enabled || typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch (e) {
    warn(`the Cache API is not usable here (${e.message}): files are downloaded every time`);
    return null;
  }
}

/** Fetches checkpoint files by name, reporting bytes; `null` for a missing optional file. */
class Fetcher {
  constructor(where, { signal, cache, onProgress, warn }) {
    this.where = where;
    this.signal = signal;
    this.cache = cache;
    this.onProgress = onProgress;
    this.warn = warn;
    this.loaded = 0;
    this.total = 0;
    this.fromCache = [];
  }

  name(file) {
    return this.where.kind === 'url' ? this.where.base + file : this.where.kind === 'dir' ? joinPath(this.where.dir, file) : file;
  }

  progress(p) {
    this.onProgress?.({ ...p, loaded: this.loaded, total: this.total });
  }

  async get(file, { optional = false } = {}) {
    checkAbort(this.signal);
    const { kind } = this.where;
    if (kind === 'memory') return this.fromMemory(file, optional);
    if (kind === 'dir') return this.fromDir(file, optional);
    return this.fromUrl(file, optional);
  }

  async fromMemory(file, optional) {
    let v = this.where.files[file];
    if (v === undefined || v === null) {
      if (optional) return null;
      throw new LoadError(`${file}: not among the files given (have: ${Object.keys(this.where.files).join(', ') || 'none'})`, file);
    }
    if (typeof v === 'string') v = new TextEncoder().encode(v);
    else if (typeof Blob !== 'undefined' && v instanceof Blob) v = new Uint8Array(await v.arrayBuffer());
    else if (v instanceof ArrayBuffer) v = new Uint8Array(v);
    else if (ArrayBuffer.isView(v)) v = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    else throw new LoadError(`${file}: expected a Uint8Array, ArrayBuffer, Blob or string`, file);
    this.loaded += v.byteLength;
    this.total += v.byteLength;
    this.progress({ status: 'done', file, fileLoaded: v.byteLength, fileTotal: v.byteLength });
    return v;
  }

  async fromDir(file, optional) {
    const { readFile } = await import('node:fs/promises');
    const path = this.name(file);
    try {
      const b = await readFile(path, { signal: this.signal });
      this.loaded += b.byteLength;
      this.total += b.byteLength;
      this.progress({ status: 'done', file, fileLoaded: b.byteLength, fileTotal: b.byteLength });
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      if (e.name === 'AbortError') throw abortError(this.signal);
      if (e.code === 'ENOENT' && optional) return null;
      throw new LoadError(`${path}: ${e.code === 'ENOENT' ? 'file not found' : e.message}`, path, { cause: e });
    }
  }

  async fromUrl(file, optional) {
    const url = this.name(file);
    let resp = null;
    let cached = false;
    if (this.cache) {
      try {
        resp = (await this.cache.match(url)) ?? null;
        cached = resp !== null;
      } catch {
        resp = null;
      }
    }
    if (!resp) {
      try {
        resp = await fetch(url, { signal: this.signal });
      } catch (e) {
        if (e.name === 'AbortError' || this.signal?.aborted) throw abortError(this.signal);
        throw new LoadError(`${url}: download failed (${e.message})`, url, { cause: e });
      }
      if (resp.status === 404 && optional) return null;
      if (!resp.ok) throw new LoadError(`${url}: HTTP ${resp.status}${resp.statusText ? ` ${resp.statusText}` : ''}`, url);
    }
    const encoded = resp.headers.get('content-encoding');
    const declared = encoded && encoded !== 'identity' ? 0 : Number(resp.headers.get('content-length')) || 0;
    this.total += declared;
    this.progress({ status: 'initiate', file, fileLoaded: 0, fileTotal: declared, fromCache: cached });
    const chunks = [];
    let got = 0;
    try {
      const reader = resp.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        got += value.byteLength;
        this.loaded += value.byteLength;
        if (!declared) this.total += value.byteLength;
        this.progress({ status: 'progress', file, fileLoaded: got, fileTotal: declared || got, fromCache: cached });
      }
    } catch (e) {
      if (e.name === 'AbortError' || this.signal?.aborted) throw abortError(this.signal);
      throw new LoadError(`${url}: download interrupted after ${got} bytes (${e.message})`, url, { cause: e });
    }
    if (declared && got !== declared) {
      throw new LoadError(`${url}: got ${got} bytes of ${declared} (truncated download)`, url);
    }
    const bytes = concat(chunks, got);
    this.progress({ status: 'done', file, fileLoaded: got, fileTotal: got, fromCache: cached });
    if (cached) this.fromCache.push(file);
    else if (this.cache) {
      try {
        await this.cache.put(url, new Response(bytes, { headers: { 'content-length': String(got), 'content-type': resp.headers.get('content-type') ?? 'application/octet-stream' } }));
      } catch (e) {
        this.warn(`could not keep ${file} in the browser cache (${e.name}: ${e.message}); it will be downloaded again next time`);
      }
    }
    return bytes;
  }
}

function joinPath(dir, file) {
  if (dir instanceof URL) return new URL(file, withSlash(dir.href));
  return `${dir.replace(/[\\/]+$/, '')}/${file}`;
}

function concat(chunks, n) {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** Fetch config, tokenizer and weights (single file or the shard index and its shards). */
async function fetchCheckpoint(fetcher) {
  const files = new Map();
  files.set('config.json', await fetcher.get('config.json'));
  const [tokenizer, single] = await Promise.all([fetcher.get('tokenizer.json'), fetcher.get('model.safetensors', { optional: true })]);
  files.set('tokenizer.json', tokenizer);
  if (single) {
    files.set('model.safetensors', single);
    return files;
  }
  const index = await fetcher.get('model.safetensors.index.json', { optional: true });
  if (!index) {
    throw new LoadError(`${fetcher.name('model.safetensors')}: not found, and no model.safetensors.index.json either`, fetcher.name('model.safetensors'));
  }
  files.set('model.safetensors.index.json', index);
  let map;
  try {
    map = JSON.parse(new TextDecoder().decode(index)).weight_map;
  } catch (e) {
    throw new LoadError(`${fetcher.name('model.safetensors.index.json')}: invalid JSON (${e.message})`, fetcher.name('model.safetensors.index.json'));
  }
  if (!map || typeof map !== 'object') {
    throw new LoadError(`${fetcher.name('model.safetensors.index.json')}: missing object "weight_map"`, fetcher.name('model.safetensors.index.json'));
  }
  const shards = [...new Set(Object.values(map))];
  for (const s of shards) {
    if (typeof s !== 'string' || s.includes('/') || s.includes('\\') || s.startsWith('.')) {
      throw new LoadError(`${fetcher.name('model.safetensors.index.json')}: "${s}" is not a file next to the index`, fetcher.name('model.safetensors.index.json'));
    }
  }
  const bytes = await Promise.all(shards.map((s) => fetcher.get(s)));
  shards.forEach((s, i) => files.set(s, bytes[i]));
  return files;
}

/** A readable adapter name from WebGPU's own `adapter.info` (wgpu leaves it empty in browsers). */
async function describeAdapter() {
  try {
    const info = (await navigator.gpu.requestAdapter())?.info;
    if (!info) return null;
    return info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || null;
  } catch {
    return null;
  }
}

// --- the ranker ---------------------------------------------------------------------------

/**
 * A reranker: scores (query, document) pairs with a Mamba or attention cross-encoder checkpoint.
 * Create it with `await Reranker.load(source, options)`.
 */
export class Reranker {
  #inner;
  #info;

  constructor(inner, info) {
    if (!inner) throw new TypeError('use `await Reranker.load(source, options)`');
    this.#inner = inner;
    this.#info = info;
  }

  /**
   * @param source Hugging Face model id ("owner/name"), a base URL serving the same file layout,
   *   a local directory (Node.js), or an object of in-memory files.
   * @param options { device: 'auto'|'webgpu'|'cpu', dtype: 'f32', onProgress, signal, cache,
   *   revision, maxLength, batchSize, mode: 'exact'|'rankmamba-v1', hubUrl }
   */
  static async load(source, options = {}) {
    const { device = 'auto', dtype = 'f32', onProgress, signal, cache = true, revision = 'main', maxLength, batchSize, mode, hubUrl } = options;
    if (!['auto', 'f32', 'fp32'].includes(dtype)) {
      throw new TypeError(`dtype "${dtype}" is not supported: weights stored as f16/bf16/f32 all run in f32 (use dtype "f32")`);
    }
    if (!['auto', 'webgpu', 'cpu'].includes(device)) throw new TypeError(`device "${device}" is not one of auto, webgpu, cpu`);
    checkAbort(signal);
    const where = resolveSource(source, { revision, hubUrl });
    const warnings = [];
    const warn = (w) => {
      warnings.push(w);
      console.warn(`rankmamba: ${w}`);
    };
    const t0 = performance.now();
    const [, store] = await Promise.all([initWasm(), openCache(cache && where.kind === 'url', warn)]);
    const fetcher = new Fetcher(where, { signal, cache: store, onProgress, warn });
    const files = await fetchCheckpoint(fetcher);
    checkAbort(signal);
    const t1 = performance.now();
    onProgress?.({ status: 'loading', file: null, loaded: fetcher.loaded, total: fetcher.total });
    const label = where.kind === 'url' ? where.base : where.kind === 'dir' ? String(where.dir) : '';
    let inner;
    try {
      inner = await loadReranker(files, { device, maxLength, batchSize, mode, source: label.replace(/\/$/, '') });
    } catch (e) {
      throw new LoadError(e.message ?? String(e), label, { cause: e });
    }
    files.clear();
    const adapter = inner.info.adapter;
    if (adapter && adapter.name.startsWith('(')) adapter.name = (await describeAdapter()) ?? adapter.name;
    if (signal?.aborted) {
      inner.dispose();
      throw abortError(signal);
    }
    const info = { ...inner.info, adapter, source: label || 'memory', filesFromCache: fetcher.fromCache, downloadMs: t1 - t0, loadMs: performance.now() - t1 };
    info.warnings = [...warnings, ...info.warnings];
    onProgress?.({ status: 'ready', file: null, loaded: fetcher.loaded, total: fetcher.total });
    return new Reranker(inner, info);
  }

  /** What was loaded and where it runs: architecture, sizes, device, adapter and its limits. */
  get info() {
    return this.#info;
  }

  /** Raw scores (logits) of `documents` for `query`, in input order. */
  async score(query, documents, options = {}) {
    const { batchSize, signal, onProgress } = options;
    if (typeof query !== 'string') throw new TypeError('query must be a string');
    if (!Array.isArray(documents)) throw new TypeError('documents must be an array of strings');
    documents.forEach((d, i) => {
      if (typeof d !== 'string') throw new TypeError(`documents[${i}] is a ${typeof d}, expected a string`);
    });
    if (!this.#inner) throw new Error('this Reranker was disposed');
    checkAbort(signal);
    if (documents.length === 0) return [];
    const afterBatch = async (done) => {
      onProgress?.({ done, total: documents.length });
      await nextTick(); // let abort events, messages and rendering through between batches
      checkAbort(signal);
    };
    const out = await this.#inner.score(query, documents, batchSize, afterBatch);
    this.lastTimings = { tokenizeMs: out.tokenizeMs, scoreMs: out.scoreMs, documents: documents.length };
    return Array.from(out.scores);
  }

  /** Timings of the latest `score`/`rank` call: `{ tokenizeMs, scoreMs, documents }`. */
  lastTimings = null;

  /**
   * Documents sorted by descending score (ties keep input order):
   * `[{ index, score, document? }]`, cut to `topK`.
   */
  async rank(query, documents, options = {}) {
    const { topK, returnDocuments = false } = options;
    const scores = await this.score(query, documents, options);
    const ranked = scores.map((score, index) => ({ index, score }));
    ranked.sort((a, b) => b.score - a.score || a.index - b.index);
    const top = topK === undefined || topK === null ? ranked : ranked.slice(0, Math.max(0, topK));
    if (returnDocuments) for (const r of top) r.document = documents[r.index];
    return top;
  }

  /** Free the model's memory (GPU buffers go back to the shared device). */
  dispose() {
    this.#inner?.dispose();
    this.#inner?.free();
    this.#inner = null;
  }
}

export default Reranker;
