// Compiles the program into bin/ for the engine to run, and says whether bin/ is current.
//
//   node build.js          compile (no type check: `npm run build` checks first), copy node/, stamp
//
// Why: compiling the TypeScript on every `pulumi preview` and `up` cost about 1.2 s of CPU
// (ts-node), most of a no-op preview's time beyond an empty program (BENCHMARKS.md). main.js
// runs bin/ only when its stamp matches a digest of the sources it was built from, so a stale
// build is never run: without a current build, main.js compiles the TypeScript as before.
//
// Plain JavaScript: it runs before anything is compiled. The digest is hand-written (a sorted
// walk and one SHA-256) because nothing else here needs a file-tree hashing package.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");

const ROOT = __dirname;
/** The compiled program, and the stamp that says which sources it was built from. */
const BIN = "bin";
const STAMP = path.join(BIN, ".sources-sha256");
/** What the compiled program is made of: its TypeScript, the files it reads beside itself, and how it is compiled. */
const SOURCE_FILES = ["index.ts", "tsconfig.json", "tsconfig.pulumi.json", "build.js"];
const SOURCE_DIRS = ["config", "components", "render", "plan", "node"];

/** Every source file, relative to root, sorted. */
function sourceFiles(root = ROOT) {
  const out = [...SOURCE_FILES];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  return out.sort();
}

/** SHA-256 over every source file's path and bytes (a missing file counts as a difference). */
function sourcesDigest(root = ROOT) {
  const h = crypto.createHash("sha256");
  for (const f of sourceFiles(root)) {
    h.update(f + "\0");
    h.update(fs.existsSync(path.join(root, f)) ? fs.readFileSync(path.join(root, f)) : "(missing)");
    h.update("\0");
  }
  return h.digest("hex");
}

/**
 * Which program to run: `compiled` (bin/index.js, built from exactly these sources) or `source`
 * (compile index.ts on the fly), with the reason. KUBEVIRT_SRIOV_PROGRAM=source forces the latter.
 */
function chooseProgram(root = ROOT, env = process.env) {
  if (env.KUBEVIRT_SRIOV_PROGRAM === "source") return { kind: "source", reason: "KUBEVIRT_SRIOV_PROGRAM=source" };
  const stampFile = path.join(root, STAMP);
  if (!fs.existsSync(stampFile) || !fs.existsSync(path.join(root, BIN, "index.js")))
    return { kind: "source", reason: "no build in bin/ (npm run build makes one)" };
  if (fs.readFileSync(stampFile, "utf8").trim() !== sourcesDigest(root))
    return { kind: "source", reason: "bin/ was built from other sources (npm run build refreshes it)" };
  return { kind: "compiled", reason: "bin/ is built from these sources" };
}

/**
 * Builds bin/ unless it is current. It builds beside bin/ and swaps the directory in whole, stamp
 * included, so a build that fails or races another leaves either the old bin/ or none: never a
 * stamped half. Returns whether it built.
 */
function build(root = ROOT) {
  if (chooseProgram(root, {}).kind === "compiled") return false;
  const digest = sourcesDigest(root);
  const tmp = path.join(root, `${BIN}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    const tsc = require.resolve("typescript/bin/tsc", { paths: [root] });
    const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.pulumi.json"), "--outDir", tmp], {
      cwd: root,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`tsc -p tsconfig.pulumi.json failed:\n${r.stdout}${r.stderr}`);
    // The program reads node/ beside its own folder (path.join(__dirname, "..", "node", ...)).
    fs.cpSync(path.join(root, "node"), path.join(tmp, "node"), { recursive: true });
    fs.writeFileSync(path.join(tmp, path.basename(STAMP)), digest + "\n");
    const old = path.join(root, `${BIN}.old-${process.pid}`);
    if (fs.existsSync(path.join(root, BIN))) fs.renameSync(path.join(root, BIN), old);
    fs.renameSync(tmp, path.join(root, BIN));
    fs.rmSync(old, { recursive: true, force: true });
    return true;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

module.exports = { BIN, STAMP, sourceFiles, sourcesDigest, chooseProgram, build };

if (require.main === module) {
  const built = build();
  process.stderr.write(built ? `built ${BIN}/ (${sourcesDigest().slice(0, 12)})\n` : `${BIN}/ is current\n`);
}
