/** The shapes a budget takes, from request to config: plain data, shared by the decisions and the FFI layer. */

/**
 * A limit as the C grammar read it: a size in bytes, or a percent of the GPU's physical memory,
 * exactly num/den percent (`percent` is the same as a number, for logs and messages). Bytes are
 * bigints: the grammar reads up to 2^63, and a number is exact only to 2^53.
 */
export type Limit = { bytes: bigint } | { percent: number; num: bigint; den: bigint };

/**
 * Budgets for the interposer in bytes: `all` for every GPU, `perGpu[i]` for the container's GPU i;
 * `uuids[i]`: the UUID (as NVML prints it) of the host GPU that is the container's GPU i, so the
 * interposer finds it whatever CUDA_VISIBLE_DEVICES does inside; absent = GPU i is CUDA ordinal i.
 */
export interface InterposerConfig {
  all?: bigint;
  perGpu: Map<number, bigint>;
  /** `uuids[i]`: the container's GPU i is the device with this UUID (the interposer matches devices by it). */
  uuids?: Map<number, string>;
}
