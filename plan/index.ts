// The preflight planner: pure functions of the PlatformModel (and optional node discovery).
export { assertFeasible, planPlatform } from "./plan";
export { checkConsistency, kubevirtPlan } from "./consistency";
export { memoryMi, vmDemand } from "./demand";
export type { VmDemand } from "./demand";
export type {
  DiscoveredNode,
  DiscoveredPf,
  InjectionState,
  KubevirtPlan,
  NodePlan,
  Placement,
  Plan,
  PlanProblem,
  PlanProblemKind,
  PoolNodeUsage,
  PoolPlan,
  ProfilePlan,
  Quantity,
} from "./types";
