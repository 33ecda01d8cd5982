// Test pods on the lab's kubelets: made through the API server like any user's pod, inspected in
// the guest with crictl over SSH (the API server cannot reach a kubelet's port: the guests are
// behind QEMU's user network, so `kubectl exec` has no way in).
import type { ControlPlane } from "../controlPlane";
import type { Guest } from "../guest/guests";
import { waitFor } from "../processes";

export const NET_TOOLS_REPOSITORY = "kubevirt-sriov/lab-net-tools";

export interface VfPodSpec {
  name: string;
  namespace?: string;
  node: string;
  /** The image, e.g. `${REGISTRY_MIRROR}/${NET_TOOLS_REPOSITORY}:<tag>` (lab/kubelet/images.sh refs). */
  image: string;
  /** Network attachments (Multus' network selection elements), e.g. [{ name, ips, mac }]. */
  networks?: { name: string; namespace?: string; ips?: string[]; mac?: string }[];
  /** Extended resources, e.g. { "intel.com/pod_net": 1 } (requests = limits). */
  resources?: Record<string, number>;
}

/** A long-running pod of the test image, pinned to a node (nodeName: no scheduler decision to wait on). */
export function vfPod(spec: VfPodSpec): Record<string, unknown> {
  const res = Object.fromEntries(Object.entries(spec.resources ?? {}).map(([k, v]) => [k, String(v)]));
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: spec.name,
      namespace: spec.namespace ?? "default",
      labels: { "kubevirt-sriov/lab-test": "true" },
      annotations: spec.networks ? { "k8s.v1.cni.cncf.io/networks": JSON.stringify(spec.networks) } : {},
    },
    spec: {
      nodeName: spec.node,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "tools",
          image: spec.image,
          command: ["sleep", "infinity"],
          // NET_RAW for ping and tcpdump; NET_ADMIN to look at links like a network function would.
          securityContext: { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
          resources: { requests: res, limits: res },
        },
      ],
    },
  };
}

export async function createPod(cp: ControlPlane, pod: Record<string, any>): Promise<void> {
  const ns = pod.metadata.namespace;
  const r = await cp.request("POST", `/api/v1/namespaces/${ns}/pods`, pod);
  if (r.status !== 201)
    throw new Error(
      `creating pod ${ns}/${pod.metadata.name}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`,
    );
}

/** Waits for Running with every container ready; returns the pod. Fails fast on a sandbox error. */
export async function waitRunning(cp: ControlPlane, ns: string, name: string, timeoutMs = 300_000): Promise<any> {
  let pod: any;
  await waitFor(
    `pod ${ns}/${name} Running`,
    async () => {
      pod = await cp.find(`/api/v1/namespaces/${ns}/pods/${name}`);
      const ready = (pod?.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
      return pod?.status?.phase === "Running" && ready;
    },
    timeoutMs,
  ).catch(async (e) => {
    const events = await cp
      .get(`/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name=${name}`)
      .catch(() => ({ items: [] }));
    const last = (events.items as any[])
      .slice(-5)
      .map((ev) => `${ev.reason}: ${ev.message}`)
      .join("\n");
    throw new Error(`${(e as Error).message}\nphase ${pod?.status?.phase}; events:\n${last}`);
  });
  return pod;
}

export async function deletePod(cp: ControlPlane, ns: string, name: string, timeoutMs = 120_000): Promise<void> {
  const r = await cp.request("DELETE", `/api/v1/namespaces/${ns}/pods/${name}`);
  if (r.status !== 200 && r.status !== 404) throw new Error(`deleting pod ${ns}/${name}: HTTP ${r.status}`);
  await waitFor(
    `pod ${ns}/${name} gone`,
    async () => (await cp.find(`/api/v1/namespaces/${ns}/pods/${name}`)) === undefined,
    timeoutMs,
  );
}

/** Runs a command in the pod's container, through crictl on its node; returns stdout. */
export async function podExec(
  guest: Guest,
  ns: string,
  name: string,
  command: string,
  timeoutMs = 120_000,
): Promise<string> {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    `pod=$(crictl pods --namespace ${q(ns)} --name ${q(`^${name}$`)} --state ready -q | head -n1)`,
    `[ -n "$pod" ] || { echo "no ready sandbox for ${ns}/${name}" >&2; exit 97; }`,
    `c=$(crictl ps --pod "$pod" --name '^tools$' -q | head -n1)`,
    `[ -n "$c" ] || { echo "no running container in ${ns}/${name}" >&2; exit 98; }`,
    `exec crictl exec "$c" sh -c ${q(command)}`,
  ].join("\n");
  return guest.run(script, { timeoutMs });
}

/** Multus' record of the pod's attachments (k8s.v1.cni.cncf.io/network-status). */
export function networkStatus(
  pod: any,
): { name: string; interface?: string; ips?: string[]; mac?: string; "device-info"?: any }[] {
  const raw = pod?.metadata?.annotations?.["k8s.v1.cni.cncf.io/network-status"];
  return raw ? JSON.parse(raw) : [];
}
