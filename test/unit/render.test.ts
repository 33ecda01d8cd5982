import { strict as assert } from "assert";
import { mirrorOperatorManifest, verifyOperatorManifest } from "../../config/operatorManifest";
import { parsePlatform } from "../../config/validate";
import { renderDevicePluginConfigMap, renderNodeDevicePluginConfig } from "../../render/devicePlugin";
import { agentImages, mirrorImage } from "../../render/images";
import { effectiveDisabledGates, effectiveFeatureGates, gateDemand } from "../../config/kubevirtGates";
import { renderKubevirtCr, sha256Hex, versionAtLeast } from "../../render/kubevirt";
import { renderNad, renderSriovCniConfig } from "../../render/nad";
import { renderNodeState } from "../../render/nodePlan";
import { multiNodeConfig } from "../fixtures/stacks";
import { loadStackConfig } from "../harness/stacks";

describe("device-plugin config.json", () => {
  it("kubecon-demo: two vfio-pci pools by root device with explicit VF ranges, one uniform document", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    const cm = renderDevicePluginConfigMap(m);
    assert.equal(cm.mode, "uniform");
    assert.deepEqual(Object.keys(cm.data), ["config.json"]);
    assert.equal(cm.configFile, "/etc/pcidp/config.json");
    assert.deepEqual(JSON.parse(cm.data["config.json"]), {
      resourceList: [
        {
          resourceName: "sriov_net_A",
          resourcePrefix: "intel.com",
          deviceType: "netDevice",
          selectors: [{ drivers: ["vfio-pci"], rootDevices: ["0000:02:00.0#0-7", "0000:02:00.2#0-7"] }],
        },
        {
          resourceName: "sriov_net_B",
          resourcePrefix: "intel.com",
          deviceType: "netDevice",
          selectors: [{ drivers: ["vfio-pci"], rootDevices: ["0000:02:00.1#0-7", "0000:02:00.3#0-7"] }],
        },
      ],
    });
  });

  it("multi-node: per-node documents when nodes differ; pfNames with ranges; vendors/devices; netdevice has no drivers key", () => {
    const m = parsePlatform(multiNodeConfig());
    const cm = renderDevicePluginConfigMap(m);
    assert.equal(cm.mode, "per-node");
    assert.deepEqual(Object.keys(cm.data).sort(), ["worker-a.json", "worker-b.json"]);
    assert.equal(cm.configFile, "/etc/pcidp/$(NODE_NAME).json");
    const a = JSON.parse(cm.data["worker-a.json"]);
    assert.deepEqual(
      a.resourceList.map((r: { resourceName: string }) => r.resourceName),
      ["media_a", "signalling", "pods_net"],
    );
    assert.deepEqual(a.resourceList[0].selectors, [
      { drivers: ["vfio-pci"], vendors: ["8086"], devices: ["154c"], pfNames: ["ens1f0#0-7"] },
    ]);
    assert.deepEqual(a.resourceList[2], {
      resourceName: "pods_net",
      resourcePrefix: "example.com",
      deviceType: "netDevice",
      selectors: [{ pfNames: ["ens1f1#0-7"] }],
    });
    const b = JSON.parse(cm.data["worker-b.json"]);
    assert.deepEqual(
      b.resourceList.map((r: { resourceName: string }) => r.resourceName),
      ["media_a", "signalling"],
    );
    assert.deepEqual(b.resourceList[1].selectors, [{ drivers: ["vfio-pci"], rootDevices: ["0000:3b:00.0#8-15"] }]);
  });

  it("every node the plugin may run on has a file with at least one resource; a node without VFs gets neither", () => {
    // The plugin exits at start on a missing file or an empty resourceList (v3.11.0 main.go).
    const cfg = multiNodeConfig() as any;
    cfg.nodes.push({
      name: "worker-c",
      ssh: { host: "10.0.0.13" },
      physicalFunctions: [{ name: "ens9f0", numVfs: 0 }],
    });
    const cm = renderDevicePluginConfigMap(parsePlatform(cfg));
    assert.deepEqual(cm.nodes, ["worker-a", "worker-b"]);
    for (const node of cm.nodes) {
      const file = cm.mode === "per-node" ? `${node}.json` : "config.json";
      assert.ok(cm.data[file], `${node} reads ${file}, which the ConfigMap lacks`);
      assert.ok(JSON.parse(cm.data[file]).resourceList.length > 0, `${node} reads an empty ${file}`);
    }
    assert.equal(cm.data["worker-c.json"], undefined);
  });

  it("a node without VFs does not make an otherwise uniform fleet per-node", () => {
    const cfg = loadStackConfig("kubecon-demo") as any;
    cfg.nodes.push({
      ...structuredClone(cfg.nodes[0]),
      name: "spare",
      physicalFunctions: [{ pciAddress: "0000:09:00.0", numVfs: 0 }],
    });
    const cm = renderDevicePluginConfigMap(parsePlatform(cfg));
    assert.equal(cm.mode, "uniform");
    assert.ok(!cm.nodes.includes("spare"));
  });

  it("the config hash changes with the config and only then", () => {
    const m1 = parsePlatform(loadStackConfig("kubecon-demo"));
    const m2 = parsePlatform(loadStackConfig("kubecon-demo"));
    assert.equal(renderDevicePluginConfigMap(m1).hash, renderDevicePluginConfigMap(m2).hash);
    const cfg = loadStackConfig("kubecon-demo") as any;
    cfg.nodes[0].physicalFunctions[0].numVfs = 4;
    assert.notEqual(renderDevicePluginConfigMap(parsePlatform(cfg)).hash, renderDevicePluginConfigMap(m1).hash);
  });

  it("a pool a node does not serve is left out of that node's document", () => {
    const m = parsePlatform(multiNodeConfig());
    const doc = renderNodeDevicePluginConfig(m.nodes[1], m.pools);
    assert.ok(!doc.resourceList.some((r) => r.resourceName === "pods_net"));
  });
});

describe("NetworkAttachmentDefinition", () => {
  it("kubecon-demo sriov-net: resourceName annotation and an sriov CNI config with vlan 0 written", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    const nad = renderNad(m.networks.get("default/sriov-net")!);
    assert.deepEqual(nad.metadata, {
      name: "sriov-net",
      namespace: "default",
      annotations: { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov_net_A" },
    });
    assert.deepEqual(JSON.parse(nad.spec.config), {
      cniVersion: "1.0.0",
      name: "sriov-net",
      type: "sriov",
      vlan: 0,
      spoofchk: "off",
      trust: "on",
      ipam: {},
      capabilities: { mac: true },
    });
  });

  it("every CNI option maps to the plugin's key", () => {
    const m = parsePlatform(multiNodeConfig());
    assert.deepEqual(renderSriovCniConfig(m.networks.get("voip/media")!), {
      cniVersion: "1.0.0",
      name: "media",
      type: "sriov",
      vlan: 100,
      vlanQoS: 5,
      spoofchk: "off",
      trust: "on",
      max_tx_rate: 1000,
      ipam: {},
      capabilities: { mac: true },
    });
    assert.deepEqual(renderSriovCniConfig(m.networks.get("voip/sig")!).ipam, {
      type: "host-local",
      subnet: "192.168.200.0/24",
      rangeStart: "192.168.200.100",
      rangeEnd: "192.168.200.200",
    });
    assert.deepEqual(renderSriovCniConfig(m.networks.get("default/pods")!).ipam, {
      type: "whereabouts",
      range: "10.10.0.0/16",
    });
    const cfg = multiNodeConfig() as any;
    cfg.networks[0] = { ...cfg.networks[0], vlanProto: "802.1ad", linkState: "enable", minTxRate: 10 };
    const c = renderSriovCniConfig(parsePlatform(cfg).networks.get("voip/media")!);
    assert.equal(c.vlanProto, "802.1ad");
    assert.equal(c.link_state, "enable");
    assert.equal(c.min_tx_rate, 10);
  });

  it("declares the mac capability always and ips with static IPAM, so Multus passes a pod's or VM's requests on", () => {
    const cfg = multiNodeConfig() as any;
    cfg.networks[0] = { ...cfg.networks[0], ipam: { type: "static" } };
    assert.deepEqual(renderSriovCniConfig(parsePlatform(cfg).networks.get("voip/media")!).capabilities, {
      mac: true,
      ips: true,
    });
    assert.deepEqual(renderSriovCniConfig(parsePlatform(multiNodeConfig()).networks.get("voip/sig")!).capabilities, {
      mac: true,
    });
  });
});

describe("KubeVirt CR", () => {
  it("v1.9 disables ExternalNetResourceInjection and never sets SRIOV", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    const cr = renderKubevirtCr(m.config.kubevirt, undefined, { dedicatedCpus: false, numaPassthrough: false });
    assert.equal(cr.metadata.namespace, "kubevirt");
    assert.equal(cr.metadata.annotations["kubevirt-sriov/version"], "v1.9.0");
    const dev = (cr.spec.configuration as any).developerConfiguration;
    assert.deepEqual(dev.disabledFeatureGates, ["ExternalNetResourceInjection"]);
    assert.equal(dev.featureGates, undefined);
    assert.equal(dev.useEmulation, false);
    assert.ok(!JSON.stringify(cr).includes('"SRIOV"'));
  });

  it("v1.8 needs no disabled gate; the injector option keeps the gate on", () => {
    const m = parsePlatform({ ...loadStackConfig("kubecon-demo"), kubevirt: { version: "v1.8.4" } });
    assert.deepEqual(effectiveDisabledGates(m.config.kubevirt), []);
    const m2 = parsePlatform({ ...loadStackConfig("kubecon-demo"), kubevirt: { networkResourcesInjector: true } });
    assert.deepEqual(effectiveDisabledGates(m2.config.kubevirt), []);
  });

  it("placement, emulation, extra gates and the mirror reach the CR", () => {
    const m = parsePlatform(multiNodeConfig());
    const kv = { ...m.config.kubevirt, useEmulation: true, featureGates: ["CPUManager"] };
    const cr = renderKubevirtCr(kv, "registry.local:5000/mirror", gateDemand(m));
    assert.deepEqual((cr.spec.infra as any).nodePlacement.nodeSelector, {
      "node-role.kubernetes.io/control-plane": "",
    });
    assert.equal(cr.spec.workloads, undefined);
    assert.equal(cr.spec.imageRegistry, "registry.local:5000/mirror/kubevirt");
    assert.equal(cr.spec.imageTag, "v1.9.0");
    assert.deepEqual((cr.spec.configuration as any).developerConfiguration.featureGates, ["CPUManager"]);
  });

  it("dedicated CPUs turn CPUManager on (Alpha in v1.9, off by default), once, next to the configured gates", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    assert.equal(gateDemand(m).dedicatedCpus, true);
    const dev = (renderKubevirtCr(m.config.kubevirt, undefined, gateDemand(m)).spec.configuration as any)
      .developerConfiguration;
    assert.deepEqual(dev.featureGates, ["CPUManager"]);
    const kv = { ...m.config.kubevirt, featureGates: ["Snapshot", "CPUManager"] };
    assert.deepEqual(effectiveFeatureGates(kv, gateDemand(m)), ["Snapshot", "CPUManager"]);
  });

  it("no VM with dedicated CPUs: no CPUManager; NUMA passthrough needs the NUMA gate only before v1.4.0 (GA since)", () => {
    const cfg = loadStackConfig("kubecon-demo") as any;
    for (const vm of cfg.vms) vm.tuning = { dedicatedCpus: false, isolateEmulatorThread: false };
    const m = parsePlatform(cfg);
    assert.deepEqual(effectiveFeatureGates(m.config.kubevirt, gateDemand(m)), []);
    const numa = { dedicatedCpus: true, numaPassthrough: true };
    assert.deepEqual(effectiveFeatureGates({ ...m.config.kubevirt, version: "v1.9.0" }, numa), ["CPUManager"]);
    assert.deepEqual(effectiveFeatureGates({ ...m.config.kubevirt, version: "v1.3.2" }, numa), ["CPUManager", "NUMA"]);
  });

  it("a gate the stack disables on purpose is not turned back on (the planner refuses such a stack)", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    assert.deepEqual(
      effectiveFeatureGates({ ...m.config.kubevirt, disabledFeatureGates: ["CPUManager"] }, gateDemand(m)),
      [],
    );
  });

  it("version comparison", () => {
    assert.ok(versionAtLeast("v1.9.0", "v1.9.0"));
    assert.ok(versionAtLeast("v1.10.0", "v1.9.0"));
    assert.ok(versionAtLeast("v2.0.0", "v1.9.0"));
    assert.ok(!versionAtLeast("v1.8.4", "v1.9.0"));
    assert.ok(versionAtLeast("v1.9.0-rc.1", "v1.9.0"));
  });

  it("operator manifest: pinned hash accepted, mismatch and missing pin refused with the cure", () => {
    const text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kubevirt\n";
    assert.deepEqual(verifyOperatorManifest(text, "f.yaml", "v1.9.0", sha256Hex(text)), { ok: true });
    const bad = verifyOperatorManifest(text, "f.yaml", "v1.9.0", "0".repeat(64));
    assert.ok(!bad.ok && /expected 0{64}$/.test(bad.problem) && /^the file was changed/.test(bad.fix));
    const none = verifyOperatorManifest(text, "f.yaml", "v1.9.0", undefined);
    assert.ok(!none.ok && none.fix.includes(`set kubevirt.operatorManifest.sha256: ${sha256Hex(text)}`));
    assert.equal(
      mirrorOperatorManifest("image: quay.io/kubevirt/virt-operator:v1.9.0", "reg.local/m"),
      "image: reg.local/m/kubevirt/virt-operator:v1.9.0",
    );
  });
});

describe("images", () => {
  it("pinned defaults, never latest", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    assert.deepEqual(agentImages(m.config), {
      multus: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0-thick",
      sriovDevicePlugin: "ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.11.0",
      networkResourcesInjector: "ghcr.io/k8snetworkplumbingwg/network-resources-injector:v1.9.0",
      sriovCni: "ghcr.io/k8snetworkplumbingwg/sriov-cni:v2.10.0",
    });
  });
  it("mirror keeps the repository path and tag", () => {
    assert.equal(mirrorImage("ghcr.io/a/b:v1", "reg.local:5000/m/"), "reg.local:5000/m/a/b:v1");
    assert.equal(mirrorImage("busybox:1.36", "reg.local"), "reg.local/library/busybox:1.36");
    assert.equal(mirrorImage("org/app:v2", "reg.local"), "reg.local/org/app:v2");
    assert.equal(mirrorImage("localhost/x:v1", "reg.local"), "reg.local/x:v1");
  });
});

describe("node desired state", () => {
  it("renders PFs in config order with sorted VF groups and kernel needs", () => {
    const m = parsePlatform(multiNodeConfig());
    const s = renderNodeState(m.nodes[0]);
    assert.equal(s.node, "worker-a");
    assert.deepEqual(
      s.pfs.map((p) => [p.name, p.pciAddress, p.numVfs]),
      [
        ["ens1f0", undefined, 16],
        ["ens1f1", undefined, 8],
      ],
    );
    assert.deepEqual(s.pfs[0].vfGroups, [
      { first: 0, last: 7, driver: "vfio-pci", pool: "media_a" },
      { first: 8, last: 15, driver: "vfio-pci", pool: "signalling" },
    ]);
    assert.deepEqual(s.kernel, { iommu: "intel", hugepages1G: 0, hugepages2M: 0, writeBootloader: false });
    assert.deepEqual(renderNodeState(m.nodes[0]), s, "deterministic");
  });
});
