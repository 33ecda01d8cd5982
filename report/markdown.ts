// The preflight report of a stack as Markdown: topology, capacity, placement, problems.
import { formatProblem } from "../config/errors";
import type { PlatformModel } from "../config/model";
import { CONFIG_ROOT } from "../config/schema";
import { vmDemand } from "../plan/demand";
import type { Plan, Quantity } from "../plan/types";
import { renderMermaid } from "./mermaid";
import { buildTopology, TopologyLimits } from "./topology";

export interface ReportOptions {
  /** Relative link to the Graphviz rendering, when one was written. */
  svg?: string;
  limits?: TopologyLimits;
}

/** Section headings, in order; tests and readers rely on them. */
export const SECTIONS = {
  topology: "Topology",
  capacity: "Capacity",
  /** Only for stacks with profiles. */
  profiles: "Capacity per profile",
  pools: "VFs per pool and node",
  nodes: "Dedicated CPUs and hugepages per node",
  placement: "Placement",
  warnings: "Warnings",
  errors: "Errors",
} as const;

function cell(value: string | number): string {
  return String(value).replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function row(values: (string | number)[]): string {
  return `| ${values.map(cell).join(" | ")} |`;
}

function table(header: string[], rows: (string | number)[][], align?: ("l" | "r")[]): string[] {
  const sep = header.map((_, i) => ((align?.[i] ?? "l") === "r" ? "---:" : "---"));
  return [row(header), `| ${sep.join(" | ")} |`, ...rows.map(row)];
}

const q = (x: Quantity) => `${x.supply} / ${x.requested} / ${x.free}`;

export function renderReport(stackName: string, model: PlatformModel, plan: Plan, options: ReportOptions = {}): string {
  const cfg = model.config;
  const out: string[] = [];
  const placed = plan.placement.filter((p) => p.node !== null).length;

  out.push(`# Preflight report: stack \`${stackName}\``, "");
  out.push(
    `- Verdict: ${plan.feasible ? "**feasible**" : `**not feasible** (${plan.errors.length} error${plan.errors.length === 1 ? "" : "s"})`}${cfg.allowOvercommit && !plan.feasible ? " — allowOvercommit lets capacity errors through" : ""}`,
    `- Environment: ${cfg.environment}`,
    `- Nodes: ${model.nodes.length}${(plan.profiles ?? []).length > 0 ? ` (profiles: ${plan.profiles.map((p) => `${p.profile} × ${p.nodes}`).join(", ")})` : ""}, pools: ${model.pools.size}, networks: ${model.networks.size}, VMs: ${model.vms.length} (${placed} placed)`,
    `- KubeVirt ${plan.kubevirt.version}: ExternalNetResourceInjection ${describeInjection(plan.kubevirt.externalNetResourceInjection)}; feature gates enabled: ${plan.kubevirt.featureGates.length > 0 ? plan.kubevirt.featureGates.join(", ") : "none"}`,
    `- Warnings: ${plan.warnings.length}`,
    "",
  );

  out.push(`## ${SECTIONS.topology}`, "");
  if (options.svg !== undefined) out.push(`Offline rendering (Graphviz): [${options.svg}](${options.svg})`, "");
  out.push("```mermaid", renderMermaid(buildTopology(model, plan, options.limits)), "```", "");

  out.push(`## ${SECTIONS.capacity}`, "");
  // With profiles, each node row says its profile, and the profiles are summed first.
  const profiles = plan.profiles ?? [];
  const profileOf = new Map(model.nodes.map((n) => [n.config.name, n.source.profile ?? "—"]));
  const withProfile = (node: string, rest: (string | number)[]) =>
    profiles.length > 0 ? [node, profileOf.get(node) ?? "—", ...rest] : [node, ...rest];
  const nodeHead = (rest: string[]) => (profiles.length > 0 ? ["node", "profile", ...rest] : ["node", ...rest]);
  if (profiles.length > 0) {
    out.push(
      `### ${SECTIONS.profiles}`,
      "",
      "Each cell is supplied / requested / free, summed over the profile's nodes.",
      "",
    );
    out.push(
      ...table(
        ["profile", "nodes", "VFs per pool", "dedicated CPUs", "1Gi hugepages", "2Mi hugepages"],
        profiles.map((p) => [
          p.profile,
          p.nodes,
          p.pools.map((x) => `${x.pool} ${x.supply} / ${x.requested} / ${x.free}`).join("; ") || "—",
          q(p.dedicatedCpus),
          q(p.hugepages1Gi),
          q(p.hugepages2Mi),
        ]),
      ),
      "",
    );
  }
  out.push(`### ${SECTIONS.pools}`, "");
  const poolRows: (string | number)[][] = [];
  for (const p of plan.pools) {
    for (const n of p.byNode)
      poolRows.push([p.pool, p.resource, ...withProfile(n.node, [n.supply, n.requested, n.free])]);
    poolRows.push([
      p.pool,
      p.resource,
      ...withProfile("**all nodes**", [p.supply, `${p.demand}${p.demand > p.supply ? " ⚠" : ""}`, p.supply - p.demand]),
    ]);
  }
  const poolAlign: ("l" | "r")[] =
    profiles.length > 0 ? ["l", "l", "l", "l", "r", "r", "r"] : ["l", "l", "l", "r", "r", "r"];
  out.push(...table(["pool", "resource", ...nodeHead(["supplied", "requested", "free"])], poolRows, poolAlign), "");
  out.push("The **all nodes** row counts every VM's request, placed or not.", "");

  out.push(`### ${SECTIONS.nodes}`, "", "Each cell is supplied / requested / free.", "");
  out.push(
    ...table(
      nodeHead(["dedicated CPUs", "1Gi hugepages", "2Mi hugepages"]),
      plan.nodes.map((n) => withProfile(n.node, [q(n.dedicatedCpus), q(n.hugepages1Gi), q(n.hugepages2Mi)])),
    ),
    "",
  );

  out.push(`## ${SECTIONS.placement}`, "");
  const vmByRef = new Map(model.vms.map((v) => [v.ref, v]));
  const placementRows = plan.placement.map((p) => {
    const vm = vmByRef.get(p.vm);
    const d = vm ? vmDemand(vm) : undefined;
    const vfs = d ? [...d.vfs].map(([pool, n]) => `${n}×${pool}`).join(", ") : "";
    const hp = d
      ? d.hugepages1Gi > 0
        ? `${d.hugepages1Gi}×1Gi`
        : d.hugepages2Mi > 0
          ? `${d.hugepages2Mi}×2Mi`
          : "none"
      : "";
    return [p.vm, p.node ?? "— (not placed)", vfs, d?.dedicatedCpus ?? "", hp, p.reason ?? ""];
  });
  out.push(...table(["VM", "node", "VFs", "dedicated CPUs", "hugepages", "reason"], placementRows), "");

  out.push(`## ${SECTIONS.warnings}`, "");
  if (plan.warnings.length === 0) out.push("None.");
  else for (const w of plan.warnings) out.push(`- ${w}`);
  out.push("");

  out.push(`## ${SECTIONS.errors}`, "");
  if (plan.errors.length === 0) out.push("None.");
  else
    for (const e of plan.errors)
      out.push(`- ${e.kind === "capacity" ? "capacity" : "consistency"}: ${formatProblem(CONFIG_ROOT, e)}`);
  out.push("");
  return out.join("\n");
}

function describeInjection(state: Plan["kubevirt"]["externalNetResourceInjection"]): string {
  switch (state) {
    case "disabled":
      return "disabled (in disabledFeatureGates): virt-controller requests the VFs from the NADs' resourceName";
    case "injector":
      return "on, with the network-resources-injector requesting the VFs";
    case "off-by-default":
      return "off (default before v1.9): virt-controller requests the VFs";
  }
}
