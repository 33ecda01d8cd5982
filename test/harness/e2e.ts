// What the end-to-end suites share: reading the Pulumi CLI's output, and timing their steps.
import { strict as assert } from "assert";

/** Pulumi's "Diagnostics:" section (the errors), else the end of its output. */
export function diagnostics(out: string): string {
  const i = out.indexOf("Diagnostics:");
  if (i < 0) return out.slice(-6000);
  const end = out.slice(i).search(/\n(Outputs|Resources):/);
  return out.slice(i, end < 0 ? undefined : i + end).slice(0, 8000);
}

/** Fails with Pulumi's diagnostics unless the CLI exited 0; returns its stdout. */
export function ok(r: { status: number | null; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.status, 0, `${what} failed:\n${diagnostics(r.stdout)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

/** A suite's timings: `timed(what, f)` runs f and records its seconds under `what`. */
export function stepTimer(): {
  timings: Record<string, number>;
  timed: <T>(what: string, f: () => Promise<T> | T) => Promise<T>;
} {
  const timings: Record<string, number> = {};
  const timed = async <T>(what: string, f: () => Promise<T> | T): Promise<T> => {
    const t0 = Date.now();
    try {
      return await f();
    } finally {
      timings[what] = (Date.now() - t0) / 1000;
    }
  };
  return { timings, timed };
}
