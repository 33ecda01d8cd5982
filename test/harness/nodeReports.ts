// Answers a mocked node-prep command the way a healthy node would: it decodes the desired
// state the command carries and reports that state as applied, so mocks tests see the
// same outputs a real node produces (the real script runs in the node-prep tests and the lab).

/** The desired state a node-prep command carries (its base64 here-document), as text. */
export function desiredStateOf(command: string): string {
  const m = /<<"KUBEVIRT_SRIOV_STATE"\n([\s\S]*?)\nKUBEVIRT_SRIOV_STATE/.exec(command);
  if (!m) throw new Error("no desired state (KUBEVIRT_SRIOV_STATE here-document) in the node command");
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64").toString("utf8");
}

export function fakeNodeReportStdout(inputs: Record<string, any>): string {
  // A host-key scan run on a jump host (components/hostKeys.ts): what ssh-keyscan prints.
  const keyscan = /^ssh-keyscan .* -p (\d+) (\S+) #/.exec(String(inputs.create));
  if (keyscan)
    return `[${keyscan[2]}]:${keyscan[1]} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF0xWjkTVq0kSxOPgcOqGu1cPJmXcYgEuNzrl5yM7B7q`;
  const lines = desiredStateOf(String(inputs.create)).split("\n");
  let node = "";
  // Per PF the node reports: its state entry (a selector's PFs share one) and what it is.
  const pfs: any[] = [];
  const groups: string[][] = [];
  const resolved: { entry: string; pciAddress: string; name: string | null }[] = [];
  let entry = -1;
  for (const line of lines) {
    const w = line.split(" ");
    if (w[0] === "node") node = w[1];
    if (w[0] === "pf") pfs.push({ entry: ++entry, name: w[1], bdf: w[2], numVfs: Number(w[3]), mtu: w[4] });
    if (w[0] === "select") {
      // A selector matches `count` PFs; the same ones on every node, so a uniform fleet stays uniform.
      entry++;
      for (let j = 0; j < Number(w[5]); j++) {
        const bdf = `0000:${(0x60 + entry).toString(16)}:00.${j}`;
        const name = `enp${0x60 + entry}s0f${j}`;
        pfs.push({ entry, name, bdf, numVfs: Number(w[6]), mtu: w[7] });
        resolved.push({ entry: w[8], pciAddress: bdf, name });
      }
    }
    if (w[0] === "group") groups.push(w);
  }
  const report = {
    schema: 1,
    kernel: "6.1.0-mock",
    iommu: { enabled: true, groups: 64, cmdline: "BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt" },
    vfio: { loaded: true, loadable: true },
    pfs: pfs.map((pf, i) => {
      const bdf = pf.bdf !== "-" ? pf.bdf : `0000:${(0x10 + i).toString(16).padStart(2, "0")}:00.0`;
      const driverOf = (vf: number) => {
        const g = groups.find((x) => Number(x[1]) === pf.entry && vf >= Number(x[2]) && vf <= Number(x[3]));
        return g && g[4] === "vfio-pci" ? "vfio-pci" : "iavf";
      };
      return {
        name: pf.name !== "-" ? pf.name : null,
        pciAddress: bdf,
        vendor: "0x8086",
        device: "0x1572",
        driver: "i40e",
        totalVfs: 64,
        numVfs: pf.numVfs,
        numaNode: 0,
        linkState: "up",
        mtu: pf.mtu !== "-" ? Number(pf.mtu) : 1500,
        vfs: Array.from({ length: pf.numVfs }, (_, vf) => ({
          index: vf,
          pciAddress: `${bdf.slice(0, 8)}${(2 + Math.floor(vf / 8)).toString(16).padStart(2, "0")}.${vf % 8}`,
          driver: driverOf(vf),
          iommuGroup: String(100 + i * 64 + vf),
        })),
      };
    }),
    verb: "apply",
    node,
    apply: { writes: 0, changedPfs: [] },
    resolved,
    kernelChanges: [],
    rebootRequired: false,
    vfioReady: true,
  };
  return `apply: no changes (0 writes)\n${JSON.stringify(report)}\n`;
}
