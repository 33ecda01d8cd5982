// Every upstream version and image the program deploys, pinned in one place.
// Sources: the projects' release pages as recorded in FIELD-NOTES (late 2026).
// Upstream example manifests use `:latest`/`:snapshot`: never copy those tags.
import { createHash } from "crypto";

export const DEFAULT_VERSIONS = {
  /** Multus thick plugin, k8snetworkplumbingwg/multus-cni releases. */
  multus: "v4.3.0",
  /** SR-IOV network device plugin, k8snetworkplumbingwg/sriov-network-device-plugin releases. */
  sriovDevicePlugin: "v3.11.0",
  /** SR-IOV CNI, k8snetworkplumbingwg/sriov-cni releases. */
  sriovCni: "v2.10.0",
  /** KubeVirt operator release (kubevirt/kubevirt). */
  kubevirt: "v1.9.0",
  /** Network-resources-injector webhook, k8snetworkplumbingwg/network-resources-injector (tag 2026-07-06). */
  networkResourcesInjector: "v1.9.0",
  /**
   * Whereabouts IPAM, k8snetworkplumbingwg/whereabouts (tag v0.9.4, 2026-06-02): deployed only
   * when a network uses `ipam.type: whereabouts`. No `versions` key in the schema yet.
   */
  whereabouts: "v0.9.4",
} as const;

export const DEFAULT_IMAGES = {
  multus: (v: string) => `ghcr.io/k8snetworkplumbingwg/multus-cni:${v}-thick`,
  sriovDevicePlugin: (v: string) => `ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:${v}`,
  sriovCni: (v: string) => `ghcr.io/k8snetworkplumbingwg/sriov-cni:${v}`,
  /** Published by the project's release workflow as ghcr.io/<repo>:<tag> (no `latest`). */
  networkResourcesInjector: (v: string) => `ghcr.io/k8snetworkplumbingwg/network-resources-injector:${v}`,
  /** Published by the project's image workflow as ghcr.io/<repo>:<tag>; upstream's manifests say `latest`. */
  whereabouts: (v: string) => `ghcr.io/k8snetworkplumbingwg/whereabouts:${v}`,
} as const;

/**
 * SHA-256 of the KubeVirt operator manifest (`kubevirt-operator.yaml`) per release, checked
 * before the manifest is applied. A release without an entry here must be given a
 * `kubevirt.manifest.sha256` in the stack.
 */
export const KUBEVIRT_OPERATOR_SHA256: Readonly<Record<string, string>> = {};

/** The digest the pins above are written in: lowercase hex SHA-256, as sha256sum prints it. */
export function sha256Hex(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

export const kubevirtOperatorUrl = (version: string): string =>
  `https://github.com/kubevirt/kubevirt/releases/download/${version}/kubevirt-operator.yaml`;

/** Guest images that actually ship the VoIP software (FIELD-NOTES: VoIP workload). */
export const DEFAULT_GUEST_IMAGES = {
  /** Asterisk is in Ubuntu 24.04 universe; Debian 12 has none. */
  pbx: "quay.io/containerdisks/ubuntu:24.04",
  /** SIPp is Debian's `sip-tester`. */
  loadgen: "quay.io/containerdisks/debian:12",
  custom: "quay.io/containerdisks/debian:12",
} as const;

/** Compares release tags like v1.9.0; pre-release suffixes count as the release. */
export function versionAtLeast(version: string, min: string): boolean {
  const parse = (v: string) => v.replace(/^v/, "").split("-")[0].split(".").map(Number);
  const a = parse(version);
  const b = parse(min);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}
