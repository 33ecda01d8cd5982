// Synthetic fleets for benchmarks: a valid stack config of any size.
import { createHash } from "crypto";
import { readFileSync } from "fs";
import { join } from "path";
export interface FleetShape {
  nodes: number;
  pfsPerNode: number;
  vfsPerPf: number;
  pools: number;
  networks: number;
  vms: number;
}

/**
 * How the nodes are written: `profiles` (default) gives the layout once as a profile and lists
 * the nodes in groups of 256 (`each`, name and host patterns); `per-node` writes every node out
 * (the same nodes, for comparison); `selectors` is `profiles` with the PFs found by NIC selector.
 */
export type FleetForm = "profiles" | "per-node" | "selectors";

export const DEFAULT_FLEET: FleetShape = { nodes: 500, pfsPerNode: 2, vfsPerPf: 32, pools: 8, networks: 16, vms: 2000 };

/**
 * Every node has the same layout (a profile, unless written per node). Each PF's VFs are split
 * evenly over the pools in ranges (so every pool exists on every node); networks round-robin
 * over pools; VMs get one SR-IOV interface each, round-robin over networks, with unique
 * addresses. A quarter of the VMs (at least one per network) are PBXs, the rest load generators
 * aimed at a PBX on their network. Node capacity is generous so the plan is feasible.
 */
export function generateFleet(shape: FleetShape, form: FleetForm = "profiles"): Record<string, unknown> {
  const pools = Array.from({ length: shape.pools }, (_, i) => ({ name: `pool_${i}` }));
  const perPool = Math.max(1, Math.floor(shape.vfsPerPf / shape.pools));
  const layout = {
    capacity: { dedicatedCpus: 256, hugepages1Gi: 512 },
    physicalFunctions: Array.from({ length: shape.pfsPerNode }, (_, p) => ({
      ...(form === "selectors" ? { selector: { vendor: "8086", device: "1593", port: p } } : { name: `ens${p}f0` }),
      numVfs: shape.vfsPerPf,
      ranges: pools.slice(0, Math.min(shape.pools, shape.vfsPerPf)).map((pool, i) => ({
        vfs: `${i * perPool}-${i === Math.min(shape.pools, shape.vfsPerPf) - 1 ? shape.vfsPerPf - 1 : (i + 1) * perPool - 1}`,
        pool: pool.name,
      })),
    })),
  };
  // Node n is node-<n> at 10.<n bits 16-23>.<n bits 8-15>.<n bits 0-7> in every form.
  const nodes =
    form === "per-node"
      ? Array.from({ length: shape.nodes }, (_, n) => ({
          name: `node-${n}`,
          ssh: { host: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` },
          ...layout,
        }))
      : Array.from({ length: Math.ceil(shape.nodes / 256) }, (_, g) => {
          const first = g * 256;
          const last = Math.min(shape.nodes, first + 256) - 1;
          return {
            profile: "bench",
            each: `${first}-${last}`,
            name: "node-{i}",
            ssh: { host: `10.${(g >> 8) & 255}.${g & 255}.{i${first > 0 ? `-${first}` : ""}}` },
          };
        });
  const networks = Array.from({ length: shape.networks }, (_, i) => ({
    name: `net-${i}`,
    namespace: "voip",
    pool: pools[i % shape.pools].name,
    vlan: 100 + i,
    subnet: `10.${100 + (i % 100)}.0.0/16`,
  }));
  const pbxCount = Math.max(shape.networks, Math.floor(shape.vms / 4));
  // A load generator calls a PBX on its own network (VM p sits on network p % networks).
  const pbxPerNetwork = Math.floor(pbxCount / shape.networks);
  const pbxOnNetwork = (v: number, net: number) =>
    net + shape.networks * (Math.floor(v / shape.networks) % pbxPerNetwork);
  const vms = Array.from({ length: shape.vms }, (_, v) => {
    const net = v % shape.networks;
    const host = Math.floor(v / shape.networks) + 1;
    const address = `10.${100 + (net % 100)}.${(host >> 8) & 255}.${host & 255}/16`;
    const base = {
      name: `vm-${v}`,
      namespace: "voip",
      cpus: 2,
      memory: "2Gi",
      interfaces: [{ network: `net-${net}`, address }],
    };
    return v < pbxCount
      ? { ...base, role: "pbx" }
      : { ...base, role: "loadgen", loadgen: { target: `vm-${pbxOnNetwork(v, net)}` } };
  });
  return {
    environment: "lab",
    waitForReadiness: false,
    kubevirt: { operatorManifest: { file: "lab/kubevirt-lab-operator.yaml", sha256: labManifestSha256() } },
    ...(form === "per-node" ? {} : { profiles: { bench: layout } }),
    nodes,
    pools,
    networks,
    vms,
  };
}

function labManifestSha256(): string {
  return createHash("sha256")
    .update(readFileSync(join(__dirname, "..", "lab", "kubevirt-lab-operator.yaml")))
    .digest("hex");
}
