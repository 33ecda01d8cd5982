// SriovNodePrep: prepares one bare-metal node's SR-IOV PFs over SSH with
// node/sriov-node.sh, and exposes what the node reported as typed outputs.
import { createHash } from "crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NodeRoots, NodeState, renderRemoteCommand, renderRevertCommand } from "../render/nodeState";
import { NodeReport, PhysicalFunctionReport, parseNodeReport } from "../render/nodeReport";
import { childName } from "../config/names";
import { TOKENS } from "./tokens";

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  privateKey?: pulumi.Input<string>;
  password?: pulumi.Input<string>;
  /** Expected host key ("ssh-ed25519 AAAA..."): pinned in the config or recorded at first contact. */
  hostKey?: pulumi.Input<string>;
}

export interface NodeConnection extends SshEndpoint {
  proxy?: SshEndpoint;
  dialErrorLimit?: number;
  perDialTimeout?: number;
}

/** A PF as the node reported it, plus the distinct drivers its VFs are bound to. */
/** A PF as the stack outputs show it: counts and drivers, not every VF (fleet-scale state). */
export type PhysicalFunctionOutput = Omit<PhysicalFunctionReport, "vfs"> & { drivers: string[] };

export interface SriovNodePrepArgs {
  /** The node's desired state (required); its owner defaults to nodeOwner(state.node). */
  state: NodeState;
  /** How to reach the node over SSH, credentials as secret Outputs (required). */
  connection: NodeConnection;
  /**
   * The node is gone for good: the command keeps its last report but runs nothing, not even
   * on delete, so removing the node (or `pulumi destroy`) never dials it. The change itself is
   * an update with neither `create` nor `update`, which @pulumi/command stores without
   * connecting. The host keeps its VFs and boot unit. Default false.
   */
  decommissioned?: boolean;
  /** Run the script through `sudo -n`. Default: when the SSH user is not root. */
  sudo?: boolean;
  /** Lab and tests only: point the script at a simulated host's roots and tool shims (default: the real host). */
  simulatedHost?: { roots: NodeRoots; pathPrefix?: string };
}

/**
 * A short hash of the VF layout of the PFs this state manages, those its NIC selectors
 * matched included (other PFs on the node do not count). Stable across runs while the layout
 * is unchanged.
 */
export function vfFingerprint(
  pfs: PhysicalFunctionReport[],
  state: NodeState,
  resolved: readonly { pciAddress: string }[] = [],
): string {
  const picked = new Set(resolved.map((r) => r.pciAddress));
  const ours = (pf: PhysicalFunctionReport) =>
    picked.has(pf.pciAddress) ||
    state.pfs.some((p) => p.pciAddress === pf.pciAddress || (p.name !== undefined && p.name === pf.name));
  const layout = pfs
    .filter(ours)
    .sort((a, b) => a.pciAddress.localeCompare(b.pciAddress))
    .map((pf) => ({
      pf: pf.pciAddress,
      numVfs: pf.numVfs,
      // IOMMU groups can be renumbered when VFs are recreated; the device plugin must then restart.
      vfs: pf.vfs.map((vf) => [vf.pciAddress, vf.driver, vf.iommuGroup]),
    }));
  return createHash("sha256").update(JSON.stringify(layout)).digest("hex").slice(0, 16);
}

/**
 * Who prepares a node, as the host records it: "<project>/<stack>/<node entry>". Two stacks,
 * or two entries, on one host are two owners: each reverts only the PFs it claimed.
 */
export function nodeOwner(node: string): string {
  return `${pulumi.getProject()}/${pulumi.getStack()}/${node}`;
}

function secretOrUndefined(v: pulumi.Input<string> | undefined): pulumi.Output<string> | undefined {
  return v === undefined ? undefined : pulumi.secret(v);
}

function endpoint(e: SshEndpoint): command.types.input.remote.ProxyConnectionArgs {
  return {
    host: e.host,
    port: e.port,
    user: e.user,
    privateKey: secretOrUndefined(e.privateKey),
    password: secretOrUndefined(e.password),
    hostKey: e.hostKey,
  };
}

/** remote.Command's connection, with every credential wrapped in pulumi.secret. */
export function remoteConnection(c: NodeConnection): command.types.input.remote.ConnectionArgs {
  return {
    ...endpoint(c),
    proxy: c.proxy ? endpoint(c.proxy) : undefined,
    dialErrorLimit: c.dialErrorLimit,
    perDialTimeout: c.perDialTimeout,
  };
}

export class SriovNodePrep extends pulumi.ComponentResource {
  /** Everything the node reported after apply. */
  public readonly report: pulumi.Output<NodeReport>;
  public readonly physicalFunctions: pulumi.Output<PhysicalFunctionOutput[]>;
  /** Kernel arguments the node did not boot with (IOMMU, hugepages); a reboot applies them. */
  public readonly kernelChanges: pulumi.Output<string[]>;
  public readonly rebootRequired: pulumi.Output<boolean>;
  public readonly vfioReady: pulumi.Output<boolean>;
  /** PFs whose vfio-pci VFs share an IOMMU group with a host-driver device (no VM can use them). */
  public readonly vfioConflicts: pulumi.Output<string[]>;
  /** Put on the device plugin's pod template so it restarts when VFs are recreated. */
  public readonly vfFingerprint: pulumi.Output<string>;

  constructor(name: string, args: SriovNodePrepArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.nodePrep, name, {}, opts);
    const node = args.state.node;
    const c = args.connection;
    if (!c.host || !c.user || !Number.isInteger(c.port) || c.port < 1 || c.port > 65535) {
      throw new pulumi.ResourceError(`node ${node}: SSH connection needs host, user and a port 1-65535`, this);
    }
    // Non-root SSH users need passwordless sudo for the script (sysfs writes are root-only).
    const options = { sudo: args.sudo ?? c.user !== "root", ...args.simulatedHost };
    const state: NodeState = { ...args.state, owner: args.state.owner ?? nodeOwner(node) };
    let apply: string | undefined;
    let revert: string | undefined;
    try {
      apply = renderRemoteCommand("apply", state, options);
      revert = renderRevertCommand(state, options);
    } catch (e) {
      throw new pulumi.ResourceError(`node ${node}: ${(e as Error).message}`, this);
    }
    const decommissioned = args.decommissioned ?? false;
    if (decommissioned) {
      // @pulumi/command 1.2 runs on update `update`, else `create`, else nothing, and on
      // delete `delete`, else nothing: with none of the three, no step ever connects.
      apply = undefined;
      revert = undefined;
    }

    const cmd = new command.remote.Command(
      childName(name, "sriov"),
      {
        connection: remoteConnection(c),
        // Also what a change runs: with no `update`, @pulumi/command 1.2 runs `create` again
        // in place (only `triggers` replace), so the script is not stored a third time.
        create: apply,
        // The state inline, the script not: it reverts with the copy apply installed on the
        // host before its first write (so a half-applied host has it too), which keeps the
        // ~32 KB script out of every node's `delete` (state and memory at fleet scale).
        delete: revert,
        // Setting PULUMI_COMMAND_STDOUT needs sshd AcceptEnv, and nothing reads it.
        addPreviousOutputInEnv: false,
      },
      // A replacement (`pulumi up --replace`, a future replace-on-change input) runs apply and
      // revert as the same owner: revert first, or it would undo the apply that just ran.
      { parent: this, deleteBeforeReplace: true },
    );

    this.report = cmd.stdout.apply((out) => {
      if (decommissioned && !out) {
        throw new pulumi.ResourceError(
          `node ${node}: decommissioned, but this stack never prepared it (no report in the state); cure: remove the node entry instead`,
          this,
        );
      }
      try {
        return parseNodeReport(out);
      } catch (e) {
        throw new pulumi.ResourceError(`node ${node}: ${(e as Error).message}`, this);
      }
    });
    this.physicalFunctions = this.report.apply((r) =>
      r.pfs.map(({ vfs, ...pf }) => ({
        ...pf,
        drivers: [...new Set(vfs.flatMap((vf) => (vf.driver ? [vf.driver] : [])))].sort(),
      })),
    );
    this.kernelChanges = this.report.apply((r) => r.kernelChanges);
    this.rebootRequired = this.report.apply((r) => r.rebootRequired);
    this.vfioReady = this.report.apply((r) => r.vfioReady);
    // The VFs are in place and nothing is undone: say loudly that VMs cannot use them.
    this.vfioConflicts = this.report.apply((r) => {
      for (const c of r.vfio.conflicts) pulumi.log.warn(`node ${node}: ${c}`, this);
      return r.vfio.conflicts;
    });
    this.vfFingerprint = this.report.apply((r) => vfFingerprint(r.pfs, state, r.resolved));

    // The full report (every VF) stays a property; registering it would store it twice per node.
    this.registerOutputs({
      physicalFunctions: this.physicalFunctions,
      kernelChanges: this.kernelChanges,
      rebootRequired: this.rebootRequired,
      vfioReady: this.vfioReady,
      vfioConflicts: this.vfioConflicts,
      vfFingerprint: this.vfFingerprint,
    });
  }
}
