/**
 * The shapes of the values a project's .env files give, checked before any reaches a config file (HAProxy's), a URL
 * (Docker's API), a shell or git command line (the GitOps commit) or a label. Each check returns the value or
 * throws one line: `where` (the key and the file that set it), the value as JSON (a newline shows as \n), the fix.
 * The deploy module checks the same values again in its withX() functions; these name the key and the file.
 */

const shown = (value: string) => JSON.stringify(value);

/** SLIPWAY_APP: a container-name-safe app name (it names containers and goes into Docker API URLs). */
export function appName(value: string, where: string): string {
  if (/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(value)) return value;
  throw new Error(`${where}=${shown(value)} is not an app name: use up to 63 lowercase letters, digits, ".", "_" and "-" (e.g. node-api)`);
}

/** SLIPWAY_HEALTH_PATH: a URL path for HAProxy's health check line; no space, quote, # or control character. */
export function healthPath(value: string, where: string): string {
  if (/^\/[A-Za-z0-9._~%/?=&:@+,-]{0,200}$/.test(value)) return value;
  throw new Error(`${where}=${shown(value)} is not a URL path: write /PATH from letters, digits and -._~%/?=&:@+, (e.g. /health)`);
}

/**
 * SLIPWAY_URL: http(s)://HOST:PORT and nothing else (no user, path, query or fragment, no whitespace: the URL
 * parser would drop a newline silently). Returns the proxy's listen address, HOST:PORT.
 */
export function serviceUrl(value: string, where: string): string {
  const fix = `write http://HOST:PORT, e.g. http://127.0.0.1:18081 (no path, query or user)`;
  if (/\s/.test(value) || [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    throw new Error(`${where}=${shown(value)} has whitespace or a control character: ${fix}`);
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${where}=${shown(value)} is not a URL: ${fix}`);
  }
  const bare = !u.username && !u.password && (u.pathname === "/" || u.pathname === "") && !u.search && !u.hash && !value.includes("#");
  if (!/^https?:$/.test(u.protocol) || !bare || !/^[A-Za-z0-9.-]+$/.test(u.hostname))
    throw new Error(`${where}=${shown(value)} is not an http(s) address of a host: ${fix}`);
  return `${u.hostname}:${u.port || (u.protocol === "https:" ? 443 : 80)}`;
}

/** SLIPWAY_GITOPS_BRANCH: a git branch name from a safe alphabet (it reaches git's command line and a refspec). */
export function gitBranch(value: string, where: string): string {
  const ok = /^[A-Za-z0-9._/-]{1,200}$/.test(value) && !/^[-/.]|[/.]$|\.\.|\/\/|\/\.|\.lock$/.test(value);
  if (ok) return value;
  throw new Error(`${where}=${shown(value)} is not a branch name: use letters, digits and . _ / - (e.g. main or deploy/staging)`);
}

/** SLIPWAY_GITOPS_PATH: a relative directory inside the manifests repository, never above it. */
export function repoPath(value: string, where: string): string {
  if (/^[A-Za-z0-9._/-]{1,200}$/.test(value) && !/^[-/]/.test(value) && !value.split("/").includes("..")) return value;
  throw new Error(
    `${where}=${shown(value)} is not a directory inside the repository: use letters, digits and . _ / -, no leading / and no .. (e.g. overlays/staging)`,
  );
}

/**
 * SLIPWAY_GITOPS_REMOTE: a git URL (git, http, https or ssh) from a safe alphabet, with no credentials in it: they
 * would be in every log and report that names the remote; the token comes from SLIPWAY_GITOPS_TOKEN.
 */
export function gitRemote(value: string, where: string): string {
  const fix = "write e.g. https://git.example.com/team/manifests.git";
  if (!/^(git|https?|ssh):\/\/[A-Za-z0-9._~:/@%+-]+$/.test(value) || !URL.canParse(value))
    throw new Error(`${where}=${shown(value)} is not a git URL: ${fix}`);
  const u = new URL(value);
  if (u.password || (u.username && u.protocol !== "ssh:"))
    throw new Error(
      `${where}=${shown(value.replace(/\/\/[^/]*@/, "//***@"))} carries credentials: remove them from the URL and export the token as SLIPWAY_GITOPS_TOKEN`,
    );
  return value;
}

/** A name after SLIPWAY_APP_ENV_ or SLIPWAY_APP_SECRET_: an environment variable name of the app. */
export function variableName(name: string, where: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return name;
  throw new Error(`${where}: ${shown(name)} is not an environment variable name: use letters, digits and _, not starting with a digit`);
}

/** A plain variable's value: one line (no newline, carriage return or NUL; dotenv turns \n in double quotes into one). */
export function variableValue(value: string, where: string): string {
  if (!/[\n\r\0]/.test(value)) return value;
  throw new Error(`${where}: the value has a newline, carriage return or NUL: keep it on one line (no \\n in double quotes)`);
}
