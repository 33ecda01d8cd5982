// What makes a lab guest a Kubernetes node, as files: pure functions of the node's place in the
// lab (tested in test/unit/lab-kubelet.test.ts). lab/kubelet/kubelets.ts sends them to the guest,
// where /opt/kvs/setup (guest-setup.sh) installs them beside what every node shares.
//
// Addresses, all inside the guest's own view (nothing leaves this machine):
//   10.0.2.100:<apiserver port>  the lab's kube-apiserver on the host, through a QEMU guestfwd
//   10.0.2.101:5000              the lab's registry on the host (registryMirror), through a guestfwd
//   172.30.0.<index>/24          the node's cluster NIC: a wire between the guests (node IP)
//   10.244.<index>.0/24          the node's pods on the primary network (bridge cni0), routed to the
//                                other nodes over the cluster wire
export const GUEST_API_ADDRESS = "10.0.2.100";
export const GUEST_REGISTRY_ADDRESS = "10.0.2.101";
export const GUEST_REGISTRY_PORT = 5000;
export const REGISTRY_MIRROR = `${GUEST_REGISTRY_ADDRESS}:${GUEST_REGISTRY_PORT}`;
export const PAUSE_IMAGE = `${REGISTRY_MIRROR}/pause:3.10.2`;
export const CLUSTER_CIDR = "10.244.0.0/16";
export const SERVICE_CIDR = "10.96.0.0/24";

export const clusterAddress = (index: number): string => `172.30.0.${index}`;
export const podSubnet = (index: number): string => `10.244.${index}.0/24`;
/** The cluster NIC's MAC (the guest's NIC 0x10, see lab/guest/guests.ts). */
export const clusterMac = (index: number): string => `52:54:00:4b:${index.toString(16).padStart(2, "0")}:10`;

export interface KubeletNode {
  /** Kubernetes node name = the guest's hostname. */
  name: string;
  /** The guest's lab index (1, 2, ...): its addresses. */
  index: number;
  /** Every node's index, for the routes to their pod subnets. */
  peers: number[];
  /** The host port of the kube-apiserver (the same port inside the guest, on GUEST_API_ADDRESS). */
  apiPort: number;
  /** PEM: the cluster CA the kubelet and kube-proxy trust (the apiserver's serving chain). */
  serverCa: string;
  /** PEM: the lab CA that signs client certificates (kubelet webhook-less x509 authn). */
  clientCa: string;
  kubelet: { cert: string; key: string };
  kubeProxy: { cert: string; key: string };
  labels: Record<string, string>;
}

function kubeconfig(n: KubeletNode, user: string, cert: string, key: string): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "lab",
          cluster: {
            server: `https://${GUEST_API_ADDRESS}:${n.apiPort}`,
            "certificate-authority-data": b64(n.serverCa),
          },
        },
      ],
      users: [{ name: user, user: { "client-certificate-data": b64(cert), "client-key-data": b64(key) } }],
      contexts: [{ name: "lab", context: { cluster: "lab", user } }],
      "current-context": "lab",
    },
    null,
    2,
  );
}

/** KubeletConfiguration: the static CPU manager the program's dedicated-CPU VMs require. */
export function kubeletConfig(): Record<string, unknown> {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: "/etc/kubernetes/pki/client-ca.crt" },
    },
    authorization: { mode: "AlwaysAllow" },
    cgroupDriver: "systemd",
    containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
    // The program's VMs ask for dedicated CPUs: KubeVirt needs the static policy, and the static
    // policy needs CPUs kept for the system (2 vCPUs: CPU 0 for the system, CPU 1 exclusive).
    cpuManagerPolicy: "static",
    reservedSystemCPUs: "0",
    // No cluster DNS in the lab (no pod needs a name).
    clusterDomain: "cluster.local",
    resolvConf: "/etc/resolv.conf",
    failSwapOn: false,
    serializeImagePulls: false,
    maxPods: 32,
    // A small guest disk: evict late, collect images late.
    evictionHard: { "memory.available": "50Mi", "nodefs.available": "5%", "imagefs.available": "5%" },
    imageGCHighThresholdPercent: 95,
    imageGCLowThresholdPercent: 90,
    // TCG guests are slow: report status less often than the default 10 s.
    nodeStatusUpdateFrequency: "20s",
    rotateCertificates: false,
    serverTLSBootstrap: false,
  };
}

export function kubeProxyConfig(n: KubeletNode): Record<string, unknown> {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: "/etc/kubernetes/kube-proxy.kubeconfig" },
    hostnameOverride: n.name,
    mode: "iptables",
    clusterCIDR: CLUSTER_CIDR,
    // Pods reach the apiserver's service address (10.96.0.1) through NAT to GUEST_API_ADDRESS,
    // which QEMU's user network only accepts from the guest's own address: masquerade it all.
    iptables: { masqueradeAll: true },
    conntrack: { maxPerCore: 0 },
    metricsBindAddress: "127.0.0.1:10249",
    healthzBindAddress: "127.0.0.1:10256",
  };
}

export function containerdConfig(): string {
  return `# kubevirt-sriov lab node (lab/kubelet/nodeConfig.ts)
version = 3

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '${PAUSE_IMAGE}'
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '/etc/containerd/certs.d'

[plugins.'io.containerd.cri.v1.runtime']
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = '/opt/kvs/bin/runc'
      SystemdCgroup = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/opt/cni/bin']
    conf_dir = '/etc/cni/net.d'
`;
}

/** The lab registry serves plain HTTP on the guest's side of the guestfwd. */
export function registryHosts(): string {
  return `server = "http://${REGISTRY_MIRROR}"

[host."http://${REGISTRY_MIRROR}"]
  capabilities = ["pull", "resolve"]
`;
}

/** The primary pod network: a bridge with host-local addresses from the node's pod subnet. */
export function primaryNetwork(n: KubeletNode): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: "lab-pods",
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: "host-local", ranges: [[{ subnet: podSubnet(n.index) }]], routes: [{ dst: "0.0.0.0/0" }] },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

/** systemd-networkd: the cluster NIC's address and a route to every other node's pods. Named 05-… so it
 * matches before the image's 10-mgmt.network (which takes every virtio NIC). */
export function clusterNetwork(n: KubeletNode): string {
  const routes = n.peers
    .filter((p) => p !== n.index)
    .map((p) => `\n[Route]\nDestination=${podSubnet(p)}\nGateway=${clusterAddress(p)}\n`)
    .join("");
  return `[Match]\nMACAddress=${clusterMac(n.index)}\n\n[Network]\nAddress=${clusterAddress(n.index)}/24\nLinkLocalAddressing=no\n${routes}`;
}

/**
 * A route to the service range on the management NIC: a socket to 10.96.0.1 needs a route before
 * kube-proxy's DNAT (to GUEST_API_ADDRESS, on that NIC) ever sees the packet, and the guest has no
 * default route (QEMU's user network with restrict=on leads nowhere else).
 */
export function serviceRoute(): string {
  return `[Route]\nDestination=${SERVICE_CIDR}\n`;
}

/** Every file the node gets, by absolute path in the guest. */
export function nodeFiles(n: KubeletNode): Record<string, string> {
  const labels = Object.entries(n.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return {
    "/etc/kubernetes/kubelet.kubeconfig": kubeconfig(n, `system:node:${n.name}`, n.kubelet.cert, n.kubelet.key),
    "/etc/kubernetes/kube-proxy.kubeconfig": kubeconfig(n, "system:kube-proxy", n.kubeProxy.cert, n.kubeProxy.key),
    "/etc/kubernetes/pki/client-ca.crt": n.clientCa,
    "/etc/kubernetes/kubelet.yaml": JSON.stringify(kubeletConfig(), null, 2),
    "/etc/kubernetes/kube-proxy.yaml": JSON.stringify(kubeProxyConfig(n), null, 2),
    "/etc/kubernetes/kubelet.env": `NODE_NAME=${n.name}\nNODE_IP=${clusterAddress(n.index)}\nNODE_LABELS=${labels}\n`,
    "/etc/containerd/config.toml": containerdConfig(),
    [`/etc/containerd/certs.d/${REGISTRY_MIRROR}/hosts.toml`]: registryHosts(),
    "/etc/cni/net.d/10-lab-pods.conflist": JSON.stringify(primaryNetwork(n), null, 2),
    "/etc/systemd/network/05-kvs-cluster.network": clusterNetwork(n),
    "/etc/systemd/network/10-mgmt.network.d/kvs-services.conf": serviceRoute(),
  };
}
