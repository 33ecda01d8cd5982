// VF demand per device-plugin resource stays within what the plugin will advertise.
//
// Supply comes from the `sriovdp-config` ConfigMap the program writes: either one
// `config.json` that every node reads (multiplied by the node count in the
// `kubevirt-sriov/nodes` annotation) or one `<node>.json` per node. The program always writes
// explicit VF ranges (`ens1f0#0-7`, `0000:02:00.0#0-3,6`), so supply is the sum of their sizes.
// Demand: each SR-IOV interface of a VM → its NAD → the NAD's resourceName annotation.
// Nodes that choose PFs by NIC selector get their files only once node preparation has
// resolved them: until the first `up`, a preview sees them unknown and the check waits.
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import {
  arr,
  isObject,
  isVmType,
  known,
  metaOf,
  nadIndex,
  obj,
  sriovInterfacesOf,
  str,
  TYPES,
  vmiSpecOf,
} from "./common";
import { AGENT_OBJECTS, NODE_COUNT_ANNOTATION } from "../../config/labels";

const DEVICE_PLUGIN_CONFIGMAP = AGENT_OBJECTS.devicePluginConfigMap;

const DEFAULT_PREFIX = "intel.com";

/** Size of the VF list after '#' in "ens1f0#0-3,6"; undefined when there is no explicit range. */
export function rangeSize(entry: string): number | undefined {
  const hash = entry.indexOf("#");
  if (hash < 0) return undefined;
  let n = 0;
  for (const part of entry.slice(hash + 1).split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) return undefined;
    n += last - first + 1;
  }
  return n;
}

export interface Supply {
  /** VFs per `<prefix>/<name>`. */
  byResource: Map<string, number>;
  /** Resources whose selectors do not list explicit VFs: their supply cannot be counted. */
  uncountable: Set<string>;
}

/** Adds one device-plugin config document (times `copies` nodes) to the supply. */
export function addConfigSupply(doc: unknown, copies: number, supply: Supply): void {
  for (const r of arr(obj(doc).resourceList)) {
    const res = obj(r);
    const name = str(res.resourceName);
    if (name === undefined) continue;
    const resource = `${str(res.resourcePrefix) ?? DEFAULT_PREFIX}/${name}`;
    // v3: selectors is an array (preferred) or one object.
    const selectors = Array.isArray(res.selectors) ? res.selectors : isObject(res.selectors) ? [res.selectors] : [];
    let count = 0;
    let countable = selectors.length > 0;
    for (const s of selectors) {
      const sel = obj(s);
      const explicit = [...arr(sel.pfNames), ...arr(sel.rootDevices)].filter((e): e is string => typeof e === "string");
      const vfAddresses = arr(sel.pciAddresses).length;
      if (explicit.length === 0 && vfAddresses === 0) countable = false;
      for (const e of explicit) {
        const n = rangeSize(e);
        if (n === undefined) countable = false;
        else count += n;
      }
      count += vfAddresses;
    }
    if (!countable) supply.uncountable.add(resource);
    supply.byResource.set(resource, (supply.byResource.get(resource) ?? 0) + count * copies);
  }
}

export interface SupplySource {
  urn: string;
  supply: Supply;
  /** How the numbers were made, for messages. */
  basis: string;
  problems: string[];
  /**
   * The ConfigMap's files are not known yet: a preview before the first `up` of a stack whose
   * nodes choose PFs by NIC selector (the files follow from what node preparation resolves).
   */
  pending?: boolean;
}

/** Reads the device-plugin ConfigMap of the stack, if there is one. */
export function deviceSupply(resources: readonly PolicyResource[]): SupplySource | undefined {
  const cm = resources.find((r) => r.type === TYPES.configMap && metaOf(r.props).name === DEVICE_PLUGIN_CONFIGMAP);
  if (!cm) return undefined;
  const supply: Supply = { byResource: new Map(), uncountable: new Set() };
  const problems: string[] = [];
  const raw = known(() => cm.props.data);
  if (raw === undefined)
    return { urn: cm.urn, supply, basis: "unknown until node preparation", problems, pending: true };
  const data = obj(raw);
  const parse = (key: string): unknown => {
    const text = str(known(() => data[key]));
    try {
      return text === undefined ? undefined : JSON.parse(text);
    } catch (e) {
      problems.push(
        `${DEVICE_PLUGIN_CONFIGMAP} key ${key} is not JSON (${(e as Error).message}) — the device plugin would advertise nothing`,
      );
      return undefined;
    }
  };
  let basis: string;
  if ("config.json" in data) {
    const annotation = metaOf(cm.props).annotations[NODE_COUNT_ANNOTATION];
    const nodes = annotation === undefined ? NaN : Number(annotation);
    if (!Number.isInteger(nodes) || nodes < 0) {
      problems.push(
        `${DEVICE_PLUGIN_CONFIGMAP} has a uniform config.json but no valid "${NODE_COUNT_ANNOTATION}" annotation (${annotation === undefined ? "missing" : JSON.stringify(annotation)}), so the fleet's supply is unknown — annotate it with the number of nodes that read it`,
      );
      addConfigSupply(parse("config.json"), 1, supply);
      basis = "config.json on 1 node (node count unknown)";
    } else {
      addConfigSupply(parse("config.json"), nodes, supply);
      basis = `config.json × ${nodes} node${nodes === 1 ? "" : "s"}`;
    }
  } else {
    const keys = Object.keys(data).filter((k) => k.endsWith(".json"));
    for (const k of keys) addConfigSupply(parse(k), 1, supply);
    basis = `${keys.length} per-node file${keys.length === 1 ? "" : "s"}`;
  }
  return { urn: cm.urn, supply, basis, problems };
}

/** VFs requested per resource by the stack's VMs, and the first VM asking for each. */
export function vfDemand(resources: readonly PolicyResource[]): Map<string, { count: number; urn: string }> {
  const nads = nadIndex(resources);
  const out = new Map<string, { count: number; urn: string }>();
  for (const r of resources) {
    if (!isVmType(r.type)) continue;
    const spec = vmiSpecOf(r.type, r.props);
    if (!spec) continue;
    for (const itf of sriovInterfacesOf(spec, metaOf(r.props).namespace)) {
      const resource = itf.nadRef === undefined ? undefined : nads.get(itf.nadRef)?.resourceName;
      if (resource === undefined) continue; // vm-sriov-networks reports unresolved interfaces
      const cur = out.get(resource);
      if (cur) cur.count++;
      else out.set(resource, { count: 1, urn: r.urn });
    }
  }
  return out;
}

/** Checks demand against supply; "absent" without the ConfigMap, "pending" while its files are unknown. */
export function checkVfDemand(
  resources: readonly PolicyResource[],
  report: (message: string, urn?: string) => void,
): "checked" | "absent" | "pending" {
  const source = deviceSupply(resources);
  if (!source) return "absent";
  if (source.pending) return "pending";
  for (const p of source.problems) report(p, source.urn);
  for (const [resource, { count, urn }] of vfDemand(resources)) {
    if (source.supply.uncountable.has(resource)) continue;
    const have = source.supply.byResource.get(resource) ?? 0;
    if (count > have) {
      report(
        `resource "${resource}": VMs request ${count} VFs but the device plugin supplies ${have} (${DEVICE_PLUGIN_CONFIGMAP}: ${source.basis}) — add VFs (numVfs) or nodes, or lower the demand`,
        have === 0 ? urn : source.urn,
      );
    }
  }
  return "checked";
}

export const vfDemandWithinSupply: StackValidationPolicy = {
  name: "vf-demand-within-supply",
  description: "VMs request no more VFs per device-plugin resource than the sriovdp-config ConfigMap supplies.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    if (!args.resources.some((r) => isVmType(r.type))) args.notApplicable("no KubeVirt VMs in this stack");
    const outcome = checkVfDemand(args.resources, reportViolation);
    if (outcome === "absent") args.notApplicable(`no ${DEVICE_PLUGIN_CONFIGMAP} ConfigMap in this stack`);
    if (outcome === "pending") {
      args.notApplicable(
        `the files of ${DEVICE_PLUGIN_CONFIGMAP} are known once node preparation has resolved the nodes' NIC selectors (the first up); the program's planner checked demand against the configured supply already`,
      );
    }
  },
};
