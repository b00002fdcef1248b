// Progress lines for long steps: the first call and the last unit always, otherwise at most one line
// per interval, so a 275-concept extraction logs a handful of lines rather than 275.
import type { SeedProgress } from '../seed-step.ts';

export function throttledProgress(progress: SeedProgress, intervalMs = 5000, now: () => number = () => performance.now()): SeedProgress {
  let last: number | null = null;
  return (done, total, message) => {
    const time = now();
    if (last !== null && done < total && time - last < intervalMs) return;
    last = time;
    progress(done, total, message);
  };
}
