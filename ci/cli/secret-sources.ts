/**
 * Which host files and environment variables a project's secret references (SLIPWAY_APP_SECRET_<NAME>=file:PATH or
 * env:VAR) may name. The project's .env files are the project's; what they may read on the deploying host is the
 * operator's to say, in a root-owned file outside every project: /etc/slipway/secret-sources, one source a line
 *
 *   file:/var/cache/slipway/targets/     a directory (trailing /): every file under it
 *   file:/etc/app/database-url           one file ("*" matches within one path segment)
 *   env:APP_SECRET_*                      environment variables ("*" matches any run of letters, digits and _)
 *
 * With no such file, DEFAULT_SECRET_SOURCES apply. Whatever the file says, Slipway's own secrets are never a
 * source: its signing keys and registry credentials under the cache, and variables named SLIPWAY_* or COSIGN_*.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { paths } from "../platform/host.ts";

/** The operator's allowlist. */
export const SECRET_SOURCES_FILE = "/etc/slipway/secret-sources";

/** The allowlist when SECRET_SOURCES_FILE does not exist: the local targets' files, and APP_SECRET_* variables. */
export const DEFAULT_SECRET_SOURCES = [`file:${paths.cache}/targets/`, "env:APP_SECRET_*"];

/** The SSH test host's keys (`targets up ssh-host`): a deploy's credentials by default, never an app's secret. */
export const SSH_HOST_KEYS = `file:${paths.cache}/ssh-host/`;

/**
 * Never a source, whatever the allowlist says: the signing keys, the registry's credentials, the SSH test host's
 * keys, Slipway's variables.
 */
export const NEVER_SECRET_SOURCES = [
  `file:${paths.cache}/keys/`,
  `file:${paths.cache}/registry-private/`,
  SSH_HOST_KEYS,
  "env:SLIPWAY_*",
  "env:COSIGN_*",
];

const RULE = /^(file:\/\S*|env:[A-Za-z_*][A-Za-z0-9_*]*)$/;

/** The allowlist's rules from its text; a line that is no rule is an error naming file and line. */
export function parseSecretSources(text: string, file: string): string[] {
  return text.split("\n").flatMap((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return [];
    if (!RULE.test(line)) throw new Error(`${file}:${i + 1}: "${line.slice(0, 60)}" is not file:/PATH or env:NAME: fix or remove the line`);
    return [line];
  });
}

/**
 * The operator's rules: SECRET_SOURCES_FILE (or `file`) when it exists, DEFAULT_SECRET_SOURCES when not. The file
 * must be a regular file owned by root and writable by no one else: whoever can write it decides what every
 * project may read on this host.
 */
export function secretSourceRules(file = SECRET_SOURCES_FILE): { rules: string[]; from: string } {
  if (!existsSync(file)) return { rules: DEFAULT_SECRET_SOURCES, from: `the default (no ${file})` };
  const st = lstatSync(file);
  if (!st.isFile() || st.uid !== 0 || st.mode & 0o022)
    throw new Error(
      `${file} must be a file owned by root and writable by root alone (it is ${st.isFile() ? `owned by uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}` : "not a regular file"}): chown root:root ${file} && chmod 644 ${file}`,
    );
  return { rules: parseSecretSources(readFileSync(file, "utf8"), file), from: file };
}

const glob = (pattern: string, any: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, `${any}*`)}$`);

/** Whether one rule covers a reference (a file reference already absolute and normalized). */
function covers(rule: string, ref: string): boolean {
  const [kind, pattern] = [rule.slice(0, rule.indexOf(":")), rule.slice(rule.indexOf(":") + 1)];
  const [refKind, value] = [ref.slice(0, ref.indexOf(":")), ref.slice(ref.indexOf(":") + 1)];
  if (kind !== refKind) return false;
  if (kind === "env") return glob(pattern, "[A-Za-z0-9_]").test(value);
  if (pattern.endsWith("/")) return value.startsWith(pattern) && value.length > pattern.length;
  return glob(pattern, "[^/]").test(value);
}

/**
 * null when `ref` (env:VAR or file:PATH) is allowed by `rules` and by none of NEVER_SECRET_SOURCES; otherwise why
 * not, as the end of a one-line refusal. A file is judged by its normalized path and, when it exists, by the path
 * its symbolic links lead to: both must be allowed.
 */
export function secretSourceRefusal(
  ref: string,
  rules: string[],
  from: string,
  realpath = realOrSelf,
  never = NEVER_SECRET_SOURCES,
): string | null {
  const kind = ref.slice(0, ref.indexOf(":"));
  const value = ref.slice(ref.indexOf(":") + 1);
  let refs: string[];
  if (kind === "env") {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) return `"${value}" is not an environment variable name: write env:NAME`;
    refs = [ref];
  } else if (kind === "file") {
    if (!isAbsolute(value)) return `"${value}" is not an absolute path: write file:/PATH`;
    const normal = resolve(value);
    refs = [...new Set([`file:${normal}`, `file:${realpath(normal)}`])];
  } else {
    return "it is neither env:VAR nor file:PATH";
  }
  for (const r of refs) {
    if (never.some((n) => covers(n, r)))
      return kind === "env"
        ? `Slipway's own variables (SLIPWAY_*, COSIGN_*) are never a secret source: export the app's secret under a name of its own (e.g. APP_SECRET_${value.replace(/^(SLIPWAY|COSIGN)_/, "")})`
        : `Slipway's signing keys, registry credentials and SSH test host keys (${paths.cache}/keys/, ${paths.cache}/registry-private/, ${paths.cache}/ssh-host/) are never a secret source: give the app a secret file of its own`;
  }
  const outside = refs.find((r) => !rules.some((rule) => covers(rule, r)));
  if (!outside) return null;
  return `${outside} is outside the secret sources the operator allows (${from}: ${rules.join(", ") || "none"}): to allow it, add the line "${outside}" to ${SECRET_SOURCES_FILE} (root-owned, mode 644)`;
}

/** Where path leads: its real path, or for a link whose target is missing, where the chain of links points. */
function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    let p = path;
    for (let hop = 0; hop < 40; hop++) {
      try {
        if (!lstatSync(p).isSymbolicLink()) break;
        p = resolve(dirname(p), readlinkSync(p));
      } catch {
        break;
      }
    }
    return p;
  }
}

/** Refuses ref unless the operator's allowlist allows it; `where` names the setting (key and file) in the line. */
export function checkSecretSource(ref: string, where: string, allow = secretSourceRules()): void {
  const why = secretSourceRefusal(ref, allow.rules, allow.from);
  if (why) throw new Error(`${where}=${JSON.stringify(ref)} is refused: ${why}`);
}

/**
 * A deploy's own credential (an SSH Docker host's key and known_hosts): what the operator allows, and the SSH test
 * host's keys, which no app may name.
 */
export function checkDeployCredential(ref: string, where: string, allow = secretSourceRules()): void {
  const never = NEVER_SECRET_SOURCES.filter((n) => n !== SSH_HOST_KEYS);
  const why = secretSourceRefusal(ref, [...allow.rules, SSH_HOST_KEYS], allow.from, undefined, never);
  if (why) throw new Error(`${where}=${JSON.stringify(ref)} is refused: ${why}`);
}
