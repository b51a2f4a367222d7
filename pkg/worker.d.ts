import type { LoadOptions, Ranked, RankOptions, RerankerInfo, ScoreOptions, Source, Timings } from './index.js';

/** The Reranker API with the model in a module Web Worker. */
export declare class RerankerWorker {
  constructor(worker?: Worker);
  static load(source: Source, options?: LoadOptions & { worker?: Worker }): Promise<RerankerWorker>;
  load(source: Source, options?: LoadOptions): Promise<RerankerInfo>;
  readonly info: RerankerInfo | null;
  score(query: string, documents: string[], options?: ScoreOptions): Promise<number[]>;
  rank(query: string, documents: string[], options?: RankOptions): Promise<Ranked[]>;
  dispose(): Promise<void>;
  terminate(): void;
  lastTimings: Timings | null;
}
