// The real-kubelet lab's pure parts: the files that make a guest a node, the SIPp statistics
// parser, and the agreement between the lab's build pins and the program's.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
  clusterNetwork,
  containerdConfig,
  kubeletConfig,
  KubeletNode,
  kubeProxyConfig,
  nodeFiles,
  PAUSE_IMAGE,
  primaryNetwork,
  REGISTRY_MIRROR,
} from "../../lab/kubelet/nodeConfig";
import { parseSippStats } from "../../lab/kubelet/sip";
import { vfPod } from "../../lab/kubelet/pods";
import { DEFAULT_VERSIONS } from "../../config/versions";

const node = (index: number): KubeletNode => ({
  name: `lab-node-${index}`,
  index,
  peers: [1, 2],
  apiPort: 24643,
  serverCa: "SERVER CA",
  clientCa: "CLIENT CA",
  kubelet: { cert: "KCERT", key: "KKEY" },
  kubeProxy: { cert: "PCERT", key: "PKEY" },
  labels: { "kubevirt-sriov/lab": "true" },
});

describe("lab kubelet node files", () => {
  it("the kubelet runs the static CPU manager with CPUs kept for the system, as dedicated-CPU VMs need", () => {
    const k = kubeletConfig();
    assert.equal(k.cpuManagerPolicy, "static");
    assert.equal(k.reservedSystemCPUs, "0");
    assert.equal(k.cgroupDriver, "systemd");
  });

  it("kubeconfigs lead to the apiserver through the guest-side address, with the node's own identity", () => {
    const files = nodeFiles(node(2));
    const kc = JSON.parse(files["/etc/kubernetes/kubelet.kubeconfig"]);
    assert.equal(kc.clusters[0].cluster.server, "https://10.0.2.100:24643");
    assert.equal(Buffer.from(kc.clusters[0].cluster["certificate-authority-data"], "base64").toString(), "SERVER CA");
    assert.equal(kc.users[0].name, "system:node:lab-node-2");
    assert.equal(JSON.parse(files["/etc/kubernetes/kube-proxy.kubeconfig"]).users[0].name, "system:kube-proxy");
    assert.match(files["/etc/kubernetes/kubelet.env"], /^NODE_NAME=lab-node-2\nNODE_IP=172\.30\.0\.2\n/);
  });

  it("containerd pulls through the lab registry over plain HTTP, the sandbox image included", () => {
    const toml = containerdConfig();
    assert.match(toml, /^version = 3$/m);
    assert.ok(toml.includes(`sandbox = '${PAUSE_IMAGE}'`));
    assert.ok(PAUSE_IMAGE.startsWith(`${REGISTRY_MIRROR}/`));
    assert.match(toml, /config_path = '\/etc\/containerd\/certs\.d'/);
    assert.match(toml, /SystemdCgroup = true/);
    const hosts = nodeFiles(node(1))[`/etc/containerd/certs.d/${REGISTRY_MIRROR}/hosts.toml`];
    assert.match(hosts, new RegExp(`^server = "http://${REGISTRY_MIRROR}"`));
  });

  it("each node's pods get their own subnet, routed to the other nodes over the cluster wire", () => {
    const ranges = (i: number) => (primaryNetwork(node(i)).plugins as any[])[0].ipam.ranges[0][0].subnet as string;
    assert.deepEqual([ranges(1), ranges(2)], ["10.244.1.0/24", "10.244.2.0/24"]);
    const net = clusterNetwork(node(1));
    assert.match(net, /MACAddress=52:54:00:4b:01:10/);
    assert.match(net, /Address=172\.30\.0\.1\/24/);
    assert.match(net, /Destination=10\.244\.2\.0\/24\nGateway=172\.30\.0\.2/);
    assert.doesNotMatch(net, /10\.244\.1\.0/, "no route to its own pods");
  });

  it("the service range is routed on the management NIC, before kube-proxy's DNAT to the apiserver", () => {
    const files = nodeFiles(node(1));
    assert.equal(
      files["/etc/systemd/network/10-mgmt.network.d/kvs-services.conf"],
      "[Route]\nDestination=10.96.0.0/24\n",
    );
    assert.equal((kubeProxyConfig(node(1)).iptables as any).masqueradeAll, true);
  });

  it("a test pod asks for its extended resources as requests and limits, and names its attachments", () => {
    const pod = vfPod({
      name: "p",
      node: "lab-node-1",
      image: "i",
      networks: [{ name: "pod-net", ips: ["10.56.0.1/24"] }],
      resources: { "intel.com/pod_net": 1 },
    }) as any;
    assert.deepEqual(pod.spec.containers[0].resources, {
      requests: { "intel.com/pod_net": "1" },
      limits: { "intel.com/pod_net": "1" },
    });
    assert.deepEqual(JSON.parse(pod.metadata.annotations["k8s.v1.cni.cncf.io/networks"]), [
      { name: "pod-net", ips: ["10.56.0.1/24"] },
    ]);
    assert.equal(pod.spec.nodeName, "lab-node-1");
  });
});

describe("SIPp statistics", () => {
  it("reads the last line's cumulative counts by column name", () => {
    const header =
      "StartTime;LastResetTime;CurrentTime;ElapsedTime(P);ElapsedTime(C);TargetRate;CallRate(P);CallRate(C);SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C)";
    const csv = `${header}\n1;2;3;4;5;5;2.3;4.1;9;50;0;0\n1;2;3;4;5;5;0;4.16;0;100;0;1\n`;
    assert.deepEqual(parseSippStats(csv), { successful: 100, failed: 1, callRate: 4.16 });
  });

  it("refuses a run that wrote no statistics", () => {
    assert.throws(() => parseSippStats("sipp: cannot bind\n"), /SIPp wrote no statistics/);
  });
});

describe("lab build pins", () => {
  it("lab/versions.env builds the agents at the versions the program deploys", () => {
    const env = fs.readFileSync(path.join(__dirname, "..", "..", "lab", "versions.env"), "utf8");
    const pin = (k: string) => new RegExp(`^${k}=(\\S+)$`, "m").exec(env)?.[1];
    assert.equal(pin("MULTUS_VERSION"), DEFAULT_VERSIONS.multus);
    assert.equal(pin("SRIOV_DP_VERSION"), DEFAULT_VERSIONS.sriovDevicePlugin);
    assert.equal(pin("SRIOV_CNI_VERSION"), DEFAULT_VERSIONS.sriovCni);
  });
});
