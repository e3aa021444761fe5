/** Types of bundle.mjs (plain JavaScript: ci/bin/slipway.js imports it before anything can compile TypeScript). */
export type Stamp = [mtimeMs: number, size: number];
export interface Manifest {
  format: number;
  root: string;
  entry: string;
  inputs: Record<string, Stamp>;
  rebuild?: string;
}
export const ROOT: string;
export const FORMAT: number;
export function buildDir(root?: string): string;
export function staleReason(m: Manifest | undefined, root: string, stat: (path: string) => Stamp | undefined): string | undefined;
export function freshEntry(root?: string): { entry: string; reason?: undefined } | { reason: string; entry?: undefined };
export function canWrite(root?: string): boolean;
export function build(root?: string): Promise<string>;
export function bundledEntry(root?: string): Promise<string | undefined>;
