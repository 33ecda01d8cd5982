import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import * as path from "path";
import type { InjectorSettings } from "../config/schema";
import {
  INJECTOR,
  injectorRbac,
  parseTlsBundle,
  Placement,
  renderInjectorPodSpec,
  renderInjectorWebhook,
  tlsCommandEnvironment,
} from "../render/injector";
import { awaitAnnotations, PART_OF } from "../config/labels";
import { childName } from "../config/names";
import { agentIdentity } from "./rbac";
import { TOKENS } from "./tokens";

/**
 * The certificate generator, run by `node -` on the machine running Pulumi (see its header). It
 * uses @peculiar/x509 from the project's node_modules: the command sets no `dir`, so it runs in
 * the provider's working directory, which the engine makes the program's directory (checked
 * with the lab's engine: the command's `pwd` is the project's `main`), and Node resolves a
 * `node -` script's require() from there. Setting `dir` would put this machine's path in the
 * state and re-run the command on every other machine.
 */
export const TLS_SCRIPT = readFileSync(path.join(__dirname, "..", "node", "webhook-tls.js"), "utf8");

export interface NetworkResourcesInjectorArgs {
  /** Where the injector runs: the agent namespace (required). */
  namespace: string;
  /** The injector's image, pinned and mirror-aware (required). */
  image: string;
  /** kubevirt.networkResourcesInjector: replicas, failure policy, certificate lifetimes (required). */
  settings: InjectorSettings;
  /** Where its pods may run: kubevirt.infra's selector and tolerations (required). */
  placement: Placement;
  /** Wait for the Deployment and Service to become ready (required). */
  waitForReadiness: boolean;
  /** The clock for certificate renewal (required); passed in so tests control it. */
  now: Date;
}

/**
 * The network-resources-injector with everything it needs, all owned by the program: a CA and
 * serving certificate (issued by a local command, renewed by `pulumi up`), the TLS Secret, RBAC,
 * the Deployment and Service, and the MutatingWebhookConfiguration, created last.
 */
export class NetworkResourcesInjector extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly image: pulumi.Output<string>;
  public readonly webhookConfigurationName: pulumi.Output<string>;
  /** When the current serving certificate expires (ISO 8601); `pulumi up` renews it earlier. */
  public readonly certificateNotAfter: pulumi.Output<string>;
  public readonly caNotAfter: pulumi.Output<string>;
  /** VMs depend on this: it exists only once the webhook serves. */
  public readonly webhookConfiguration: k8s.admissionregistration.v1.MutatingWebhookConfiguration;

  constructor(name: string, args: NetworkResourcesInjectorArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.injector, name, {}, opts);
    const parent = { parent: this };
    const ns = args.namespace;
    const labels = { ...PART_OF, app: INJECTOR.name };

    // Runs on create and whenever its inputs change (the renewal period turns over, the
    // settings or the script change); the previous bundle reaches it as PULUMI_COMMAND_STDOUT,
    // so the CA is kept and the API server never sees a certificate it does not trust.
    const tls = new command.local.Command(
      childName(name, "tls"),
      {
        create: "node -",
        stdin: TLS_SCRIPT,
        environment: tlsCommandEnvironment(ns, args.settings, args.now),
        addPreviousOutputInEnv: true,
        logging: "stderr",
      },
      { ...parent, additionalSecretOutputs: ["stdout"] },
    );
    const bundle = tls.stdout.apply(parseTlsBundle);
    // The CA certificates are public; only the keys stay secret.
    const caBundle = pulumi.unsecret(bundle.apply((b) => Buffer.from(b.caBundle).toString("base64")));
    const dates = pulumi.unsecret(bundle.apply((b) => ({ notAfter: b.notAfter, caNotAfter: b.caNotAfter })));

    const secret = new k8s.core.v1.Secret(
      childName(name, "tls-secret"),
      {
        metadata: { name: INJECTOR.secret, namespace: ns, labels },
        type: "kubernetes.io/tls",
        stringData: { "tls.crt": bundle.apply((b) => b.cert), "tls.key": bundle.apply((b) => b.key) },
      },
      parent,
    );

    const rbac = injectorRbac();
    const { serviceAccount: sa, binding: clusterBinding } = agentIdentity(
      name,
      { namespace: ns, labels, serviceAccount: INJECTOR.name, rules: rbac.cluster },
      parent,
    );
    const role = new k8s.rbac.v1.Role(
      childName(name, "ns-role"),
      { metadata: { name: INJECTOR.name, namespace: ns, labels }, rules: rbac.namespaced },
      parent,
    );
    const roleBinding = new k8s.rbac.v1.RoleBinding(
      childName(name, "ns-binding"),
      {
        metadata: { name: INJECTOR.name, namespace: ns, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: ns }],
      },
      parent,
    );

    const deployment = new k8s.apps.v1.Deployment(
      childName(name, "deployment"),
      {
        metadata: { name: INJECTOR.name, namespace: ns, labels, annotations: awaitAnnotations(args.waitForReadiness) },
        spec: {
          replicas: args.settings.replicas,
          selector: { matchLabels: { app: INJECTOR.name } },
          template: {
            metadata: { labels },
            spec: renderInjectorPodSpec({ image: args.image, settings: args.settings, placement: args.placement }),
          },
        },
      },
      { ...parent, dependsOn: [secret, clusterBinding, roleBinding] },
    );
    const service = new k8s.core.v1.Service(
      childName(name, "service"),
      {
        metadata: {
          name: INJECTOR.service,
          namespace: ns,
          labels,
          annotations: awaitAnnotations(args.waitForReadiness),
        },
        spec: { selector: { app: INJECTOR.name }, ports: [{ name: "webhook", port: 443, targetPort: INJECTOR.port }] },
      },
      parent,
    );
    const disruption =
      args.settings.replicas > 1
        ? [
            new k8s.policy.v1.PodDisruptionBudget(
              childName(name, "pdb"),
              {
                metadata: { name: INJECTOR.name, namespace: ns, labels },
                spec: { minAvailable: 1, selector: { matchLabels: { app: INJECTOR.name } } },
              },
              parent,
            ),
          ]
        : [];

    this.webhookConfiguration = new k8s.admissionregistration.v1.MutatingWebhookConfiguration(
      childName(name, "webhook"),
      {
        metadata: { name: INJECTOR.webhookConfiguration, labels },
        webhooks: [renderInjectorWebhook(ns, args.settings, caBundle)],
      },
      { ...parent, dependsOn: [deployment, service, ...disruption] },
    );

    this.namespace = pulumi.output(ns);
    this.image = pulumi.output(args.image);
    this.webhookConfigurationName = this.webhookConfiguration.metadata.name;
    this.certificateNotAfter = dates.apply((d) => d.notAfter);
    this.caNotAfter = dates.apply((d) => d.caNotAfter);
    this.registerOutputs({
      namespace: this.namespace,
      image: this.image,
      webhookConfigurationName: this.webhookConfigurationName,
      certificateNotAfter: this.certificateNotAfter,
      caNotAfter: this.caNotAfter,
    });
  }
}
