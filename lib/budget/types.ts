/** The shapes a budget takes, from request to config: plain data, shared by the decisions and the FFI layer. */

/**
 * A limit as the C grammar read it: a size in bytes, or a percent of the GPU's physical memory,
 * exactly num/den percent (`percent` is the same as a number, for logs and messages).
 */
export type Limit = { bytes: number } | { percent: number; num: bigint; den: bigint };

/** Budgets for the interposer: `all` for every GPU, `perGpu[i]` for the container's GPU i. */
export interface InterposerConfig {
  all?: number;
  perGpu: Map<number, number>;
}
