// The module worker behind `RerankerWorker` (worker.js): holds one Reranker and answers
// load / score / rank / dispose messages, so the page's main thread never runs the model.

import { Reranker } from './index.js';

let ranker = null;
const pending = new Map(); // message id -> AbortController

self.onmessage = async ({ data }) => {
  const { id, op, args = {} } = data;
  if (op === 'abort') {
    pending.get(args.target)?.abort(new DOMException('The operation was aborted.', 'AbortError'));
    return;
  }
  const ac = new AbortController();
  pending.set(id, ac);
  try {
    let result;
    if (op === 'load') {
      const onProgress = (p) => self.postMessage({ id, progress: p });
      ranker?.dispose();
      ranker = await Reranker.load(args.source, { ...args.options, signal: ac.signal, onProgress });
      result = ranker.info;
    } else if (op === 'score' || op === 'rank') {
      if (!ranker) throw new Error('no model loaded in this worker');
      const onProgress = (p) => self.postMessage({ id, progress: p });
      const value = await ranker[op](args.query, args.documents, { ...args.options, signal: ac.signal, onProgress });
      result = { value, timings: ranker.lastTimings };
    } else if (op === 'dispose') {
      ranker?.dispose();
      ranker = null;
    } else {
      throw new Error(`unknown operation ${op}`);
    }
    self.postMessage({ id, result });
  } catch (e) {
    self.postMessage({ id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e), file: e?.file } });
  } finally {
    pending.delete(id);
  }
};
