// What one VM takes from the node it runs on: VFs per pool, exclusive CPUs, hugepages.
import type { VmModel } from "../config/model";

export interface VmDemand {
  /** VFs per pool name (one per SR-IOV interface). */
  vfs: Map<string, number>;
  totalVfs: number;
  /** CPUs pinned by the static CPU manager: the vCPUs, plus one for an isolated emulator thread. */
  dedicatedCpus: number;
  hugepages1Gi: number;
  hugepages2Mi: number;
  /** Hugepage-backed memory in MiB, the third sort key of first-fit-decreasing. */
  hugepageMi: number;
}

/** "4Gi" → 4096, "512Mi" → 512 (the schema only admits Mi and Gi). */
export function memoryMi(quantity: string): number {
  const n = parseInt(quantity, 10);
  return quantity.endsWith("Gi") ? n * 1024 : n;
}

export function vmDemand(vm: VmModel): VmDemand {
  const vfs = new Map<string, number>();
  for (const itf of vm.interfaces) {
    const pool = itf.network.pool.config.name;
    vfs.set(pool, (vfs.get(pool) ?? 0) + 1);
  }
  const t = vm.config.tuning;
  const dedicatedCpus = t.dedicatedCpus ? vm.config.cpus + (t.isolateEmulatorThread ? 1 : 0) : 0;
  const mi = memoryMi(vm.config.memory);
  const hugepages1Gi = t.hugepages === "1Gi" ? Math.ceil(mi / 1024) : 0;
  const hugepages2Mi = t.hugepages === "2Mi" ? Math.ceil(mi / 2) : 0;
  return {
    vfs,
    totalVfs: vm.interfaces.length,
    dedicatedCpus,
    hugepages1Gi,
    hugepages2Mi,
    hugepageMi: t.hugepages === "none" ? 0 : mi,
  };
}

/** Node selector that decides where a VM may run: KubeVirt's workload placement plus the VM's own. */
export function effectiveSelector(
  workloads: Readonly<Record<string, string>>,
  vm: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
  const out: Record<string, string> = { ...workloads };
  for (const [k, v] of Object.entries(vm)) {
    if (k in out && out[k] !== v) return undefined; // contradicts the workload placement: no node matches
    out[k] = v;
  }
  return out;
}

export function selectorKey(selector: Readonly<Record<string, string>> | undefined): string {
  if (selector === undefined) return "\u0000conflict";
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(",");
}
