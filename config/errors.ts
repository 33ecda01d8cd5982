// One error type for every problem found in a stack's configuration, so the program can
// report them all at once as `<config path>: <what is wrong> — <how to fix it>`. Checks return
// the parts as data; formatProblem is the one place that writes them as that line.

export type PathSegment = string | number;

export interface ConfigProblem {
  path: PathSegment[];
  problem: string;
  fix: string;
  /** The config key the path starts in, when not the error's own (a secret like `ops:bmcPassword`). */
  root?: string;
}

/** Renders a path the way a user finds it in the stack file: `nodes[0].ssh.host`. */
export function formatPath(root: string, path: readonly PathSegment[]): string {
  let out = root;
  for (const seg of path) {
    out += typeof seg === "number" ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `["${seg}"]`;
  }
  return out;
}

export function formatProblem(root: string, p: ConfigProblem): string {
  return `${formatPath(p.root ?? root, p.path)}: ${p.problem} — ${p.fix}`;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  readonly root: string;

  constructor(root: string, problems: ConfigProblem[], heading = "invalid stack configuration") {
    const lines = problems.map((p) => `  - ${formatProblem(root, p)}`);
    super(`${heading} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.root = root;
    this.problems = problems;
  }
}

/** Collects problems while checks run; throws them together at the end. */
export class ProblemList {
  private readonly items: ConfigProblem[] = [];

  add(path: PathSegment[], problem: string, fix: string): void {
    this.items.push({ path, problem, fix });
  }

  get all(): readonly ConfigProblem[] {
    return this.items;
  }

  get size(): number {
    return this.items.length;
  }

  throwIfAny(root: string, heading?: string): void {
    if (this.items.length > 0) throw new ConfigError(root, [...this.items], heading);
  }
}
