// Benchmark: sriov-node.sh apply on a simulated node with 8 PFs x 64 VFs (FUSE sysfs).
// Run: npx ts-node --transpile-only bench/nodeprep-bench.ts [runs]
// Each fresh apply gets a newly mounted host (mounting is not timed); the no-change
// re-apply runs on the host the fresh apply just prepared.
import { renderStateLines } from "../render/nodeState";
import { SimHost, x710Host } from "../test/sim/host";
import { benchPf, nodeState } from "../test/sim/states";

const PFS = 8;
const VFS = 64;
const RUNS = Number(process.argv[2] ?? 5);

interface Sample {
  ms: number;
  writes: number;
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}

function timedApply(host: SimHost, lines: string): Sample {
  const t0 = process.hrtime.bigint();
  const r = host.run(["apply"], lines);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`apply failed (${r.status}): ${r.stderr}`);
  const m = /apply: (?:no changes \()?(\d+) writes/.exec(r.stderr);
  return { ms, writes: m ? Number(m[1]) : NaN };
}

async function main(): Promise<void> {
  const hw = x710Host(PFS, {}, { totalVfs: VFS });
  const state = nodeState(hw.pfs.map((p) => benchPf(p.name as string, VFS)));
  const lines = renderStateLines(state);
  const fresh: Sample[] = [];
  const again: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const host = await SimHost.start(hw);
    try {
      fresh.push(timedApply(host, lines));
      again.push(timedApply(host, lines));
    } finally {
      await host.stop();
    }
  }
  const rows: [string, Sample[]][] = [
    [`fresh apply (${PFS} PFs x ${VFS} VFs)`, fresh],
    ["no-change re-apply", again],
  ];
  const fmt = (n: number) => n.toFixed(0).padStart(8);
  console.log(`sriov-node.sh apply on a simulated node, ${RUNS} runs each (ms)`);
  console.log(
    `${"case".padEnd(34)}${"median".padStart(8)}${"min".padStart(8)}${"max".padStart(8)}${"writes".padStart(8)}`,
  );
  for (const [name, samples] of rows) {
    const s = stats(samples.map((x) => x.ms));
    console.log(`${name.padEnd(34)}${fmt(s.median)}${fmt(s.min)}${fmt(s.max)}${String(samples[0].writes).padStart(8)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
