// Timings of the real-kernel lab (QEMU guests under TCG), for BENCHMARKS.md:
//   node -r ts-node/register/transpile-only lab/guest/bench.ts [--nodes 1,2,3] [--json out.json]
// For each node count, in a lab of its own (a temp dir, ports from 25200): boot the guests in
// parallel to SSH; the first `pulumi up` (every node 0 -> N VFs, plus the Kubernetes objects);
// an `up` that re-prepares every node (one PF per node gets a VF more, through 0);
// a no-op `up`; `systemctl reboot` of lab-node-1 until SSH answers and until its VFs are back
// (the boot unit); `destroy`. Needs the toolchain and the guest image (npm run lab builds both).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Lab } from "../lab";
import { ensureImage, startGuests } from "./guests";
import { discoverGuest, sriovPfs } from "./layout";

interface Row {
  nodes: number;
  firstUpRetried: boolean;
  bootToSsh: number;
  guestRssMiB: number[];
  firstUp: number;
  reprepareUp: number;
  noopUp: number;
  rebootToSsh: number;
  rebootToVfs: number;
  vfUnitActiveAfterBoot: number;
  destroy: number;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const secs = (t0: number) => Math.round((Date.now() - t0) / 100) / 10;

async function one(n: number, portBase: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kvs-bench-kernel-${n}-`));
  const lab = new Lab({ dir, portBase, quiet: true, kernel: true, nodeCount: n });
  try {
    const image = await ensureImage();
    let t0 = Date.now();
    // Keys first (Lab.start makes them when missing; the guests' seeds need them).
    fs.mkdirSync(path.join(dir, "ssh"), { recursive: true, mode: 0o700 });
    const { execFileSync } = await import("child_process");
    for (const k of ["id_ed25519", "admin_ed25519"])
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "ssh", k)]);
    const boot = await startGuests(lab.guests, image, { fresh: true });
    const bootToSsh = Math.max(...boot);
    const guestRssMiB = lab.guests.map((g) =>
      Math.round(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${g.pid}/status`, "utf8"))?.[1] ?? 0) / 1024),
    );
    await lab.start();
    const must = (r: { status: number | null; stdout: string; stderr: string }, what: string) => {
      const d = r.stdout.indexOf("Diagnostics:");
      if (r.status !== 0)
        throw new Error(
          `${what} failed:\n${d < 0 ? r.stdout.slice(-4000) : r.stdout.slice(d, d + 6000)}\n${r.stderr.slice(-2000)}`,
        );
    };
    t0 = Date.now();
    let first = lab.up();
    let firstUpRetried = false;
    if (first.status !== 0 && /did not bind to a network driver/.test(first.stdout + first.stderr)) {
      // The node script's race with udev loading igbvf on a fresh node (reported): the failure
      // says "re-run apply", so the bench does, once, and says so.
      process.stderr.write("    first up hit the igbvf load race; re-running it once\n");
      firstUpRetried = true;
      first = lab.up();
    }
    must(first, "first up");
    const firstUp = secs(t0);
    // Each node's first PF with a single pool (no ranges) gets one VF more: through 0 on the node.
    lab.editPlatform((p) =>
      p.nodes.forEach((node: any) => {
        const pf = node.physicalFunctions.find((x: any) => x.ranges === undefined);
        pf.numVfs += 1;
      }),
    );
    t0 = Date.now();
    must(lab.up(), "re-prepare up");
    const reprepareUp = secs(t0);
    t0 = Date.now();
    must(lab.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]), "no-op up");
    const noopUp = secs(t0);

    const g = lab.guests[0];
    const pf = sriovPfs(await discoverGuest(g))[0];
    const want = pf.numVfs;
    t0 = Date.now();
    const rebootToSsh = await g.reboot();
    for (;;) {
      const r = await g.ssh(
        `cat /sys/bus/pci/devices/${pf.pciAddress}/sriov_numvfs; systemctl is-active kubevirt-sriov-vfs.service`,
      );
      const [num, active] = r.stdout.trim().split("\n");
      if (Number(num) === want && active === "active") break;
      if (Date.now() - t0 > 300_000) throw new Error("VFs not back within 300 s of the reboot");
      await new Promise((res) => setTimeout(res, 500));
    }
    const rebootToVfs = secs(t0);
    const mono = await g.run("systemctl show -p ActiveEnterTimestampMonotonic --value kubevirt-sriov-vfs.service");
    const vfUnitActiveAfterBoot = Math.round(Number(mono.trim()) / 1e5) / 10;
    t0 = Date.now();
    must(lab.destroy(), "destroy");
    const destroy = secs(t0);
    return {
      nodes: n,
      firstUpRetried,
      bootToSsh: Math.round(bootToSsh * 10) / 10,
      guestRssMiB,
      firstUp,
      reprepareUp,
      noopUp,
      rebootToSsh: Math.round(rebootToSsh * 10) / 10,
      rebootToVfs,
      vfUnitActiveAfterBoot,
      destroy,
    };
  } finally {
    await lab.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const counts = arg("nodes", "1,2,3").split(",").map(Number);
  const rows: Row[] = [];
  for (const [k, n] of counts.entries()) {
    process.stderr.write(`==> ${n} real node(s)\n`);
    const row = await one(n, 25200 + k * 500);
    process.stderr.write(`${JSON.stringify(row)}\n`);
    rows.push(row);
  }
  const out = arg("json", "");
  if (out) fs.writeFileSync(out, JSON.stringify(rows, null, 2));
  process.stdout.write(
    [
      "| nodes | boot to SSH s | guest RSS MiB | first up s | re-prepare up s | no-op up s | reboot to SSH s | reboot to VFs s | unit active (s after boot) | destroy s |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...rows.map(
        (r) =>
          `| ${r.nodes} | ${r.bootToSsh} | ${r.guestRssMiB.join(", ")} | ${r.firstUp}${r.firstUpRetried ? " (re-run once)" : ""} | ${r.reprepareUp} | ${r.noopUp} | ${r.rebootToSsh} | ${r.rebootToVfs} | ${r.vfUnitActiveAfterBoot} | ${r.destroy} |`,
      ),
    ].join("\n") + "\n",
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
