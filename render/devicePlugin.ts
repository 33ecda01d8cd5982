// The SR-IOV network device plugin's config.json (v3 format, `selectors` as an array),
// rendered from the pools and the VFs each node gives them. A PF chosen by NIC selector has
// no name or address until node preparation resolved it on its node: its entries come from
// what the node reported (the ranges are written all the same, by the PF's name when it has one).
import { createHash } from "crypto";
import { NodeModel, PfModel, PlatformModel, PoolModel, usesSelectors } from "../config/model";
import { configPath } from "../config/validate";

/** A PF a NIC selector matched on a node, as node preparation reported it (`resolved`). */
export interface ResolvedPf {
  /** The selector's config path (`profiles.r740.physicalFunctions[0]`). */
  entry: string;
  pciAddress: string;
  name: string | null;
}

export interface DevicePluginSelector {
  drivers: string[];
  vendors?: string[];
  devices?: string[];
  pfNames?: string[];
  rootDevices?: string[];
}

export interface DevicePluginResource {
  resourceName: string;
  resourcePrefix: string;
  deviceType: "netDevice" | "accelerator" | "auxNetDevice";
  excludeTopology?: boolean;
  selectors: DevicePluginSelector[];
}

export interface DevicePluginConfig {
  resourceList: DevicePluginResource[];
}

/** What goes into the `sriovdp-config` ConfigMap and how the DaemonSet finds its file. */
export interface DevicePluginConfigMap {
  /** `uniform`: one config.json for every node; `per-node`: `<node>.json` per node. */
  mode: "uniform" | "per-node";
  data: Record<string, string>;
  /** The file the plugin reads, as a container argument (`$(NODE_NAME)` expands per pod). */
  configFile: string;
  /**
   * The nodes the plugin may run on: those with at least one resource. The plugin exits at
   * start when its file is missing or lists no resource (v3.11.0 `cmd/sriovdp/main.go`), so the
   * DaemonSet is pinned to exactly these nodes, each of which has its file.
   */
  nodes: string[];
  /** Hash of the data: the DaemonSet's pod template carries it so pods roll on change. */
  hash: string;
}

/** The VF driver name as the device plugin sees it ("netdevice" = the PF's own VF driver). */
function driverSelector(driver: string): string | undefined {
  return driver === "vfio-pci" ? "vfio-pci" : undefined;
}

/** How the plugin finds each PF a configured PF stands for on the node: by name, else by PCI address. */
function pfTargets(
  node: NodeModel,
  pf: PfModel,
  resolved: readonly ResolvedPf[] | undefined,
): { key: string; byName: boolean }[] {
  if (pf.config.selector === undefined) return [{ key: pf.key, byName: pf.config.name !== undefined }];
  if (resolved === undefined) {
    throw new Error(
      `node ${node.config.name}: ${pf.key} at ${configPath(pf.path)} is resolved on the node: render the device-plugin config with what node preparation reported`,
    );
  }
  const entry = configPath(pf.path);
  return resolved
    .filter((r) => r.entry === entry)
    .map((r) => (r.name !== null ? { key: r.name, byName: true } : { key: r.pciAddress, byName: false }));
}

/**
 * One node's view: for each pool, the VFs this node contributes, as explicit ranges.
 * `resolved`: what the node's NIC selectors matched (needed when it has any).
 */
export function renderNodeDevicePluginConfig(
  node: NodeModel,
  pools: ReadonlyMap<string, PoolModel>,
  resolved?: readonly ResolvedPf[],
): DevicePluginConfig {
  const targets = new Map(node.pfs.map((pf) => [pf, pfTargets(node, pf, resolved)]));
  const resourceList: DevicePluginResource[] = [];
  for (const pool of pools.values()) {
    // Group this node's VF groups in the pool by driver and by how the PF is addressed.
    const byKey = new Map<string, DevicePluginSelector>();
    for (const pf of node.pfs) {
      for (const g of pf.groups) {
        if (g.pool !== pool.config.name) continue;
        for (const t of targets.get(pf) ?? []) {
          const key = `${g.driver}|${t.byName ? "pfNames" : "rootDevices"}`;
          let sel = byKey.get(key);
          if (!sel) {
            const drv = driverSelector(g.driver);
            sel = { drivers: drv ? [drv] : [] };
            if (pool.config.vendors) sel.vendors = [...pool.config.vendors];
            if (pool.config.devices) sel.devices = [...pool.config.devices];
            byKey.set(key, sel);
          }
          const range = `${t.key}#${g.first}-${g.last}`;
          if (t.byName) (sel.pfNames ??= []).push(range);
          else (sel.rootDevices ??= []).push(range);
        }
      }
    }
    if (byKey.size === 0) continue;
    const selectors = [...byKey.values()].map((s) => {
      // An empty drivers list would match any driver: leave the key out instead.
      if (s.drivers.length === 0) {
        const { drivers: _unused, ...rest } = s;
        return rest as DevicePluginSelector;
      }
      return s;
    });
    const res: DevicePluginResource = {
      resourceName: pool.config.name,
      resourcePrefix: pool.config.prefix,
      deviceType: pool.config.deviceType,
      selectors,
    };
    if (pool.config.excludeTopology) res.excludeTopology = true;
    resourceList.push(res);
  }
  return { resourceList };
}

/**
 * The nodes the plugin runs on: those giving some pool a VF. Known from the config alone, also
 * when the files themselves wait for node preparation to resolve NIC selectors.
 */
export function devicePluginNodes(model: PlatformModel): string[] {
  return model.nodes
    .filter((n) => n.pfs.some((pf) => pf.groups.some((g) => model.pools.has(g.pool))))
    .map((n) => n.config.name);
}

/**
 * The ConfigMap content. A uniform fleet (every node renders the same document) gets one
 * `config.json`; otherwise each node gets its own file, because the plugin's selectors
 * cannot tell nodes apart and the same PF name may serve different pools on two nodes.
 * Resolved PFs are written by name, so nodes of one hardware generation (same NICs in the same
 * slots, so the same names) render one document whatever their addresses. `resolved`: per node,
 * what its NIC selectors matched (required when any node has one).
 */
export function renderDevicePluginConfigMap(
  model: PlatformModel,
  resolved?: ReadonlyMap<string, readonly ResolvedPf[]>,
): DevicePluginConfigMap {
  if (resolved === undefined && usesSelectors(model)) {
    throw new Error(
      "some PFs are chosen by NIC selector: render the device-plugin config with what node preparation resolved on each node",
    );
  }
  const docs = new Map<string, string>();
  for (const node of model.nodes) {
    const config = renderNodeDevicePluginConfig(node, model.pools, resolved?.get(node.config.name));
    if (config.resourceList.length > 0) docs.set(node.config.name, JSON.stringify(config, null, 2));
  }
  const distinct = new Set(docs.values());
  let data: Record<string, string>;
  let mode: DevicePluginConfigMap["mode"];
  if (distinct.size <= 1) {
    mode = "uniform";
    data = { "config.json": [...distinct][0] ?? JSON.stringify({ resourceList: [] }, null, 2) };
  } else {
    mode = "per-node";
    data = {};
    for (const [node, doc] of docs) data[`${node}.json`] = doc;
  }
  const hash = createHash("sha256");
  for (const k of Object.keys(data).sort()) hash.update(k).update("\0").update(data[k]).update("\0");
  return {
    mode,
    data,
    configFile: mode === "uniform" ? "/etc/pcidp/config.json" : "/etc/pcidp/$(NODE_NAME).json",
    nodes: [...docs.keys()],
    hash: hash.digest("hex").slice(0, 16),
  };
}
