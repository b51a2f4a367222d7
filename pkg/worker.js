// `RerankerWorker`: the Reranker API with the model in a module Web Worker, so loading and
// scoring never block the page. Same methods and options as `Reranker` (index.js); progress
// callbacks and AbortSignals are forwarded as messages.

const workerUrl = new URL('./worker-entry.js', import.meta.url);

function remoteError(e) {
  if (e.name === 'AbortError') return new DOMException(e.message, 'AbortError');
  const err = new Error(e.message);
  err.name = e.name;
  if (e.file) err.file = e.file;
  return err;
}

export class RerankerWorker {
  #worker;
  #calls = new Map();
  #next = 0;
  #info = null;

  constructor(worker) {
    this.#worker = worker ?? new Worker(workerUrl, { type: 'module' });
    this.#worker.onmessage = ({ data }) => {
      const call = this.#calls.get(data.id);
      if (!call) return;
      if (data.progress) return call.onProgress?.(data.progress);
      this.#calls.delete(data.id);
      call.signal?.removeEventListener('abort', call.onAbort);
      if (data.error) call.reject(remoteError(data.error));
      else call.resolve(data.result);
    };
    this.#worker.onerror = (ev) => {
      const err = new Error(`rankmamba worker failed: ${ev.message ?? 'unknown error'}`);
      for (const c of this.#calls.values()) c.reject(err);
      this.#calls.clear();
    };
  }

  /** Start a worker and load `source` in it (see `Reranker.load`; `worker` may be your own). */
  static async load(source, options = {}) {
    const { worker, ...rest } = options;
    const r = new RerankerWorker(worker);
    try {
      await r.load(source, rest);
    } catch (e) {
      r.terminate();
      throw e;
    }
    return r;
  }

  #call(op, args, { signal, onProgress } = {}) {
    return new Promise((resolve, reject) => {
      if (!this.#worker) return reject(new Error('this RerankerWorker was terminated'));
      if (signal?.aborted) return reject(new DOMException('The operation was aborted.', 'AbortError'));
      const id = this.#next++;
      const onAbort = () => {
        this.#worker?.postMessage({ op: 'abort', args: { target: id } });
        this.#calls.delete(id);
        reject(new DOMException('The operation was aborted.', 'AbortError'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#calls.set(id, { resolve, reject, signal, onAbort, onProgress });
      this.#worker.postMessage({ id, op, args });
    });
  }

  async load(source, options = {}) {
    const { signal, onProgress, ...rest } = options;
    this.#info = await this.#call('load', { source, options: rest }, { signal, onProgress });
    return this.#info;
  }

  get info() {
    return this.#info;
  }

  async #scoring(op, query, documents, options) {
    const { signal, onProgress, ...rest } = options;
    const { value, timings } = await this.#call(op, { query, documents, options: rest }, { signal, onProgress });
    this.lastTimings = timings;
    return value;
  }

  /** Timings of the latest `score`/`rank` call in the worker: `{ tokenizeMs, scoreMs, documents }`. */
  lastTimings = null;

  score(query, documents, options = {}) {
    return this.#scoring('score', query, documents, options);
  }

  rank(query, documents, options = {}) {
    return this.#scoring('rank', query, documents, options);
  }

  /** Free the model; the worker stays for another `load`. */
  dispose() {
    return this.#call('dispose', {});
  }

  /** Stop the worker (frees everything it held). */
  terminate() {
    this.#worker?.terminate();
    this.#worker = null;
  }
}
