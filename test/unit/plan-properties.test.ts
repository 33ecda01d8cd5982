import * as assert from "assert";
import fc from "fast-check";
import type { PlatformInput } from "../../config/schema";
import { parsePlatform } from "../../config/validate";
import { memoryMi, planPlatform } from "../../plan";

const POOLS = ["pool_a", "pool_b", "pool_c"];

const nodeArb: fc.Arbitrary<NodeSpec> = fc.record({
  pfs: fc.array(fc.record({ pool: fc.constantFrom(...POOLS), numVfs: fc.integer({ min: 0, max: 6 }) }), {
    minLength: 1,
    maxLength: 3,
  }),
  cpus: fc.integer({ min: 0, max: 24 }),
  hp1: fc.integer({ min: 0, max: 24 }),
  hp2: fc.integer({ min: 0, max: 4096 }),
  zone: fc.constantFrom("a", "b"),
});

const vmArb: fc.Arbitrary<VmSpec> = fc.record({
  pools: fc.array(fc.constantFrom(...POOLS), { minLength: 1, maxLength: 3 }),
  cpus: fc.integer({ min: 1, max: 8 }),
  memGi: fc.integer({ min: 1, max: 8 }),
  dedicated: fc.boolean(),
  isolate: fc.boolean(),
  hugepages: fc.constantFrom("1Gi" as const, "2Mi" as const, "none" as const),
  zone: fc.constantFrom(undefined, "a", "b"),
});

interface NodeSpec {
  pfs: { pool: string; numVfs: number }[];
  cpus: number;
  hp1: number;
  hp2: number;
  zone: string;
}
interface VmSpec {
  pools: string[];
  cpus: number;
  memGi: number;
  dedicated: boolean;
  isolate: boolean;
  hugepages: "1Gi" | "2Mi" | "none";
  zone: string | undefined;
}

function nodeInput(n: NodeSpec, i: number): PlatformInput["nodes"][number] {
  return {
    name: `node-${i}`,
    ssh: { host: `node-${i}.lab` },
    labels: { zone: n.zone },
    capacity: { dedicatedCpus: n.cpus, hugepages1Gi: n.hp1, hugepages2Mi: n.hp2 },
    physicalFunctions: n.pfs.map((pf, j) => ({ pciAddress: `0000:0${j}:00.0`, numVfs: pf.numVfs, pool: pf.pool })),
  };
}

/** One network per (pool, slot) so a VM's interfaces never share a network. */
function toRaw(nodes: NodeSpec[], vms: VmSpec[]): PlatformInput {
  const networks = POOLS.flatMap((pool) =>
    [0, 1, 2].map((slot) => ({ name: `${pool.replace("_", "-")}-${slot}`, pool })),
  );
  return {
    nodes: nodes.map(nodeInput),
    pools: POOLS.map((name) => ({ name })),
    networks,
    vms: vms.map((v, i) => ({
      name: `vm-${i}`,
      role: "custom" as const,
      custom: { userData: "#cloud-config\n" },
      cpus: v.cpus,
      memory: `${v.memGi}Gi`,
      nodeSelector: v.zone === undefined ? {} : ({ zone: v.zone } as Record<string, string>),
      tuning: { dedicatedCpus: v.dedicated, isolateEmulatorThread: v.dedicated && v.isolate, hugepages: v.hugepages },
      interfaces: v.pools.map((pool, slot) => ({
        network: `${pool.replace("_", "-")}-${slot}`,
        address: `10.${slot}.${i >> 8}.${i & 255}/8`,
      })),
    })),
  };
}

const fleet = fc.record({
  nodes: fc.array(nodeArb, { minLength: 1, maxLength: 6 }),
  vms: fc.array(vmArb, { maxLength: 24 }),
});

/** Fleets that often fit, so that "stays feasible" is tested on non-trivial plans. */
const roomyNodeArb: fc.Arbitrary<NodeSpec> = fc.record({
  pfs: fc.array(fc.record({ pool: fc.constantFrom(...POOLS), numVfs: fc.integer({ min: 2, max: 8 }) }), {
    minLength: 2,
    maxLength: 4,
  }),
  cpus: fc.integer({ min: 8, max: 48 }),
  hp1: fc.integer({ min: 8, max: 48 }),
  hp2: fc.integer({ min: 1024, max: 8192 }),
  zone: fc.constantFrom("a", "b"),
});
const roomyFleet = fc.record({
  nodes: fc.array(roomyNodeArb, { minLength: 1, maxLength: 6 }),
  vms: fc.array(vmArb, { minLength: 1, maxLength: 12 }),
});

describe("planner: properties", () => {
  it("never places beyond any node's VFs per pool, dedicated CPUs or hugepages", () => {
    fc.assert(
      fc.property(fleet, ({ nodes, vms }) => {
        const raw = toRaw(nodes, vms);
        const model = parsePlatform(raw);
        const plan = planPlatform(model);
        const used = new Map<string, number>();
        const add = (k: string, n: number) => used.set(k, (used.get(k) ?? 0) + n);
        plan.placement.forEach((p, i) => {
          if (p.node === null) return;
          const v = vms[i];
          for (const pool of v.pools) add(`${p.node}|${pool}`, 1);
          if (v.dedicated) add(`${p.node}|cpu`, v.cpus + (v.isolate ? 1 : 0));
          const mi = memoryMi(`${v.memGi}Gi`);
          if (v.hugepages === "1Gi") add(`${p.node}|hp1`, mi / 1024);
          if (v.hugepages === "2Mi") add(`${p.node}|hp2`, mi / 2);
          // The placement respects the node selector.
          if (v.zone !== undefined) assert.strictEqual(nodes[Number(p.node.slice(5))].zone, v.zone);
        });
        nodes.forEach((n, i) => {
          const name = `node-${i}`;
          for (const pool of POOLS) {
            const supply = n.pfs.filter((pf) => pf.pool === pool).reduce((s, pf) => s + pf.numVfs, 0);
            assert.ok((used.get(`${name}|${pool}`) ?? 0) <= supply, `${name} ${pool}`);
          }
          assert.ok((used.get(`${name}|cpu`) ?? 0) <= n.cpus);
          assert.ok((used.get(`${name}|hp1`) ?? 0) <= n.hp1);
          assert.ok((used.get(`${name}|hp2`) ?? 0) <= n.hp2);
        });
        // The plan's own bookkeeping agrees.
        for (const np of plan.nodes) {
          for (const q of [np.dedicatedCpus, np.hugepages1Gi, np.hugepages2Mi])
            assert.ok(q.free >= 0 && q.requested + q.free === q.supply);
        }
        for (const pp of plan.pools) for (const b of pp.byNode) assert.ok(b.free >= 0 && b.requested <= b.supply);
      }),
      { numRuns: 150 },
    );
  });

  it("stays feasible when a node is added", () => {
    fc.assert(
      fc.property(roomyFleet, nodeArb, ({ nodes, vms }, extra) => {
        const before = planPlatform(parsePlatform(toRaw(nodes, vms)));
        fc.pre(before.feasible);
        const after = planPlatform(parsePlatform(toRaw([...nodes, extra], vms)));
        assert.strictEqual(after.feasible, true);
      }),
      { numRuns: 150 },
    );
  });

  it("is deterministic, whatever the order of the VMs in the config", () => {
    fc.assert(
      fc.property(fleet, fc.infiniteStream(fc.integer()), ({ nodes, vms }, seeds) => {
        const raw = toRaw(nodes, vms);
        const a = planPlatform(parsePlatform(raw));
        const b = planPlatform(parsePlatform(raw));
        assert.deepStrictEqual(a, b);
        // Shuffle the VMs: each VM lands on the same node.
        const order = raw.vms!.map((_, i) => i);
        const it = seeds[Symbol.iterator]();
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.abs(it.next().value as number) % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        const shuffled = planPlatform(parsePlatform({ ...raw, vms: order.map((i) => raw.vms![i]) }));
        const where = (p: typeof a) => new Map(p.placement.map((x) => [x.vm, x.node]));
        assert.deepStrictEqual(where(shuffled), where(a));
      }),
      { numRuns: 100 },
    );
  });
});
