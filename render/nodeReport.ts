// The JSON report node/sriov-node.sh prints as the last line of stdout: what the node
// has (discover) plus what apply did. One zod schema is the single source of its types; the
// script writes the keys by hand, and test/unit/nodeprep-format.test.ts checks them against it.
import { z } from "zod";

const pciAddress = z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/, "not a PCI address");

export const virtualFunctionSchema = z.object({
  index: z.number().int().nonnegative(),
  pciAddress,
  driver: z.string().nullable(),
  iommuGroup: z.string().nullable(),
});

export const physicalFunctionSchema = z.object({
  name: z.string().nullable(),
  pciAddress,
  vendor: z.string(),
  device: z.string(),
  driver: z.string().nullable(),
  totalVfs: z.number().int().nonnegative(),
  numVfs: z.number().int().nonnegative(),
  numaNode: z.number().int(),
  linkState: z.enum(["up", "down", "unknown"]),
  mtu: z.number().int().nullable(),
  vfs: z.array(virtualFunctionSchema),
});

export const discoverySchema = z.object({
  schema: z.literal(1),
  kernel: z.string(),
  iommu: z.object({ enabled: z.boolean(), groups: z.number().int().nonnegative(), cmdline: z.string() }),
  vfio: z.object({
    loaded: z.boolean(),
    loadable: z.boolean(),
    /** vfio-pci VFs in IOMMU groups shared with devices on host drivers: no VM can use them. */
    conflicts: z.array(z.string()).default([]),
  }),
  pfs: z.array(physicalFunctionSchema),
});

export const nodeReportSchema = discoverySchema.extend({
  verb: z.literal("apply"),
  node: z.string(),
  /** Who applied: <project>/<stack>/<node entry> (absent from scripts before owners). */
  owner: z.string().optional(),
  apply: z.object({ writes: z.number().int().nonnegative(), changedPfs: z.array(pciAddress) }),
  /**
   * The PFs NIC selectors matched on the node: the selector's config path and each PF (absent
   * from scripts before selectors).
   */
  resolved: z.array(z.object({ entry: z.string(), pciAddress, name: z.string().nullable() })).default([]),
  kernelChanges: z.array(z.string()),
  rebootRequired: z.boolean(),
  vfioReady: z.boolean(),
});

export type VirtualFunctionReport = z.infer<typeof virtualFunctionSchema>;
export type PhysicalFunctionReport = z.infer<typeof physicalFunctionSchema>;
export type NodeDiscovery = z.infer<typeof discoverySchema>;
export type NodeReport = z.infer<typeof nodeReportSchema>;

function lastJsonLine(stdout: unknown, what: string): unknown {
  if (typeof stdout !== "string")
    throw new Error(`${what}: expected the script's stdout as a string, got ${typeof stdout}`);
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new Error(`${what}: the node script printed nothing on stdout`);
  const last = lines[lines.length - 1].trim();
  try {
    return JSON.parse(last);
  } catch (e) {
    throw new Error(`${what}: the last line of stdout is not JSON (${(e as Error).message}): ${last.slice(0, 200)}`, {
      cause: e,
    });
  }
}

function parseWith<T>(schema: z.ZodType<T>, stdout: unknown, what: string): T {
  const r = schema.safeParse(lastJsonLine(stdout, what));
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`${what}: malformed report: ${issues}`);
  }
  return r.data;
}

/** Parses `sriov-node.sh apply` stdout; throws an Error saying what is wrong. */
export function parseNodeReport(stdout: string): NodeReport {
  return parseWith(nodeReportSchema, stdout, "node report");
}

/** Parses `sriov-node.sh discover` stdout; throws an Error saying what is wrong. */
export function parseDiscovery(stdout: string): NodeDiscovery {
  return parseWith(discoverySchema, stdout, "node discovery");
}
