// Every SR-IOV interface of a VM resolves to a NAD of this stack that the device plugin backs:
// annotated with its resourceName (what virt-controller requests the VF by), with a CNI
// config that parses, is of type sriov and sets the VLAN (0 clears a stale one on the VF).
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { RESOURCE_NAME_ANNOTATION } from "../../config/labels";
import { isObject, isVmType, metaOf, NadInfo, nadIndex, sriovInterfacesOf, vmiSpecOf } from "./common";

/** What is wrong with a NAD as the target of an SR-IOV interface, or undefined. */
export function nadProblem(nad: NadInfo): string | undefined {
  if (nad.resourceName === undefined || nad.resourceName === "") {
    return `NAD ${nad.ref} has no "${RESOURCE_NAME_ANNOTATION}" annotation, so nothing requests a VF for it — annotate it with the pool's <prefix>/<resourceName>`;
  }
  if (nad.config === undefined) return `NAD ${nad.ref} has no spec.config — give it the SR-IOV CNI config`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(nad.config);
  } catch (e) {
    return `NAD ${nad.ref} spec.config is not JSON (${(e as Error).message}) — write the CNI config as a JSON string`;
  }
  if (!isObject(parsed)) return `NAD ${nad.ref} spec.config is not a JSON object — write the CNI config as an object`;
  // A conflist carries the plugin in `plugins`.
  const plugin = Array.isArray(parsed.plugins) ? parsed.plugins.find((p) => isObject(p) && p.type === "sriov") : parsed;
  if (!isObject(plugin) || plugin.type !== "sriov") {
    return `NAD ${nad.ref} is of CNI type ${JSON.stringify(isObject(parsed) ? parsed.type : undefined)}, not "sriov" — SR-IOV interfaces need the sriov CNI`;
  }
  if (typeof plugin.vlan !== "number")
    return `NAD ${nad.ref} CNI config does not set "vlan" — set it (0 for untagged: it clears a VLAN left on the VF)`;
  return undefined;
}

export function checkVmNetworks(
  resources: readonly PolicyResource[],
  report: (message: string, urn?: string) => void,
): void {
  const nads = nadIndex(resources);
  for (const r of resources) {
    if (!isVmType(r.type)) continue;
    const spec = vmiSpecOf(r.type, r.props);
    if (!spec) continue;
    const meta = metaOf(r.props);
    const vm = `${meta.namespace}/${meta.name ?? r.name}`;
    for (const itf of sriovInterfacesOf(spec, meta.namespace)) {
      if (itf.nadRef === undefined) {
        report(
          `VM ${vm} interface "${itf.name}" is SR-IOV but no spec.networks entry of that name has multus.networkName — add { name: "${itf.name}", multus: { networkName: "<namespace>/<nad>" } }`,
          r.urn,
        );
        continue;
      }
      const nad = nads.get(itf.nadRef);
      if (!nad) {
        report(
          `VM ${vm} interface "${itf.name}" uses NAD ${itf.nadRef}, which this stack does not define — define the network in the stack, or fix the name (NADs here: ${[...nads.keys()].join(", ") || "none"})`,
          r.urn,
        );
        continue;
      }
      const problem = nadProblem(nad);
      if (problem) report(`VM ${vm} interface "${itf.name}": ${problem}`, r.urn);
    }
  }
}

export const vmSriovNetworks: StackValidationPolicy = {
  name: "vm-sriov-networks",
  description:
    "Each SR-IOV interface of a VM refers to a NAD of this stack with a resourceName annotation and a sriov CNI config that sets vlan.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    if (!args.resources.some((r) => isVmType(r.type))) args.notApplicable("no KubeVirt VMs in this stack");
    checkVmNetworks(args.resources, reportViolation);
  },
};
