// Types for build.js (plain JavaScript: it runs before anything is compiled).
export const BIN: string;
export const STAMP: string;
export interface ProgramChoice {
  kind: "compiled" | "source";
  reason: string;
}
export function sourceFiles(root?: string): string[];
export function sourcesDigest(root?: string): string;
export function chooseProgram(root?: string, env?: NodeJS.ProcessEnv): ProgramChoice;
export function build(root?: string): boolean;
