// VM settings that keep VoIP latency and addressing predictable:
// - each SR-IOV interface has a fixed MAC (a re-created VM keeps its leases, ARP entries and
//   SIP registrations);
// - a VM with dedicated CPUs has resources requests == limits for cpu and memory (Guaranteed
//   QoS), without which the static CPU manager pins nothing.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { dig, isVmType, metaOf, obj, sriovInterfacesOf, str, vmiSpecOf } from "./common";

const SUFFIX: Record<string, number> = {
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity ("2", "500m", "2Gi", "1e3") as a number, or undefined. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return undefined;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) return undefined;
  return Number(m[1]) * SUFFIX[m[2] ?? ""];
}

function sameQuantity(a: unknown, b: unknown): boolean {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  if (x === undefined || y === undefined) return a === b;
  return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x));
}

function vmName(props: Record<string, unknown>, fallback: string): string {
  const m = metaOf(props);
  return `${m.namespace}/${m.name ?? fallback}`;
}

export const vmSriovMacAddresses: ResourceValidationPolicy = {
  name: "vm-sriov-mac-addresses",
  description: "Every SR-IOV interface of a VM sets macAddress, so a re-created VM keeps its address.",
  enforcementLevel: "advisory",
  validateResource: (args, reportViolation) => {
    if (!isVmType(args.type)) args.notApplicable("not a KubeVirt VM");
    const spec = vmiSpecOf(args.type, args.props);
    if (!spec) return;
    const vm = vmName(args.props, args.name);
    for (const itf of sriovInterfacesOf(spec, metaOf(args.props).namespace)) {
      if (!str(itf.iface.macAddress)) {
        reportViolation(
          `VM ${vm} SR-IOV interface "${itf.name}" has no macAddress — set one (the program derives a stable one per VM and network), or the VF's random MAC changes on every restart`,
        );
      }
    }
  },
};

export const vmDedicatedCpuResources: ResourceValidationPolicy = {
  name: "vm-dedicated-cpu-resources",
  description: "A VM with dedicatedCpuPlacement sets resources requests equal to limits for cpu and memory.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!isVmType(args.type)) args.notApplicable("not a KubeVirt VM");
    const spec = vmiSpecOf(args.type, args.props);
    if (!spec || dig(spec, "domain", "cpu", "dedicatedCpuPlacement") !== true) args.notApplicable("no dedicated CPUs");
    const vm = vmName(args.props, args.name);
    const resources = obj(dig(spec, "domain", "resources"));
    const requests = obj(resources.requests);
    const limits = obj(resources.limits);
    for (const key of ["cpu", "memory"]) {
      const req = requests[key];
      const lim = limits[key];
      if (req === undefined || lim === undefined) {
        reportViolation(
          `VM ${vm} uses dedicatedCpuPlacement but spec.domain.resources ${req === undefined ? "requests" : "limits"}.${key} is not set — set requests.${key} and limits.${key} to the same value`,
        );
      } else if (!sameQuantity(req, lim)) {
        reportViolation(
          `VM ${vm} uses dedicatedCpuPlacement but requests.${key} ${JSON.stringify(req)} differs from limits.${key} ${JSON.stringify(lim)} — make them equal (Guaranteed QoS, or the CPU manager pins nothing)`,
        );
      }
    }
  },
};
