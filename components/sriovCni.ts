import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AGENT_OBJECTS, AGENT_TOLERATIONS, awaitAnnotations, PART_OF, SRIOV_NODE_LABEL } from "../config/labels";
import { childName } from "../config/names";
import { TOKENS } from "./tokens";

export interface SriovCniArgs {
  /** The agent namespace the objects go in (required). */
  namespace: string;
  /** The agent's image, pinned and mirror-aware (required). */
  image: string;
  /** Wait for the workloads to become ready (required; false where no kubelet runs). */
  waitForReadiness: boolean;
}

/**
 * SR-IOV CNI: a DaemonSet that copies the `sriov` binary into /opt/cni/bin. Unprivileged.
 *
 * Follows upstream's `images/sriov-cni-daemonset.yaml` at the pinned tag (v2.10.0): the image's
 * own entrypoint (no command or args), the same security context, resources, volume and mount.
 * Deliberate differences:
 * - `nodeSelector` on the SR-IOV node label: only nodes this stack prepared get the plugin
 *   (upstream runs everywhere);
 * - tolerations: every NoSchedule/NoExecute taint, like the device plugin, so a tainted SR-IOV
 *   node still gets its CNI (upstream tolerates only the control-plane taints);
 * - namespace `agentNamespace`, a pinned mirror-aware image (upstream: untagged), our labels;
 * - `automountServiceAccountToken: false`: the container only runs images/entrypoint.sh, which
 *   copies the binary and sleeps, and v2.10.0 has no Kubernetes client at all (its go.mod has no
 *   k8s.io module), so the default service account's token upstream's pod gets is unused.
 * test/unit/agents-upstream.test.ts holds upstream's values and fails on any other difference.
 */
export class SriovCni extends pulumi.ComponentResource {
  public readonly daemonSetName: pulumi.Output<string>;
  public readonly image: pulumi.Output<string>;

  constructor(name: string, args: SriovCniArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.sriovCni, name, {}, opts);
    const labels = { ...PART_OF, app: "sriov-cni", tier: "node", name: "sriov-cni" };
    const ds = new k8s.apps.v1.DaemonSet(
      childName(name, "ds"),
      {
        metadata: {
          name: AGENT_OBJECTS.sriovCniDaemonSet,
          namespace: args.namespace,
          labels,
          annotations: awaitAnnotations(args.waitForReadiness),
        },
        spec: {
          selector: { matchLabels: { name: "sriov-cni" } },
          updateStrategy: { type: "RollingUpdate" },
          template: {
            metadata: { labels },
            spec: {
              nodeSelector: { [SRIOV_NODE_LABEL]: "true", "kubernetes.io/os": "linux" },
              tolerations: AGENT_TOLERATIONS,
              automountServiceAccountToken: false,
              containers: [
                {
                  name: "kube-sriov-cni",
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    privileged: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                  resources: { requests: { cpu: "100m", memory: "50Mi" }, limits: { cpu: "100m", memory: "50Mi" } },
                  volumeMounts: [{ name: "cnibin", mountPath: "/host/opt/cni/bin" }],
                },
              ],
              volumes: [{ name: "cnibin", hostPath: { path: "/opt/cni/bin" } }],
            },
          },
        },
      },
      { parent: this },
    );
    this.daemonSetName = ds.metadata.name;
    this.image = pulumi.output(args.image);
    this.registerOutputs({ daemonSetName: this.daemonSetName, image: this.image });
  }
}
