// The network-resources-injector: its config, the pure renderers, and the whole program under
// mocks with the injector on (the certificate command runs for real there).
import { strict as assert } from "assert";
import { X509Certificate } from "crypto";
import { injectorSettings } from "../../config/schema";
import { parsePlatform } from "../../config/validate";
import { effectiveDisabledGates } from "../../config/kubevirtGates";
import {
  INJECTOR,
  injectorRbac,
  parseTlsBundle,
  renderInjectorPodSpec,
  renderInjectorWebhook,
  renewalPeriod,
  serviceDnsNames,
  tlsCommandEnvironment,
} from "../../render/injector";
import { loadStackConfig } from "../harness/stacks";
import { k8s, labManifestPin, runProgram, SSH_KEY_CONFIG } from "../harness/program";
import { isSecretValue, unsecret } from "../harness/values";
import type { ProgramResult } from "../harness/runProgram";

const defaults = injectorSettings.parse({});
const demo = (injector: unknown) => ({
  ...loadStackConfig("kubecon-demo"),
  kubevirt: { networkResourcesInjector: injector },
});
const configError = (injector: unknown, kubevirt: Record<string, unknown> = {}): string => {
  try {
    parsePlatform({
      ...loadStackConfig("kubecon-demo"),
      kubevirt: { ...kubevirt, networkResourcesInjector: injector },
    });
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail("expected a config error");
};

describe("injector config", () => {
  it("true means the defaults, false and absent mean no injector", () => {
    assert.deepEqual(parsePlatform(demo(true)).config.kubevirt.networkResourcesInjector, defaults);
    assert.equal(parsePlatform(demo(false)).config.kubevirt.networkResourcesInjector, undefined);
    assert.equal(parsePlatform(loadStackConfig("kubecon-demo")).config.kubevirt.networkResourcesInjector, undefined);
    assert.equal(parsePlatform(demo({ replicas: 3 })).config.kubevirt.networkResourcesInjector?.replicas, 3);
  });

  it("keeps ExternalNetResourceInjection on when the injector is deployed", () => {
    assert.deepEqual(effectiveDisabledGates(parsePlatform(demo(true)).config.kubevirt), []);
    assert.deepEqual(effectiveDisabledGates(parsePlatform(demo(false)).config.kubevirt), [
      "ExternalNetResourceInjection",
    ]);
  });

  const bad: [string, unknown, Record<string, unknown>, RegExp][] = [
    [
      "a string",
      "yes",
      {},
      /networkResourcesInjector: must be true, false or a map of injector settings, got "yes" — write `networkResourcesInjector: true`/,
    ],
    ["zero replicas", { replicas: 0 }, {}, /networkResourcesInjector\.replicas: 0 is below the minimum 1/],
    [
      "an unknown scope",
      { scope: "namespace" },
      {},
      /networkResourcesInjector\.scope: "namespace" is not allowed — use one of: "virt-launcher", "all-pods"/,
    ],
    ["an unknown key", { replica: 2 }, {}, /networkResourcesInjector.*replica/],
    [
      "renewal slower than validity",
      { certificate: { validityDays: 30, renewEveryDays: 30 } },
      {},
      /certificate\.renewEveryDays: renewing every 30 days lets a 30-day certificate expire between renewals — make renewEveryDays smaller than validityDays/,
    ],
    [
      "a CA shorter than the certificate",
      { certificate: { validityDays: 400, caValidityDays: 365 } },
      {},
      /certificate\.caValidityDays: a 365-day CA cannot sign a 400-day certificate/,
    ],
    [
      "KubeVirt v1.8 without the gate",
      true,
      { version: "v1.8.2" },
      /networkResourcesInjector: KubeVirt v1\.8\.2 requests the VFs itself unless "ExternalNetResourceInjection" is on/,
    ],
    [
      "the gate disabled as well",
      true,
      { disabledFeatureGates: ["ExternalNetResourceInjection"] },
      /disabledFeatureGates: "ExternalNetResourceInjection" is disabled but networkResourcesInjector is true/,
    ],
  ];
  for (const [what, injector, kubevirt, message] of bad) {
    it(`refuses ${what}`, () => assert.match(configError(injector, kubevirt), message));
  }

  it("accepts KubeVirt v1.8 with the gate turned on", () => {
    const m = parsePlatform({
      ...loadStackConfig("kubecon-demo"),
      kubevirt: { version: "v1.8.2", featureGates: ["ExternalNetResourceInjection"], networkResourcesInjector: true },
    });
    assert.ok(m.config.kubevirt.networkResourcesInjector);
  });
});

describe("injector rendering", () => {
  it("certificate names: the service name the API server dials comes first", () => {
    assert.deepEqual(serviceDnsNames("kube-system"), [
      "network-resources-injector-service.kube-system.svc",
      "network-resources-injector-service.kube-system.svc.cluster.local",
      "network-resources-injector-service.kube-system",
      "network-resources-injector-service",
    ]);
  });

  it("the renewal period turns over once every renewEveryDays, not every run", () => {
    const day = 86_400_000;
    const t0 = new Date(Date.UTC(2026, 10, 27, 12));
    const p0 = renewalPeriod(t0, 180);
    assert.match(p0, /^180d-from-\d{4}-\d{2}-\d{2}$/);
    const start = Date.parse(p0.slice("180d-from-".length));
    assert.ok(start <= t0.getTime() && t0.getTime() < start + 180 * day);
    assert.equal(renewalPeriod(new Date(start), 180), p0);
    assert.equal(renewalPeriod(new Date(start + 180 * day - 1), 180), p0);
    assert.notEqual(renewalPeriod(new Date(start + 180 * day), 180), p0);
    // The environment changes with the period (that is what re-runs the command) and nothing else.
    const env = (t: Date) => tlsCommandEnvironment("kube-system", defaults, t);
    assert.deepEqual(env(new Date(start)), env(new Date(start + 179 * day)));
    assert.notDeepEqual(env(new Date(start)), env(new Date(start + 180 * day)));
    assert.equal(env(t0).NRI_TLS_DNS_NAMES.split(",")[0], "network-resources-injector-service.kube-system.svc");
  });

  it("webhook: only virt-launcher pods by default, never its own namespace or kube-system", () => {
    const w = renderInjectorWebhook("sriov-system", defaults, "Q0E=");
    assert.equal(w.failurePolicy, "Fail");
    assert.deepEqual(w.objectSelector, { matchLabels: { "kubevirt.io": "virt-launcher" } });
    assert.deepEqual(w.namespaceSelector.matchExpressions[0].values, ["kube-system", "sriov-system"]);
    assert.deepEqual(w.clientConfig, {
      service: { name: INJECTOR.service, namespace: "sriov-system", path: "/mutate", port: 443 },
      caBundle: "Q0E=",
    });
    assert.deepEqual(w.rules, [
      { operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" },
    ]);
    const all = renderInjectorWebhook("kube-system", { ...defaults, scope: "all-pods", failurePolicy: "Ignore" }, "");
    assert.equal(all.objectSelector, undefined);
    assert.equal(all.failurePolicy, "Ignore");
    assert.deepEqual(all.namespaceSelector.matchExpressions[0].values, ["kube-system"]);
  });

  it("pod: hardened, reads the program's Secret, -insecure unless client certificates are required", () => {
    const spec = renderInjectorPodSpec({
      image: "r/nri:v1.9.0",
      settings: defaults,
      placement: { nodeSelector: {}, tolerations: [] },
    });
    const c = spec.containers[0];
    assert.ok(c.args.includes("-insecure"));
    assert.ok(c.args.includes("-tls-cert-file=/etc/tls/tls.crt"));
    assert.deepEqual(spec.volumes, [{ name: "tls", secret: { secretName: INJECTOR.secret } }]);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.equal(spec.nodeSelector, undefined);
    const strict = renderInjectorPodSpec({
      image: "r/nri:v1.9.0",
      settings: { ...defaults, requireClientCert: true },
      placement: { nodeSelector: { infra: "true" }, tolerations: [{ key: "infra", operator: "Exists" }] },
    });
    assert.ok(!strict.containers[0].args.includes("-insecure"));
    assert.deepEqual(strict.nodeSelector, { infra: "true" });
  });

  it("RBAC: read-only NADs, no secrets, no webhook configurations, one ConfigMap by name", () => {
    const { cluster, namespaced } = injectorRbac();
    const all = [...cluster, ...namespaced];
    assert.ok(all.every((r) => r.verbs.every((v) => ["get", "list", "watch"].includes(v))));
    assert.ok(
      !all.some((r) => r.resources.some((x) => ["secrets", "mutatingwebhookconfigurations", "pods", "*"].includes(x))),
    );
    assert.deepEqual(namespaced[0].resourceNames, ["nri-control-switches"]);
  });

  it("parseTlsBundle refuses output that is not a whole bundle", () => {
    assert.throws(
      () => parseTlsBundle("node: not found"),
      /printed no JSON.*`npm ci` ran in the project directory \(the command loads @peculiar\/x509/,
    );
    assert.throws(() => parseTlsBundle(JSON.stringify({ format: 1, caBundle: "x" })), /incomplete bundle/);
  });
});

describe("program under mocks: kubecon-demo with the network-resources-injector", function () {
  this.timeout(120_000);
  let r: ProgramResult;
  before(() => {
    const cfg: Record<string, any> = loadStackConfig("kubecon-demo");
    cfg.kubevirt = {
      networkResourcesInjector: { replicas: 2 },
      operatorManifest: labManifestPin(),
    };
    r = runProgram({ stack: "kubecon-demo", platform: cfg, config: SSH_KEY_CONFIG });
    assert.equal(r.error, undefined, r.error?.message);
  });
  const find = (kind: string, name: string) => k8s(r, kind, name).inputs;

  it("the KubeVirt CR keeps ExternalNetResourceInjection on", () => {
    const cr = r.resources.find((x) => x.type === "kubernetes:kubevirt.io/v1:KubeVirt")!;
    assert.equal(cr.inputs.spec.configuration.developerConfiguration.disabledFeatureGates, undefined);
  });

  it("deploys the webhook, its Service, RBAC, PDB and TLS Secret, image pinned", () => {
    const d = find("Deployment", INJECTOR.name);
    assert.equal(d.spec.replicas, 2);
    assert.equal(
      d.spec.template.spec.containers[0].image,
      "ghcr.io/k8snetworkplumbingwg/network-resources-injector:v1.9.0",
    );
    assert.equal(find("Service", INJECTOR.service).spec.ports[0].targetPort, 8443);
    for (const kind of [
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "PodDisruptionBudget",
    ])
      find(kind, INJECTOR.name);
    assert.equal(find("Secret", INJECTOR.secret).type, "kubernetes.io/tls");
  });

  it("the webhook's caBundle verifies the serving certificate in the Secret, for the name the API server dials", () => {
    const webhook = find("MutatingWebhookConfiguration", INJECTOR.webhookConfiguration).webhooks[0];
    const secret = find("Secret", INJECTOR.secret);
    const certPem = unsecret(secret.stringData)["tls.crt"];
    assert.match(unsecret(secret.stringData)["tls.key"], /BEGIN PRIVATE KEY/);
    const ca = new X509Certificate(Buffer.from(webhook.clientConfig.caBundle, "base64").toString());
    const cert = new X509Certificate(certPem);
    assert.ok(cert.verify(ca.publicKey));
    assert.equal(
      cert.checkHost("network-resources-injector-service.kube-system.svc"),
      "network-resources-injector-service.kube-system.svc",
    );
  });

  it("the private key is secret: in the Secret, in the command's output, never in the stack outputs", () => {
    const secret = find("Secret", INJECTOR.secret);
    assert.ok(isSecretValue(secret.stringData), "stringData is a secret value");
    const tls = r.resources.find(
      (x) => x.type === "command:local:Command" && x.inputs.environment?.NRI_TLS_MAIN === "1",
    )!;
    assert.equal(tls.inputs.create, "node -");
    // No `dir`: the command runs in the program's directory, where node_modules holds
    // @peculiar/x509, and no machine's path ends up in the state.
    assert.equal(tls.inputs.dir, undefined);
    assert.match(tls.inputs.stdin, /require\("@peculiar\/x509"\)/);
    assert.ok(!JSON.stringify(r.outputs).includes("PRIVATE KEY"));
    const o = (r.outputs as any).networkResourcesInjector;
    assert.equal(o.webhookConfiguration, INJECTOR.webhookConfiguration);
    assert.ok(Date.parse(o.certificateNotAfter) > Date.now() + 300 * 86_400_000);
    assert.equal((r.outputs as any).versions.networkResourcesInjector, "v1.9.0");
  });
});
