// The node agents against upstream: every command, argument, volume and mount of the three
// DaemonSets the program renders is compared with upstream's manifest at the pinned tag (the
// values below were read from those manifests with `git show <tag>:<path>`), and only the
// differences documented in the components are allowed. A second check runs every command
// against the image layout of config/agentImages.ts (upstream's Dockerfiles).
import { strict as assert } from "assert";
import { AGENT_IMAGE_LAYOUTS } from "../../config/agentImages";
import { DEFAULT_VERSIONS } from "../../config/versions";
import { multiNodeConfig } from "../fixtures/stacks";
import { runProgram, SSH_KEY_CONFIG, withLabManifest } from "../harness/program";
import type { ProgramResult } from "../harness/runProgram";

interface Mount {
  mountPath: string;
  mountPropagation?: string;
  readOnly?: boolean;
}
interface Container {
  command?: string[];
  args?: string[];
  privileged?: boolean;
  env?: string[];
  mounts: Record<string, Mount>;
}
interface Volume {
  hostPath?: { path: string; type?: string };
  configMap?: string;
}
interface PodShape {
  hostNetwork?: boolean;
  hostPID?: boolean;
  serviceAccountName?: string;
  initContainers: Record<string, Container>;
  containers: Record<string, Container>;
  volumes: Record<string, Volume>;
}

/** Reduces a pod spec to what this comparison is about. */
function shape(spec: any): PodShape {
  const container = (c: any): Container => {
    const out: Container = { mounts: {} };
    if (c.command) out.command = c.command;
    if (c.args) out.args = c.args;
    if (c.securityContext?.privileged !== undefined) out.privileged = c.securityContext.privileged;
    if (c.env) out.env = c.env.map((e: { name: string }) => e.name);
    for (const m of c.volumeMounts ?? []) {
      const mount: Mount = { mountPath: m.mountPath };
      if (m.mountPropagation) mount.mountPropagation = m.mountPropagation;
      if (m.readOnly) mount.readOnly = true;
      out.mounts[m.name] = mount;
    }
    return out;
  };
  const byName = (list: any[] | undefined) => Object.fromEntries((list ?? []).map((c) => [c.name, container(c)]));
  const volumes: Record<string, Volume> = {};
  for (const v of spec.volumes ?? []) {
    if (v.hostPath)
      volumes[v.name] = {
        hostPath: v.hostPath.type ? { path: v.hostPath.path, type: v.hostPath.type } : { path: v.hostPath.path },
      };
    else if (v.configMap) volumes[v.name] = { configMap: v.configMap.name };
    else volumes[v.name] = {};
  }
  const out: PodShape = { initContainers: byName(spec.initContainers), containers: byName(spec.containers), volumes };
  if (spec.hostNetwork !== undefined) out.hostNetwork = spec.hostNetwork;
  if (spec.hostPID !== undefined) out.hostPID = spec.hostPID;
  if (spec.serviceAccountName !== undefined) out.serviceAccountName = spec.serviceAccountName;
  return out;
}

const host = (p: string, type?: string): Volume => ({ hostPath: type ? { path: p, type } : { path: p } });

/** multus-cni v4.3.0 deployments/multus-daemonset-thick.yml, DaemonSet kube-multus-ds. */
const UPSTREAM_MULTUS: PodShape = {
  hostNetwork: true,
  hostPID: true,
  serviceAccountName: "multus",
  initContainers: {
    "install-multus-binary": {
      command: ["/usr/src/multus-cni/bin/install_multus", "-d", "/host/opt/cni/bin", "-t", "thick"],
      privileged: true,
      mounts: { cnibin: { mountPath: "/host/opt/cni/bin", mountPropagation: "Bidirectional" } },
    },
  },
  containers: {
    "kube-multus": {
      command: ["/usr/src/multus-cni/bin/multus-daemon"],
      privileged: true,
      env: ["MULTUS_NODE_NAME"],
      mounts: {
        cni: { mountPath: "/host/etc/cni/net.d" },
        cnibin: { mountPath: "/opt/cni/bin" },
        "host-run": { mountPath: "/host/run" },
        "host-var-lib-cni-multus": { mountPath: "/var/lib/cni/multus" },
        "host-var-lib-kubelet": { mountPath: "/var/lib/kubelet", mountPropagation: "HostToContainer" },
        "host-run-k8s-cni-cncf-io": { mountPath: "/run/k8s.cni.cncf.io" },
        "host-run-netns": { mountPath: "/run/netns", mountPropagation: "HostToContainer" },
        "multus-daemon-config": { mountPath: "/etc/cni/net.d/multus.d", readOnly: true },
        hostroot: { mountPath: "/hostroot", mountPropagation: "HostToContainer" },
        "multus-conf-dir": { mountPath: "/etc/cni/multus/net.d" },
      },
    },
  },
  volumes: {
    cni: host("/etc/cni/net.d"),
    cnibin: host("/opt/cni/bin"),
    hostroot: host("/"),
    "multus-daemon-config": { configMap: "multus-daemon-config" },
    "host-run": host("/run"),
    "host-var-lib-cni-multus": host("/var/lib/cni/multus"),
    "host-var-lib-kubelet": host("/var/lib/kubelet"),
    "host-run-k8s-cni-cncf-io": host("/run/k8s.cni.cncf.io"),
    "host-run-netns": host("/run/netns/"),
    "multus-conf-dir": host("/etc/cni/multus/net.d"),
  },
};

/** sriov-network-device-plugin v3.11.0 deployments/sriovdp-daemonset.yaml, kube-sriov-device-plugin. */
const UPSTREAM_DEVICE_PLUGIN: PodShape = {
  hostNetwork: true,
  serviceAccountName: "sriov-device-plugin",
  initContainers: {},
  containers: {
    "kube-sriovdp": {
      args: ["--log-dir=sriovdp", "--log-level=10"],
      privileged: true,
      mounts: {
        devicesock: { mountPath: "/var/lib/kubelet/device-plugins" },
        "plugins-registry": { mountPath: "/var/lib/kubelet/plugins_registry" },
        log: { mountPath: "/var/log" },
        "config-volume": { mountPath: "/etc/pcidp" },
        "device-info": { mountPath: "/var/run/k8s.cni.cncf.io/devinfo/dp" },
      },
    },
  },
  volumes: {
    devicesock: host("/var/lib/kubelet/device-plugins"),
    "plugins-registry": host("/var/lib/kubelet/plugins_registry"),
    log: host("/var/log"),
    "device-info": host("/var/run/k8s.cni.cncf.io/devinfo/dp", "DirectoryOrCreate"),
    "config-volume": { configMap: "sriovdp-config" },
  },
};

/** sriov-cni v2.10.0 images/sriov-cni-daemonset.yaml, kube-sriov-cni-ds. */
const UPSTREAM_SRIOV_CNI: PodShape = {
  initContainers: {},
  containers: {
    "kube-sriov-cni": { privileged: false, mounts: { cnibin: { mountPath: "/host/opt/cni/bin" } } },
  },
  volumes: { cnibin: host("/opt/cni/bin") },
};

function render(cfg: Record<string, any>): ProgramResult {
  const r = runProgram({ stack: "agents", platform: withLabManifest(cfg), config: SSH_KEY_CONFIG });
  assert.equal(r.error, undefined, r.error?.message);
  return r;
}

function daemonSet(r: ProgramResult, name: string): any {
  const found = r.resources.filter(
    (x) => x.type === "kubernetes:apps/v1:DaemonSet" && x.inputs.metadata?.name === name,
  );
  assert.equal(found.length, 1, `one DaemonSet ${name}`);
  return found[0].inputs;
}

describe("node agents against upstream's manifests at the pinned tags", function () {
  this.timeout(120_000);
  let r: ProgramResult;
  before(() => {
    r = render(multiNodeConfig());
  });

  it("the pinned versions are the ones these upstream values were read at", () => {
    // Bumping a version means reading upstream's manifest again and updating this file.
    assert.deepEqual(
      [DEFAULT_VERSIONS.multus, DEFAULT_VERSIONS.sriovDevicePlugin, DEFAULT_VERSIONS.sriovCni],
      ["v4.3.0", "v3.11.0", "v2.10.0"],
    );
  });

  it("Multus thick: upstream's init container, daemon, volumes and mounts, nothing else", () => {
    assert.deepEqual(shape(daemonSet(r, "kube-multus-ds").spec.template.spec), UPSTREAM_MULTUS);
  });

  it("device plugin: upstream's container, volumes and mounts; differs only by its per-node config file", () => {
    const ours = shape(daemonSet(r, "kube-sriov-device-plugin").spec.template.spec);
    const expected = structuredClone(UPSTREAM_DEVICE_PLUGIN);
    const c = expected.containers["kube-sriovdp"];
    // Deliberate: the nodes of this stack differ, so each reads its own file.
    c.args = [...(c.args ?? []), "--config-file=/etc/pcidp/$(NODE_NAME).json"];
    c.env = ["NODE_NAME"];
    assert.deepEqual(ours, expected);
  });

  it("device plugin: scheduled only on the stack's SR-IOV nodes that have a config file of their own", () => {
    const spec = daemonSet(r, "kube-sriov-device-plugin").spec.template.spec;
    const terms = spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    // One term per node: the API server refuses more than one value in a metadata.name selector
    // (found by the lab's real kube-apiserver).
    assert.deepEqual(
      terms,
      ["worker-a", "worker-b"].map((n) => ({ matchFields: [{ key: "metadata.name", operator: "In", values: [n] }] })),
    );
    const cm = r.resources.find((x) => x.inputs.metadata?.name === "sriovdp-config")!;
    assert.deepEqual(
      Object.keys(cm.inputs.data).sort(),
      terms.map((t: any) => `${t.matchFields[0].values[0]}.json`),
    );
    assert.equal(spec.nodeSelector["kubevirt-sriov/sriov-node"], "true");
  });

  it("SR-IOV CNI: upstream's container, volume and mount, unprivileged, the image's own entrypoint", () => {
    assert.deepEqual(shape(daemonSet(r, "kube-sriov-cni-ds").spec.template.spec), UPSTREAM_SRIOV_CNI);
  });

  it("every command the agents run exists in its image as upstream's Dockerfile lays it out", () => {
    const layouts: Record<string, { entrypoint: readonly string[]; executables: readonly string[] }> = {
      "kube-multus-ds": AGENT_IMAGE_LAYOUTS.multus,
      "kube-sriov-device-plugin": AGENT_IMAGE_LAYOUTS.sriovDevicePlugin,
      "kube-sriov-cni-ds": AGENT_IMAGE_LAYOUTS.sriovCni,
    };
    for (const [name, layout] of Object.entries(layouts)) {
      const spec = daemonSet(r, name).spec.template.spec;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const runs = (c.command ?? layout.entrypoint)[0];
        assert.ok(
          layout.executables.includes(runs),
          `${name}/${c.name} runs ${runs}, which its image does not have (has: ${layout.executables.join(", ")})`,
        );
      }
    }
  });

  it("the layout check catches the thin image's /install_multus (so it can fail)", () => {
    assert.ok(!AGENT_IMAGE_LAYOUTS.multus.executables.includes("/install_multus" as never));
  });
});
