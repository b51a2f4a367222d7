// Type declarations for rankmamba (hand-written; checked with `tsc --noEmit` in the tests).

export declare const DEFAULT_HUB_URL: string;

/** Where files come from: a Hugging Face model id, a base URL, a local directory (Node.js), or in-memory files. */
export type Source = string | URL | Record<string, Uint8Array | ArrayBuffer | Blob | string>;

export interface ProgressEvent {
  /** `initiate` / `progress` / `done` per file, then `loading` (building the model) and `ready`. */
  status: 'initiate' | 'progress' | 'done' | 'loading' | 'ready';
  /** File name (`config.json`, `model.safetensors`, a shard), or null for `loading`/`ready`. */
  file: string | null;
  fileLoaded?: number;
  fileTotal?: number;
  /** True when the file came from the browser's Cache API. */
  fromCache?: boolean;
  /** Bytes of all files so far, and the sum of the sizes known so far. */
  loaded: number;
  total: number;
}

export interface LoadOptions {
  /** `auto` (default): WebGPU where available, else the CPU inside wasm. */
  device?: 'auto' | 'webgpu' | 'cpu';
  /** Compute dtype; only `f32` (f16/bf16 checkpoints are widened at load). */
  dtype?: 'f32' | 'fp32' | 'auto';
  onProgress?: (p: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Keep downloaded files in the Cache API and reuse them (default true). */
  cache?: boolean;
  /** Hub revision (branch, tag or commit), default `main`. */
  revision?: string;
  /** Maximum tokens per pair (default 512). */
  maxLength?: number;
  /** Sequences per forward pass (default 16). */
  batchSize?: number;
  /** `exact` (default) or `rankmamba-v1` (the released RankMamba templates). */
  mode?: 'exact' | 'rankmamba-v1';
  /** Hub host for model ids (default https://huggingface.co). */
  hubUrl?: string;
}

export interface AdapterInfo {
  name: string;
  vendor: number;
  backend: string;
  shaderF16: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface RerankerInfo {
  architecture: 'mamba' | 'bert' | 'electra' | 'gpt_neox' | string;
  hiddenSize: number;
  layers: number;
  parameters: number;
  storedDtypes: string[];
  dtype: 'f32';
  device: 'webgpu' | 'cpu';
  adapter: AdapterInfo | null;
  mode: string;
  maxLength: number;
  batchSize: number;
  freshHead: boolean;
  warnings: string[];
  source: string;
  filesFromCache: string[];
  downloadMs: number;
  loadMs: number;
}

export interface ScoreOptions {
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface RankOptions extends ScoreOptions {
  topK?: number;
  returnDocuments?: boolean;
}

export interface Ranked {
  index: number;
  score: number;
  document?: string;
}

export declare class LoadError extends Error {
  readonly file: string;
}

export declare class Reranker {
  static load(source: Source, options?: LoadOptions): Promise<Reranker>;
  readonly info: RerankerInfo;
  /** Raw scores (logits), in input order. */
  score(query: string, documents: string[], options?: ScoreOptions): Promise<number[]>;
  /** Sorted by descending score; ties keep input order. */
  rank(query: string, documents: string[], options?: RankOptions): Promise<Ranked[]>;
  dispose(): void;
  /** Timings of the latest `score`/`rank` call. */
  lastTimings: Timings | null;
}

export interface Timings {
  tokenizeMs: number;
  scoreMs: number;
  documents: number;
}

/** The logistic function, for a score or an array of scores. */
export declare function sigmoid(x: number): number;
export declare function sigmoid(x: ArrayLike<number>): number[];

export default Reranker;
