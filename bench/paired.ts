/** Paired runs: baseline and candidate alternate, so drift in the machine hits both alike; medians compared. */

export interface Paired {
  baseline: number;
  candidate: number;
  /** candidate / baseline. */
  ratio: number;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** progress(i) before round i; progress(i, [baseline, candidate]) once it is done, so a log cut short keeps its rounds. */
export type Progress = (i: number, done?: readonly [number, number]) => void;

export function paired(rounds: number, baseline: () => number, candidate: () => number, progress: Progress): Paired {
  const b: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < rounds; i++) {
    progress(i);
    // Alternate which goes first, so neither always runs on a warmer machine.
    if (i % 2) {
      c.push(candidate());
      b.push(baseline());
    } else {
      b.push(baseline());
      c.push(candidate());
    }
    progress(i, [b[i] as number, c[i] as number]);
  }
  const mb = median(b);
  const mc = median(c);
  return { baseline: mb, candidate: mc, ratio: mc / mb };
}
