// What the pinned agent images contain: the paths our DaemonSets run, taken from each
// project's Dockerfile at the pinned tag (config/versions.ts). A test checks that every
// command and entrypoint the program runs exists in its image, and a locally built image
// (the lab) must be laid out the same way, so the manifests run unmodified.

export interface ImageLayout {
  /** Where upstream's Dockerfile names it. */
  source: string;
  /** The image's ENTRYPOINT. */
  entrypoint: readonly string[];
  /** Executables the image holds (absolute paths). */
  executables: readonly string[];
}

const MULTUS_BIN = "/usr/src/multus-cni/bin";

export const AGENT_IMAGE_LAYOUTS = {
  /**
   * multus-cni v4.3.0 `images/Dockerfile.thick`: `hack/build-go.sh` builds every command into
   * bin/, copied to /usr/src/multus-cni/bin/; cert-approver also at /. Unlike the thin image,
   * there is no /install_multus or /thin_entrypoint at the root.
   */
  multus: {
    source: "multus-cni images/Dockerfile.thick",
    binDir: MULTUS_BIN,
    entrypoint: [`${MULTUS_BIN}/multus-daemon`],
    executables: [
      "multus",
      "multus-daemon",
      "multus-shim",
      "install_multus",
      "thin_entrypoint",
      "kubeconfig_generator",
      "cert-approver",
      "passthru",
    ]
      .map((b) => `${MULTUS_BIN}/${b}`)
      .concat("/cert-approver"),
  },
  /**
   * sriov-network-device-plugin v3.11.0 `images/Dockerfile`: alpine with `sriovdp` and `ddptool`
   * in /usr/bin and `images/entrypoint.sh` at /, which turns --log-dir/--log-level/--config-file
   * into sriovdp's flags.
   */
  sriovDevicePlugin: {
    source: "sriov-network-device-plugin images/Dockerfile",
    entrypoint: ["/entrypoint.sh"],
    executables: ["/entrypoint.sh", "/usr/bin/sriovdp", "/usr/bin/ddptool", "/bin/sh"],
  },
  /**
   * sriov-cni v2.10.0 `Dockerfile`: alpine with `sriov` in /usr/bin and `images/entrypoint.sh`
   * at /, which copies the binary to /host/opt/cni/bin and sleeps.
   */
  sriovCni: {
    source: "sriov-cni Dockerfile",
    entrypoint: ["/entrypoint.sh"],
    executables: ["/entrypoint.sh", "/usr/bin/sriov", "/bin/sh"],
  },
  /**
   * whereabouts v0.9.4 `Dockerfile`: alpine with every binary and script copied to `/`, CMD
   * /install-cni.sh (no ENTRYPOINT: the manifests give a command).
   */
  whereabouts: {
    source: "whereabouts Dockerfile",
    entrypoint: ["/install-cni.sh"],
    executables: [
      "/bin/sh",
      "/whereabouts",
      "/ip-control-loop",
      "/ip-reconciler",
      "/node-slice-controller",
      "/install-cni.sh",
      "/lib.sh",
      "/token-watcher.sh",
    ],
  },
} as const satisfies Record<string, ImageLayout & { binDir?: string }>;
