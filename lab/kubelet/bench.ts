// Real-kubelet lab benchmark (not part of the tests): prints a Markdown table for BENCHMARKS.md.
//   node -r ts-node/register/transpile-only lab/kubelet/bench.ts [--runs 3] [--calls 300] [--rate 10]
// In a fresh lab directory (2 QEMU guests, kubelets): cold start (boot, join, first `up` with every
// image pulled for the first time), pods with a VF (first and second start), SIP call rate between
// two pods on two nodes over their VFs and over the primary pod network, then warm `destroy` + `up`.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { Lab } from "../lab";
import { CONFIG_ROOT } from "../../config/schema";
import { parsePlatform } from "../../config/validate";
import { sippRunFor } from "../../render/sipp";
import { servedImage } from "./kubelets";
import { createPod, deletePod, networkStatus, vfPod, waitRunning } from "./pods";
import { sipCalls, SipPod } from "./sip";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[], digits = 0) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  const runs = arg("runs", 3);
  const calls = arg("calls", 300);
  // SIPp in a TCG guest completes about a dozen calls per second: offer less, or the run ends at
  // SIPp's timeout with calls still open.
  const rate = arg("rate", 10);
  const lab = new Lab({
    dir: fs.mkdtempSync(path.join(os.tmpdir(), "kvs-bench-kubelet-")),
    portBase: arg("port-base", 24800),
    quiet: true,
    kernel: true,
    kubelets: true,
    nodeCount: 2,
  });
  const rows: [string, string][] = [];
  const secs = async <T>(f: () => Promise<T> | T): Promise<[T, number]> => {
    const t0 = Date.now();
    const v = await f();
    return [v, (Date.now() - t0) / 1000];
  };
  try {
    const [, start] = await secs(() => lab.start());
    rows.push(["lab start: boot 2 guests, join, Nodes Ready (s)", start.toFixed(0)]);
    const [up, upS] = await secs(() => lab.up());
    if (up.status !== 0) throw new Error(`pulumi up failed:\n${up.stdout.slice(-3000)}`);
    rows.push(["first `up`, cold: every agent Ready, images pulled for the first time (s)", upS.toFixed(0)]);

    const image = servedImage(lab.dir, "net-tools");
    const cp = lab.controlPlane;
    const pods: SipPod[] = [];
    const podTimes: number[] = [];
    for (const [i, ip] of [
      [0, "10.56.0.31"],
      [1, "10.56.0.32"],
    ] as const) {
      const name = `bench-vf-${i}`;
      const [pod, s] = await secs(async () => {
        await createPod(
          cp,
          vfPod({
            name,
            node: lab.guests[i].name,
            image,
            networks: [{ name: "pod-net", ips: [`${ip}/24`] }],
            resources: { "intel.com/pod_net": 1 },
          }),
        );
        return waitRunning(cp, "default", name, 600_000);
      });
      podTimes.push(s);
      pods.push({ guest: lab.guests[i], namespace: "default", name, ip });
      (pods[i] as SipPod & { primary?: string }).primary = networkStatus(pod).find((n) => n.interface === "eth0")
        ?.ips?.[0];
    }
    rows.push([
      "pod with a VF, create to Running, first on its node (image pull) (s)",
      podTimes.map((t) => t.toFixed(1)).join(" / "),
    ]);
    // The same pod again: the image is on the node now.
    const again: number[] = [];
    for (let r = 0; r < runs; r++) {
      await deletePod(cp, "default", "bench-vf-0");
      const [, s] = await secs(async () => {
        await createPod(
          cp,
          vfPod({
            name: "bench-vf-0",
            node: lab.guests[0].name,
            image,
            networks: [{ name: "pod-net", ips: ["10.56.0.31/24"] }],
            resources: { "intel.com/pod_net": 1 },
          }),
        );
        return waitRunning(cp, "default", "bench-vf-0", 600_000);
      });
      again.push(s);
    }
    (pods[0] as SipPod & { primary?: string }).primary = networkStatus(
      await cp.get("/api/v1/namespaces/default/pods/bench-vf-0"),
    ).find((n) => n.interface === "eth0")?.ips?.[0];
    rows.push([`pod with a VF, create to Running, image present (s, median (min–max) of ${runs})`, fmt(again, 1)]);

    const model = parsePlatform((yaml.load(fs.readFileSync(lab.configFile, "utf8")) as any).config[CONFIG_ROOT]);
    const base = sippRunFor(
      model.vms.find((v) => v.config.role === "loadgen")!,
      model,
    );
    const run = { ...base, rate, concurrency: Math.max(10, rate), calls, holdMs: 0 };
    for (const [label, pick] of [
      ["VFs (pod-net, VLAN 300, igbvf)", (p: SipPod) => p.ip],
      ["primary network (bridge + cluster wire)", (p: SipPod) => (p as SipPod & { primary: string }).primary],
    ] as const) {
      const rates: number[] = [];
      const completed: number[] = [];
      let failed = 0;
      for (let r = 0; r < runs; r++) {
        const res = await sipCalls({ ...pods[1], ip: pick(pods[1]) }, { ...pods[0], ip: pick(pods[0]) }, run);
        rates.push(res.callRate);
        // SIPp's CallRate(C) counts calls started; a run that hits its timeout starts all of them.
        completed.push(res.successful / res.seconds);
        failed += res.failed;
      }
      rows.push([
        `SIP over the ${label}: ${calls} calls offered at ${rate}/s, no hold (median (min–max) of ${runs}): SIPp's CallRate; completed calls/s; failed calls`,
        `${fmt(rates, 1)}; ${fmt(completed, 1)}; ${failed} failed`,
      ]);
    }
    for (const p of pods) await deletePod(cp, p.namespace, p.name);

    const [d, dS] = await secs(() => lab.destroy());
    if (d.status !== 0) throw new Error(`pulumi destroy failed:\n${d.stdout.slice(-3000)}`);
    rows.push(["`destroy` (agents, NADs, VMs' objects, node preparation reverted) (s)", dS.toFixed(0)]);
    const [up2, up2S] = await secs(() => lab.up());
    if (up2.status !== 0) throw new Error(`second pulumi up failed:\n${up2.stdout.slice(-3000)}`);
    rows.push(["`up` again, warm: images on the nodes, every agent Ready (s)", up2S.toFixed(0)]);
    lab.destroy();
  } catch (e) {
    process.stderr.write(`bench failed; the lab is stopped, its files kept in ${lab.dir}\n`);
    await lab.stop();
    throw e;
  }
  await lab.stop();
  fs.rmSync(lab.dir, { recursive: true, force: true });
  process.stdout.write(
    `\n| real-kubelet lab (2 TCG guests, 2 vCPUs each, on ${os.cpus().length} host cores) | value |\n|---|---|\n`,
  );
  for (const [k, v] of rows) process.stdout.write(`| ${k} | ${v} |\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
