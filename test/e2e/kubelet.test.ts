// End to end on real kubelets: the lab's QEMU guests (real 6.12 kernels, emulated igb SR-IOV NICs)
// each run containerd 2.x, runc, kubelet 1.37 (static CPU manager) and kube-proxy, joined to the
// lab's kube-apiserver (lab/kubelet/). The program's own manifests run on them unmodified: Multus
// thick, the SR-IOV device plugin and the SR-IOV CNI, from images built here as upstream's
// Dockerfiles lay them out and pulled through the stack's registryMirror (a local registry).
// Test pods belong to the test, not the program. One lab for the suite; the tests run in order,
// each from the state the previous one left (mocha --bail).
//   lab-node-1: enp1s0 4 VFs (0-1 voip_media vfio-pci, 2-3 pod_net igbvf), enp2s0 2 VFs voip_sig
//   lab-node-2: enp1s0 4 VFs (0-2 voip_media vfio-pci, 3 pod_net igbvf), wired to lab-node-1's enp1s0
// KubeVirt itself cannot run here (its stand-in only serves its API): no VM boots.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { Lab } from "../../lab/lab";
import { nodeReady, servedImage } from "../../lab/kubelet/kubelets";
import { REGISTRY_MIRROR } from "../../lab/kubelet/nodeConfig";
import { createPod, deletePod, networkStatus, podExec, vfPod, waitRunning } from "../../lab/kubelet/pods";
import { sipCalls, SipPod } from "../../lab/kubelet/sip";
import { PART_OF } from "../../config/labels";
import { parsePlatform } from "../../config/validate";
import { sippRunFor } from "../../render/sipp";
import { agentImages } from "../../render/images";
import { ok, stepTimer } from "../harness/e2e";

const lab = new Lab({
  dir: fs.mkdtempSync(path.join(os.tmpdir(), "kvs-e2e-kubelet-")),
  portBase: Number(process.env.KUBEVIRT_SRIOV_E2E_KUBELET_PORT_BASE ?? 24600),
  quiet: true,
  kernel: true,
  kubelets: true,
  nodeCount: 2,
});
const cp = lab.controlPlane;
const PREFIX = "intel.com";
const VLAN = 300;

const { timings, timed } = stepTimer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await f();
    if (last !== undefined) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(3000);
  }
}

function platform(): any {
  return (yaml.load(fs.readFileSync(lab.configFile, "utf8")) as any).config["kubevirt-sriov:platform"];
}

/** VFs per pool on each node, from the stack's own config (what allocatable must show). */
function vfsPerPool(p: any): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const n of p.nodes) {
    const pools: Record<string, number> = {};
    for (const pf of n.physicalFunctions) {
      const ranges: { vfs: string; pool: string }[] = pf.ranges ?? [{ vfs: `0-${pf.numVfs - 1}`, pool: pf.pool }];
      for (const r of ranges) {
        const [a, b = a] = r.vfs.split("-").map(Number);
        pools[`${PREFIX}/${r.pool}`] = (pools[`${PREFIX}/${r.pool}`] ?? 0) + (b - a + 1);
      }
    }
    out.set(n.name, pools);
  }
  return out;
}

async function allocatable(node: string): Promise<Record<string, number>> {
  const n = await cp.get(`/api/v1/nodes/${node}`);
  return Object.fromEntries(
    Object.entries(n.status.allocatable as Record<string, string>)
      .filter(([k]) => k.startsWith(`${PREFIX}/`))
      .map(([k, v]) => [k, Number(v)]),
  );
}

async function agentDaemonSets(): Promise<any[]> {
  const sel = encodeURIComponent(`app.kubernetes.io/part-of=${PART_OF["app.kubernetes.io/part-of"]}`);
  return (await cp.get(`/apis/apps/v1/daemonsets?labelSelector=${sel}`)).items;
}

const netToolsImage = (): string => servedImage(lab.dir, "net-tools");

/** The `ip link show <pf>` line of the VF at a PCI address (the PF's view: vlan, mac, spoofchk, trust). */
async function vfLine(guestIndex: number, pciAddress: string): Promise<string> {
  const g = lab.guests[guestIndex];
  const out = await g.run(
    `vf=$(readlink -f /sys/bus/pci/devices/${pciAddress}); for pf in /sys/class/net/*/device; do i=0; while [ -e "$pf/virtfn$i" ]; do ` +
      `if [ "$(readlink -f "$pf/virtfn$i")" = "$vf" ]; then n=$(basename "$(dirname "$pf")"); ip link show "$n" | grep -E "^ +vf $i "; exit 0; fi; i=$((i+1)); done; done; exit 3`,
  );
  return out.trim();
}

/**
 * The PCI addresses of a PF's VFs, as the guest's kernel lists them (virtfn links; igb's VF
 * stride makes them cross a device number).
 */
async function virtfns(guestIndex: number, pf: string): Promise<string[]> {
  const out = await lab.guests[guestIndex].run(
    `for v in /sys/class/net/${pf}/device/virtfn*; do basename "$(readlink -f "$v")"; done`,
  );
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

const pods: Record<"a" | "b", SipPod & { mac: string; pci?: string }> = {
  a: { guest: undefined as never, namespace: "default", name: "kvs-vf-a", ip: "10.56.0.11", mac: "02:00:5e:00:30:0a" },
  b: { guest: undefined as never, namespace: "default", name: "kvs-vf-b", ip: "10.56.0.12", mac: "02:00:5e:00:30:0b" },
};

describe("real kubelets run the program's manifests (QEMU guests, kubelet 1.37, containerd 2.x)", function () {
  this.timeout(40 * 60_000);

  before(async function () {
    this.timeout(60 * 60_000);
    await timed("lab start: build/boot/join (kubelets Ready)", () => lab.start());
    pods.a.guest = lab.guests[0];
    pods.b.guest = lab.guests[1];
  });

  after(async function () {
    this.timeout(5 * 60_000);
    process.stderr.write(`\n    timings (s): ${JSON.stringify(timings)}\n`);
    if (process.env.KUBEVIRT_SRIOV_E2E_KEEP === "1") {
      process.stderr.write(`    lab kept in ${lab.dir} (KUBEVIRT_SRIOV_E2E_KEEP=1)\n`);
      return;
    }
    await lab.stop();
    fs.rmSync(lab.dir, { recursive: true, force: true });
  });

  it("`pulumi up` with waitForReadiness ends with Multus, the device plugin and the SR-IOV CNI Ready on every SR-IOV node", async () => {
    ok(await timed("first up (agents Ready)", () => lab.up()), "pulumi up");
    const ds = await agentDaemonSets();
    const want = agentImages(parsePlatform(platform()).config);
    const images = ds.flatMap((d) => d.spec.template.spec.containers.map((c: any) => c.image));
    for (const image of [want.multus, want.sriovDevicePlugin, want.sriovCni]) {
      assert.ok(image.startsWith(`${REGISTRY_MIRROR}/`), `${image} comes through registryMirror`);
      assert.ok(images.includes(image), `a DaemonSet runs ${image}: ${images.join(", ")}`);
    }
    for (const d of ds) {
      const s = d.status;
      assert.equal(s.desiredNumberScheduled, 2, `${d.metadata.name} runs on both SR-IOV nodes`);
      assert.equal(s.numberReady, 2, `${d.metadata.name}: ${s.numberReady}/2 Ready`);
    }
  });

  it("each node's allocatable shows <prefix>/<pool> equal to that node's VFs of the pool", async () => {
    const want = vfsPerPool(platform());
    for (const [node, pools] of want) {
      const have = await until(
        `${node} allocatable`,
        async () => {
          const a = await allocatable(node);
          return Object.entries(pools).every(([k, v]) => a[k] === v) ? a : undefined;
        },
        180_000,
      ).catch(async (e) =>
        assert.fail(
          `${(e as Error).message}: want ${JSON.stringify(pools)}, have ${JSON.stringify(await allocatable(node))}`,
        ),
      );
      assert.deepEqual(have, pools, node);
    }
  });

  it("follows a VF count change: the device plugin rolls and allocatable follows", async () => {
    const before = new Set(
      (await cp.get("/api/v1/pods?labelSelector=" + encodeURIComponent("app=sriovdp"))).items.map(
        (p: any) => p.metadata.uid,
      ),
    );
    lab.editPlatform((p) => {
      const pf = p.nodes[0].physicalFunctions[0];
      pf.numVfs = 5;
      pf.ranges = [
        { vfs: "0-1", pool: "voip_media" },
        { vfs: "2-4", pool: "pod_net", driver: "netdevice" },
      ];
      p.nodes[0].allowDisruption = true;
    });
    ok(await timed("up: VF count change (device plugin rolls)", () => lab.up()), "pulumi up (numVfs 4 -> 5)");
    const after = (await cp.get("/api/v1/pods?labelSelector=" + encodeURIComponent("app=sriovdp"))).items.map(
      (p: any) => p.metadata.uid,
    );
    assert.ok(after.length > 0 && after.every((u: string) => !before.has(u)), "every device-plugin pod was replaced");
    await until(
      "lab-node-1 allocatable pod_net = 3",
      async () => ((await allocatable("lab-node-1"))[`${PREFIX}/pod_net`] === 3 ? true : undefined),
      180_000,
    );
    assert.deepEqual(await allocatable("lab-node-1"), vfsPerPool(platform()).get("lab-node-1"));
  });

  it("a test pod asking for pod_net through the program's NAD gets a VF netdev with the NAD's VLAN and its requested MAC", async () => {
    const image = netToolsImage();
    const p = pods.a;
    const t0 = Date.now();
    await createPod(
      cp,
      vfPod({
        name: p.name,
        node: "lab-node-1",
        image,
        networks: [{ name: "pod-net", ips: [`${p.ip}/24`], mac: p.mac }],
        resources: { [`${PREFIX}/pod_net`]: 1 },
      }),
    );
    const pod = await waitRunning(cp, p.namespace, p.name, 600_000);
    timings["pod with a VF: create to Running (first, image pull)"] = (Date.now() - t0) / 1000;
    const net1 = networkStatus(pod).find((s) => s.interface === "net1");
    assert.ok(net1, `Multus reports net1: ${JSON.stringify(networkStatus(pod))}`);
    assert.equal(net1.name, "default/pod-net");
    assert.deepEqual(net1.ips, [p.ip]);
    p.pci = net1["device-info"]?.pci?.["pci-address"];
    const enp1s0 = await virtfns(0, "enp1s0");
    assert.ok(enp1s0.includes(p.pci ?? ""), `${p.pci} is a VF of enp1s0 (${enp1s0.join(" ")})`);
    const inPod = await podExec(
      p.guest,
      p.namespace,
      p.name,
      "cat /sys/class/net/net1/address; readlink /sys/class/net/net1/device/driver",
    );
    assert.equal(inPod.split("\n")[0], p.mac, "the VF netdev in the pod has the requested MAC");
    assert.match(inPod.split("\n")[1], /\/igbvf$/, "a real igbvf VF, moved into the pod");
    const line = await vfLine(0, p.pci as string);
    assert.match(
      line,
      new RegExp(`link/ether ${p.mac} .*vlan ${VLAN}, spoof checking on, link-state auto, trust on`),
      line,
    );
  });

  it("two pods on two nodes talk over their VFs, and the PF wire carries 802.1Q tags with the NAD's VLAN", async () => {
    const p = pods.b;
    const t0 = Date.now();
    await createPod(
      cp,
      vfPod({
        name: p.name,
        node: "lab-node-2",
        image: netToolsImage(),
        networks: [{ name: "pod-net", ips: [`${p.ip}/24`], mac: p.mac }],
        resources: { [`${PREFIX}/pod_net`]: 1 },
      }),
    );
    const pod = await waitRunning(cp, p.namespace, p.name, 600_000);
    timings["pod with a VF: create to Running (second node, image pull)"] = (Date.now() - t0) / 1000;
    p.pci = networkStatus(pod).find((s) => s.interface === "net1")?.["device-info"]?.pci?.["pci-address"];
    const ping = await podExec(pods.a.guest, pods.a.namespace, pods.a.name, `ping -c 5 -i 0.3 -W 3 ${p.ip}`);
    assert.match(ping, / 0% packet loss/, ping);
    const capture = lab.guests[0].wireCapture(1);
    const tagged = execFileSync(
      "tcpdump",
      ["-nn", "-e", "-r", capture, `vlan ${VLAN} and icmp and host ${pods.a.ip} and host ${p.ip}`],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    assert.ok(
      tagged.split("\n").filter((l) => /ethertype 802\.1Q .*vlan 300, .*ICMP echo (request|reply)/.test(l)).length >=
        10,
      `tagged ICMP on the wire:\n${tagged.slice(-1500)}`,
    );
    const untagged = execFileSync("tcpdump", ["-nn", "-r", capture, `not vlan and icmp and host ${pods.a.ip}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    assert.equal(untagged.trim(), "", "no untagged copy of that traffic");
  });

  it("SIPp calls from one pod to the other over the VFs all complete, with the load generator's rendered parameters", async () => {
    const model = parsePlatform(platform());
    const run = sippRunFor(
      model.vms.find((v) => v.config.role === "loadgen")!,
      model,
    );
    const r = await timed("SIPp run over the VFs", () => sipCalls(pods.b, pods.a, run));
    assert.equal(r.exitCode, 0, `SIPp exit ${r.exitCode}: ${JSON.stringify(r)}`);
    assert.deepEqual([r.successful, r.failed], [run.calls, 0], JSON.stringify(r));
  });

  it("deleting a pod gives its VF back to the node", async () => {
    const p = pods.a;
    await deletePod(cp, p.namespace, p.name);
    const back = await until(
      "the VF netdev back in the node's namespace",
      async () => {
        const out = await lab.guests[0].run(`ls /sys/bus/pci/devices/${p.pci}/net 2>/dev/null || true`);
        return out.trim() ? out.trim() : undefined;
      },
      60_000,
    );
    assert.ok(back.length > 0);
    await deletePod(cp, pods.b.namespace, pods.b.name);
  });

  it("`pulumi destroy` removes every agent and leaves the kubelets healthy (a plain pod still starts)", async () => {
    ok(await timed("destroy", () => lab.destroy()), "pulumi destroy");
    await until(
      "agent DaemonSets and their pods gone",
      async () => {
        const ds = await agentDaemonSets();
        const left = (await cp.get(`/api/v1/namespaces/kube-system/pods`)).items.filter((p: any) =>
          p.metadata.ownerReferences?.some((o: any) => o.kind === "DaemonSet"),
        );
        return ds.length === 0 && left.length === 0 ? true : undefined;
      },
      300_000,
    );
    for (const g of lab.guests) {
      assert.ok(await nodeReady(cp, g.name), `${g.name} Ready`);
      const cni = await g.run("ls /etc/cni/net.d");
      assert.doesNotMatch(cni, /multus/, `${g.name}: Multus took its CNI config away (${cni.trim()})`);
    }
    await createPod(cp, vfPod({ name: "kvs-plain", node: "lab-node-2", image: netToolsImage() }));
    await waitRunning(cp, "default", "kvs-plain", 300_000);
    await deletePod(cp, "default", "kvs-plain");
  });
});
