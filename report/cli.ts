// `npm run report -- <stack> [--check]`: validates and plans stacks/Pulumi.<stack>.yaml and writes
// reports/<stack>.md, plus reports/<stack>.svg when Graphviz `dot` is installed
// (.ci/install-report-deps.sh). With --check the exit code is 2 when the plan is not feasible.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { ConfigError } from "../config/errors";
import { CONFIG_ENV_LIMIT, PLATFORM_FILE_ROOT, platformSource, pulumiConfigEnvBytes } from "../config/platformFile";
import { CONFIG_ROOT } from "../config/schema";
import { parsePlatform } from "../config/validate";
import { planPlatform } from "../plan/plan";
import type { Plan } from "../plan/types";
import { renderDot } from "./dot";
import { renderReport } from "./markdown";

export interface ReportRun {
  markdownPath: string;
  svgPath?: string;
  plan: Plan;
}

export interface ReportCliOptions {
  /** Project root holding stacks/ and reports/. */
  root: string;
  /** The Graphviz executable; a missing one only skips the SVG. */
  dot?: string;
  log?: (line: string) => void;
}

export class ReportCliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportCliError";
  }
}

const STACK_FILE = /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/;

export function listStacks(stacksDir: string): string[] {
  if (!fs.existsSync(stacksDir)) return [];
  return fs
    .readdirSync(stacksDir)
    .map((f) => STACK_FILE.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/** Renders the DOT text to SVG; undefined when `dot` cannot be run. */
export function dotToSvg(dot: string, executable = "dot"): string | undefined {
  const r = spawnSync(executable, ["-Tsvg"], { input: dot, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.error) return undefined;
  if (r.status !== 0) throw new ReportCliError(`${executable} -Tsvg failed (exit ${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function runReport(stack: string, options: ReportCliOptions): ReportRun {
  const log = options.log ?? ((line: string) => console.log(line));
  const stacksDir = path.join(options.root, "stacks");
  const stacks = listStacks(stacksDir);
  if (!/^[A-Za-z0-9_.-]+$/.test(stack) || !stacks.includes(stack)) {
    throw new ReportCliError(
      `unknown stack "${stack}": no stacks/Pulumi.${stack}.yaml — stacks that exist: ${stacks.join(", ") || "(none)"}`,
    );
  }
  const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined;
  const inline = doc?.config?.[CONFIG_ROOT];
  const platformFile = doc?.config?.[PLATFORM_FILE_ROOT];
  if (inline === undefined && platformFile === undefined)
    throw new ReportCliError(
      `${path.relative(options.root, file)} has no config key "${CONFIG_ROOT}" — add the platform block (see stacks/Pulumi.kubecon-demo.yaml), or name a platform file with "${PLATFORM_FILE_ROOT}"`,
    );
  // As the engine would hand them to the program: the platform as JSON text, the file's name as is.
  const source = platformSource(
    inline === undefined ? undefined : JSON.stringify(inline),
    platformFile === undefined ? undefined : String(platformFile),
    stack,
    options.root,
  );

  // Checked here because the program cannot: past the limit it is never started.
  const envBytes = pulumiConfigEnvBytes(doc?.config ?? {});
  const shrink = `move the platform into a file the stack names (pulumi config set platformFile fleets/${stack}.yaml), or write nodes with a profile and patterns (stacks/Pulumi.fleet-example.yaml)`;
  if (envBytes > CONFIG_ENV_LIMIT) {
    throw new ReportCliError(
      `${path.relative(options.root, file)}: the stack config takes ${envBytes} bytes as PULUMI_CONFIG, over the ${CONFIG_ENV_LIMIT} bytes Linux allows one environment string, so \`pulumi up\` would fail before the program starts ("argument list too long", pulumi/pulumi#8680) — ${shrink}`,
    );
  }
  if (envBytes > 0.75 * CONFIG_ENV_LIMIT) {
    log(
      `warning: the stack config takes ${envBytes} of the ${CONFIG_ENV_LIMIT} bytes Pulumi's Node.js host can pass the program (PULUMI_CONFIG); past that \`pulumi up\` fails before the program starts — ${shrink}`,
    );
  }

  const model = parsePlatform(source.raw, source.root);
  const plan = planPlatform(model);

  const outDir = path.join(options.root, "reports");
  fs.mkdirSync(outDir, { recursive: true });
  let svgPath: string | undefined = path.join(outDir, `${stack}.svg`);
  const svg = dotToSvg(renderDot(model, plan, undefined, `stack ${stack}`), options.dot);
  if (svg === undefined) {
    log(
      `Graphviz "${options.dot ?? "dot"}" not found: skipping ${path.relative(options.root, svgPath)} (install it with .ci/install-report-deps.sh)`,
    );
    svgPath = undefined;
  } else {
    fs.writeFileSync(svgPath, svg);
  }
  const markdownPath = path.join(outDir, `${stack}.md`);
  fs.writeFileSync(markdownPath, renderReport(stack, model, plan, svgPath ? { svg: path.basename(svgPath) } : {}));
  log(
    `wrote ${path.relative(options.root, markdownPath)}${svgPath ? ` and ${path.relative(options.root, svgPath)}` : ""}: ${plan.feasible ? "feasible" : `NOT feasible (${plan.errors.length} errors)`}, ${plan.warnings.length} warnings`,
  );
  return { markdownPath, svgPath, plan };
}

function main(argv: string[]): number {
  const args = argv.filter((a) => !a.startsWith("--"));
  const check = argv.includes("--check");
  const root = path.resolve(__dirname, "..");
  if (args.length !== 1) {
    console.error(
      `usage: npm run report -- <stack> [--check]   (stacks: ${listStacks(path.join(root, "stacks")).join(", ") || "none"})`,
    );
    return 64;
  }
  try {
    const { plan } = runReport(args[0], { root });
    return check && !plan.feasible ? 2 : 0;
  } catch (e) {
    if (e instanceof ReportCliError || e instanceof ConfigError) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
