// Shared by the benchmarks: the machine-readable line each figure is reported on (bench/run.mjs
// collects them into one table), and Chromium's renderer peak memory.
import { readFileSync, readdirSync } from 'node:fs';

/**
 * Reports one figure beside its baseline, measured in the same run. `lowerIsBetter` says which
 * way the goal points; `goal` is a number in `unit` (or a ratio when `goalIsRatio`).
 */
export function emit({ bench, figure, unit, ours, baseline, baselineLabel, goal = null, goalIsRatio = false, lowerIsBetter = true, note = '' }) {
  const ratio = baseline ? ours / baseline : null;
  let met = null;
  if (goal !== null) {
    const value = goalIsRatio ? ratio : ours;
    met = lowerIsBetter ? value <= goal : value >= goal;
  }
  console.log(`BENCH ${JSON.stringify({ bench, figure, unit, ours, baseline, baselineLabel, ratio, goal, goalIsRatio, lowerIsBetter, met, note })}`);
}

/** Peak resident memory (VmHWM) of Chromium's renderer processes, in MB. */
export function rendererPeakMb() {
  let peak = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('--type=renderer')) continue;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
    } catch {
      // The process ended while we looked.
    }
  }
  return peak;
}

/** The median of numbers. */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
