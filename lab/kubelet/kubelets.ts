// The real-kubelet lab: turns the lab's QEMU guests into Kubernetes nodes of the lab's API server.
//   prepareKubeletGuests  builds (or finds) the node tools, the node-tools disk and the images,
//                         and gives each guest its tools disk, guestfwds and cluster wire
//   startRegistry         serves the images (read-only) on 127.0.0.1: the stack's registryMirror
//   joinGuests            sends each guest its node files and runs /opt/kvs/setup; waits for Ready
// Everything the program deploys then runs from its own manifests, unmodified, on these kubelets.
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ControlPlane } from "../controlPlane";
import type { Guest } from "../guest/guests";
import { startDaemon, waitFor } from "../processes";
import { KubeletNode, nodeFiles, REGISTRY_MIRROR } from "./nodeConfig";

const HERE = __dirname;
const LAB = path.join(HERE, "..");

/** Runs a build script; its last stdout line is its answer. Progress goes to stderr. */
function build(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(out.trim().split("\n").pop() as string);
      else reject(new Error(`${path.relative(LAB, script)} ${args.join(" ")} failed (exit ${code})`));
    });
  });
}

export interface KubeletArtifacts {
  toolsDisk: string;
  /** The images' cache dir: registry/ is the storage the lab registry serves. */
  images: string;
}

/** Node tools, node-tools disk and images: built once per machine, cached (lab/kubelet/*.sh). */
export async function ensureKubeletArtifacts(): Promise<KubeletArtifacts> {
  await build(path.join(LAB, "toolchain.sh"), [
    "ensure",
    "kube-node",
    "containerd",
    "runc",
    "cri-tools",
    "cni-plugins",
    "multus",
    "sriov-dp",
    "sriov-cni",
  ]);
  const toolsDisk = await build(path.join(HERE, "node-disk.sh"), ["ensure"]);
  const images = await build(path.join(HERE, "images.sh"), ["ensure"]);
  return { toolsDisk, images };
}

export function kubeSchedulerBin(): string {
  const r = spawnSync("bash", [path.join(LAB, "toolchain.sh"), "dir", "kube-node"], { encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(`kube-scheduler is not built: run bash lab/toolchain.sh ensure kube-node\n${r.stderr}`);
  return r.stdout.trim().split("\n").pop() as string;
}

/** The lab registry: docker-registry (distribution 2.8) on 127.0.0.1, read-only, the cached images. */
export async function startRegistry(labDir: string, images: string, port: number): Promise<void> {
  const cfg = path.join(labDir, "registry.yml");
  fs.writeFileSync(
    cfg,
    [
      "version: 0.1",
      "log: { level: warn }",
      `storage: { filesystem: { rootdirectory: ${path.join(images, "registry")} }, maintenance: { readonly: { enabled: true }, uploadpurging: { enabled: false } } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      "",
    ].join("\n"),
  );
  startDaemon(labDir, "registry", "docker-registry", ["serve", cfg]);
  await waitFor(
    "the lab registry",
    async () =>
      fetch(`http://127.0.0.1:${port}/v2/`)
        .then((r) => r.ok)
        .catch(() => false),
    30_000,
  );
}

/**
 * The repository:tag under which the lab registry of `labDir` serves image `name` (images.sh's
 * names: multus, sriov-dp, sriov-cni, pause, net-tools), from the images.txt of the cache dir it
 * serves, so a rebuild of the images for a later lab cannot change what this one answers.
 */
export function servedImage(labDir: string, name: string): string {
  const cfg = fs.readFileSync(path.join(labDir, "registry.yml"), "utf8");
  const root = /rootdirectory: ([^ ,}]+)/.exec(cfg)?.[1];
  if (!root) throw new Error(`${labDir}/registry.yml names no storage root: start the lab first`);
  const list = fs.readFileSync(path.join(path.dirname(root), "images.txt"), "utf8");
  const ref = list
    .split("\n")
    .map((l) => l.split(" "))
    .find((w) => w[0] === name)?.[1];
  if (!ref) throw new Error(`the lab registry serves no image named ${name} (${path.dirname(root)}/images.txt)`);
  return `${REGISTRY_MIRROR}/${ref}`;
}

/** A tar of the node's files (paths under etc/), made with the system tar. */
function filesTar(files: Record<string, string>): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-node-"));
  try {
    for (const [file, content] of Object.entries(files)) {
      const p = path.join(dir, file);
      fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
      fs.writeFileSync(p, content, { mode: /\.(kubeconfig|key)$/.test(file) ? 0o600 : 0o644 });
    }
    const tops = [...new Set(Object.keys(files).map((f) => f.split("/")[1]))];
    return execFileSync("tar", ["-C", dir, "--owner=0", "--group=0", "-cf", "-", ...tops]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The node a guest becomes: its certificates signed by the lab CA, its addresses. */
export function kubeletNode(cp: ControlPlane, guest: Guest, peers: number[]): KubeletNode {
  const name = guest.name;
  return {
    name,
    index: guest.spec.index,
    peers,
    apiPort: cp.ports.apiserver,
    serverCa: cp.pem(path.join("serving", "apiserver.crt")),
    clientCa: cp.pem("ca.crt"),
    kubelet: cp.clientCert(`kubelet-${name}`, `system:node:${name}`, "system:nodes"),
    kubeProxy: cp.clientCert("kube-proxy", "system:kube-proxy"),
    labels: { "kubevirt-sriov/lab": "true" },
  };
}

/** Joins every guest (in parallel) and waits until each Node is Ready; returns seconds per node. */
export async function joinGuests(cp: ControlPlane, guests: Guest[], timeoutMs = 600_000): Promise<number[]> {
  const peers = guests.map((g) => g.spec.index);
  return Promise.all(
    guests.map(async (g) => {
      const t0 = Date.now();
      const tar = filesTar(nodeFiles(kubeletNode(cp, g, peers)));
      const r = await g.ssh(
        "mkdir -p /opt/kvs && { mountpoint -q /opt/kvs || mount -o ro LABEL=kvs-tools /opt/kvs; } && /opt/kvs/setup",
        {
          input: tar,
          timeoutMs: 300_000,
        },
      );
      if (r.status !== 0) throw new Error(`${g.name}: node setup failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
      await waitFor(`Node ${g.name} Ready`, async () => nodeReady(cp, g.name), timeoutMs);
      return (Date.now() - t0) / 1000;
    }),
  );
}

export async function nodeReady(cp: ControlPlane, name: string): Promise<boolean> {
  const n = await cp.find(`/api/v1/nodes/${name}`).catch(() => undefined);
  const ready = (n?.status?.conditions ?? []).find((c: { type: string }) => c.type === "Ready");
  return ready?.status === "True";
}
