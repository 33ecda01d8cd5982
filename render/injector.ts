// The network-resources-injector: the mutating webhook that, with KubeVirt's
// ExternalNetResourceInjection gate on (the default from v1.9), adds the VF requests named by
// each NAD's resourceName annotation to virt-launcher pods. Rendered here as plain objects; the
// component only wires them. The program owns every object, including the serving certificate
// and the webhook configuration, so `pulumi destroy` leaves no webhook behind that would refuse
// pods (upstream's installer init container creates those itself, outside any tool's control).
import type { InjectorSettings } from "../config/schema";

export const INJECTOR = {
  name: "network-resources-injector",
  service: "network-resources-injector-service",
  secret: "network-resources-injector-tls",
  webhookConfiguration: "network-resources-injector-config",
  webhook: "network-resources-injector-config.k8s.cni.cncf.io",
  /** The webhook reads its control switches from this ConfigMap in its own namespace. */
  controlSwitches: "nri-control-switches",
  port: 8443,
  healthPort: 8444,
} as const;

/** KubeVirt labels every virt-launcher pod `kubevirt.io: virt-launcher`. */
export const VIRT_LAUNCHER_SELECTOR = { "kubevirt.io": "virt-launcher" };

/**
 * Names the serving certificate must carry. The API server calls the webhook as
 * `<service>.<namespace>.svc`, so that name comes first (and is the subject CN).
 */
export function serviceDnsNames(namespace: string): string[] {
  const s = INJECTOR.service;
  return [`${s}.${namespace}.svc`, `${s}.${namespace}.svc.cluster.local`, `${s}.${namespace}`, s];
}

/**
 * The renewal period `now` falls in: a new serving certificate is issued when it changes, so
 * `pulumi up` renews once every `renewEveryDays` and is a no-op in between.
 */
export function renewalPeriod(now: Date, renewEveryDays: number): string {
  const days = Math.floor(now.getTime() / 86_400_000);
  const index = Math.floor(days / renewEveryDays);
  const start = new Date(index * renewEveryDays * 86_400_000).toISOString().slice(0, 10);
  return `${renewEveryDays}d-from-${start}`;
}

/** What the certificate command prints (node/webhook-tls.js). */
export interface InjectorTls {
  caBundle: string;
  cert: string;
  key: string;
  notAfter: string;
  caNotAfter: string;
}

/** Reads the certificate command's output, refusing anything that is not a whole bundle. */
export function parseTlsBundle(stdout: string): InjectorTls {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new Error(
      `the injector's certificate command printed no JSON (${stdout.length} bytes): run \`pulumi up\` again; if it persists, check that \`node\` on PATH is Node.js 20 or later and that \`npm ci\` ran in the project directory (the command loads @peculiar/x509 from its node_modules)`,
    );
  }
  const d = doc as {
    format?: unknown;
    caBundle?: unknown;
    tls?: { cert?: unknown; key?: unknown };
    notAfter?: unknown;
    caNotAfter?: unknown;
  };
  const pem = (v: unknown, label: string) => typeof v === "string" && v.includes(`-----BEGIN ${label}-----`);
  if (
    d.format !== 1 ||
    !pem(d.caBundle, "CERTIFICATE") ||
    !pem(d.tls?.cert, "CERTIFICATE") ||
    !pem(d.tls?.key, "PRIVATE KEY") ||
    typeof d.notAfter !== "string" ||
    typeof d.caNotAfter !== "string"
  ) {
    throw new Error(
      "the injector's certificate command printed an incomplete bundle (format 1 with caBundle, tls.cert, tls.key, notAfter, caNotAfter expected)",
    );
  }
  return {
    caBundle: d.caBundle as string,
    cert: d.tls!.cert as string,
    key: d.tls!.key as string,
    notAfter: d.notAfter,
    caNotAfter: d.caNotAfter,
  };
}

/** Environment of the certificate command; NRI_TLS_RENEWAL only changes it once per period. */
export function tlsCommandEnvironment(
  namespace: string,
  settings: InjectorSettings,
  now: Date,
): Record<string, string> {
  const c = settings.certificate;
  return {
    NRI_TLS_MAIN: "1",
    NRI_TLS_DNS_NAMES: serviceDnsNames(namespace).join(","),
    NRI_TLS_DAYS: String(c.validityDays),
    NRI_TLS_CA_DAYS: String(c.caValidityDays),
    NRI_TLS_RENEWAL: renewalPeriod(now, c.renewEveryDays),
  };
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * Least privilege, from what the webhook's code calls: a NAD informer across namespaces, a
 * lookup of a pod's owner when the request has no namespace, and its control-switch ConfigMap.
 * (Upstream's auth.yaml grants `*` on pods, workloads, secrets, services and webhook
 * configurations, because its installer creates those; here the program does.)
 */
export function injectorRbac(): { cluster: PolicyRule[]; namespaced: PolicyRule[] } {
  return {
    cluster: [
      {
        apiGroups: ["k8s.cni.cncf.io"],
        resources: ["network-attachment-definitions"],
        verbs: ["get", "list", "watch"],
      },
      { apiGroups: ["apps"], resources: ["replicasets", "daemonsets", "statefulsets"], verbs: ["list"] },
      { apiGroups: [""], resources: ["replicationcontrollers"], verbs: ["list"] },
    ],
    namespaced: [
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: [INJECTOR.controlSwitches] },
    ],
  };
}

export interface Placement {
  nodeSelector: Record<string, string>;
  tolerations: { key?: string; operator?: string; value?: string; effect?: string }[];
}

/** The webhook's pod template spec: hardened, as in upstream's server.yaml minus the installer. */
export function renderInjectorPodSpec(args: { image: string; settings: InjectorSettings; placement: Placement }) {
  const { image, settings } = args;
  const flags = [
    "-bind-address=0.0.0.0",
    `-port=${INJECTOR.port}`,
    "-tls-private-key-file=/etc/tls/tls.key",
    "-tls-cert-file=/etc/tls/tls.crt",
    `-health-check-port=${INJECTOR.healthPort}`,
    "-tls-min-version=VersionTLS12",
    // Without this flag the webhook refuses every caller that shows no client certificate, and a
    // stock kube-apiserver shows none.
    ...(settings.requireClientCert ? [] : ["-insecure"]),
    "-logtostderr",
  ];
  const probe = { httpGet: { path: "/healthz", port: INJECTOR.healthPort }, periodSeconds: 5 };
  return {
    serviceAccountName: INJECTOR.name,
    ...(Object.keys(args.placement.nodeSelector).length > 0
      ? { nodeSelector: { ...args.placement.nodeSelector } }
      : {}),
    ...(args.placement.tolerations.length > 0
      ? { tolerations: args.placement.tolerations.map((t) => ({ ...t })) }
      : {}),
    // Spread the replicas so one node going down does not take the webhook with it.
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: "kubernetes.io/hostname",
              labelSelector: { matchLabels: { app: INJECTOR.name } },
            },
          },
        ],
      },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10000,
      runAsGroup: 10000,
      seccompProfile: { type: "RuntimeDefault" },
    },
    containers: [
      {
        name: "webhook-server",
        image,
        imagePullPolicy: "IfNotPresent",
        command: ["webhook"],
        args: flags,
        env: [{ name: "NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } }],
        ports: [
          { name: "webhook", containerPort: INJECTOR.port },
          { name: "health", containerPort: INJECTOR.healthPort },
        ],
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        },
        resources: { requests: { cpu: "250m", memory: "50Mi" }, limits: { cpu: "500m", memory: "200Mi" } },
        livenessProbe: { ...probe, initialDelaySeconds: 10 },
        readinessProbe: probe,
        volumeMounts: [{ name: "tls", mountPath: "/etc/tls", readOnly: true }],
      },
    ],
    volumes: [{ name: "tls", secret: { secretName: INJECTOR.secret } }],
  };
}

/**
 * The webhook configuration. It never sees its own namespace or kube-system, so the injector
 * can always restart; with scope "virt-launcher" it sees nothing but VM pods, so an injector
 * outage with failurePolicy Fail stops VM starts, not the cluster.
 */
export function renderInjectorWebhook<CA>(namespace: string, settings: InjectorSettings, caBundle: CA) {
  const excluded = [...new Set(["kube-system", namespace])];
  return {
    name: INJECTOR.webhook,
    admissionReviewVersions: ["v1"],
    sideEffects: "None",
    failurePolicy: settings.failurePolicy,
    timeoutSeconds: 10,
    clientConfig: {
      service: { name: INJECTOR.service, namespace, path: "/mutate", port: 443 },
      caBundle,
    },
    namespaceSelector: {
      matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: excluded }],
    },
    ...(settings.scope === "virt-launcher" ? { objectSelector: { matchLabels: { ...VIRT_LAUNCHER_SELECTOR } } } : {}),
    rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" }],
  };
}
