/** Deploy environments from the example's dotenv-flow files, and the errors for bad ones. */
import { chmodSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadEnvironment, secretValue } from "../cli/environments.ts";
import { appName, gitBranch, gitRemote, healthPath, repoPath, serviceUrl, variableName, variableValue } from "../cli/inputs.ts";
import {
  checkDeployCredential,
  checkSecretSource,
  DEFAULT_SECRET_SOURCES,
  parseSecretSources,
  secretSourceRefusal,
  secretSourceRules,
  SECRET_SOURCES_FILE,
} from "../cli/secret-sources.ts";
import { EXAMPLE, tempDir } from "./helpers.ts";
import { DEFAULT_ERROR_QUERY, DEFAULT_LATENCY_QUERY } from "../../modules/deploy/src/metrics.ts";

function withEnvFile(name: string, text: string): string {
  const dir = tempDir("env");
  for (const f of [".env", ".env.staging"]) cpSync(join(EXAMPLE, f), join(dir, f));
  writeFileSync(join(dir, name), text);
  return dir;
}

describe("environments", () => {
  it("staging and production of the example: .env shared, .env.<name> specific, secrets by reference", () => {
    const staging = loadEnvironment(EXAMPLE, "staging");
    expect(staging.settings).toMatchObject({
      app: "node-api",
      strategy: "blue-green",
      replicas: 2,
      listen: "127.0.0.1:18081",
      windowSeconds: 5,
      maxErrorRate: 0.01,
      env: { LOG_LEVEL: "warn" },
      secretNames: ["DATABASE_URL"],
    });
    expect(staging.secrets.DATABASE_URL).toBe("file:/var/cache/slipway/targets/staging/database-url");
    const production = loadEnvironment(EXAMPLE, "production");
    expect(production.settings).toMatchObject({ strategy: "canary", canarySteps: [10, 50, 100], listen: "127.0.0.1:18082" });
    expect(production.dockerHost).toBe("unix:///var/cache/slipway/targets/production/docker.sock");
    expect(production.settings).not.toHaveProperty("adminPort"); // HAProxy's runtime API has no TCP port any more
  });

  it("the Docker API is a unix socket: tcp:// is refused in one line naming the key and the fix", () => {
    const tcp = withEnvFile(".env.staging.local", "SLIPWAY_DOCKER_HOST=tcp://127.0.0.1:2381\n");
    expect(() => loadEnvironment(tcp, "staging")).toThrow(
      /^SLIPWAY_DOCKER_HOST \(from .*\)="tcp:\/\/127\.0\.0\.1:2381": an unauthenticated TCP Docker API is refused: use the target's unix socket \(unix:\/\/\/var\/run\/docker\.sock\) or reach the host over SSH \(ssh:\/\/deploy@HOST\)$/,
    );
    const http = withEnvFile(".env.staging.local", "SLIPWAY_DOCKER_HOST=http://docker:2375\n");
    expect(() => loadEnvironment(http, "staging")).toThrow(/is not a Docker host: write unix:\/\/\/PATH .* or ssh:\/\/USER@HOST$/);
  });

  it("an ssh:// Docker host: its key and known_hosts by reference, from the sources the operator allows", () => {
    const remote = loadEnvironment(EXAMPLE, "remote");
    expect(remote.dockerHost).toBe("ssh://deploy@172.31.250.10");
    expect(remote.ssh).toEqual({
      key: "file:/var/cache/slipway/ssh-host/deploy_key",
      knownHosts: "file:/var/cache/slipway/ssh-host/known_hosts",
    });
    expect(remote.settings.listen).toBe("172.31.250.10:18090");
    expect(loadEnvironment(EXAMPLE, "staging").ssh).toBeUndefined();
    const env = (text: string) => withEnvFile(".env.staging.local", text);
    expect(() => loadEnvironment(env("SLIPWAY_DOCKER_HOST=ssh://deploy@h\n"), "staging")).toThrow(
      /^SLIPWAY_SSH_KEY \(from .*\) is not set: an ssh:\/\/ Docker host needs the SSH private key \(file:PATH or env:VAR\) in \.env\.staging$/,
    );
    expect(() =>
      loadEnvironment(env("SLIPWAY_DOCKER_HOST=ssh://deploy@h\nSLIPWAY_SSH_KEY=-----BEGIN OPENSSH PRIVATE KEY-----\n"), "staging"),
    ).toThrow(/^SLIPWAY_SSH_KEY \(from .*\) must say where the SSH private key is \(env:VAR or file:PATH\), never the value itself$/);
    // the deploying host's own key is not the project's to name
    expect(() =>
      loadEnvironment(
        env(
          "SLIPWAY_DOCKER_HOST=ssh://deploy@h\nSLIPWAY_SSH_KEY=file:/root/.ssh/id_ed25519\nSLIPWAY_SSH_KNOWN_HOSTS=file:/root/.ssh/known_hosts\n",
        ),
        "staging",
      ),
    ).toThrow(
      /^SLIPWAY_SSH_KEY \(from .*\)="file:\/root\/\.ssh\/id_ed25519" is refused: .* outside the secret sources the operator allows/,
    );
    expect(() => loadEnvironment(env("SLIPWAY_DOCKER_HOST=ssh://root@h:99999\n"), "staging")).toThrow(
      /^SLIPWAY_DOCKER_HOST \(from .*\)="ssh:\/\/root@h:99999" is not an SSH Docker host: write ssh:\/\/USER@HOST\[:PORT\]/,
    );
  });

  it("metric gates: SLIPWAY_GATE_METRICS=prometheus with the default queries, a p99 ceiling; queries need it", () => {
    expect(loadEnvironment(EXAMPLE, "staging").settings.metrics).toBeUndefined();
    const on = withEnvFile(".env.staging.local", "SLIPWAY_GATE_METRICS=prometheus\nSLIPWAY_GATE_MAX_P99=250ms\n");
    expect(loadEnvironment(on, "staging").settings.metrics).toEqual({
      errorQuery: DEFAULT_ERROR_QUERY,
      latencyQuery: DEFAULT_LATENCY_QUERY,
      maxP99Seconds: 0.25,
    });
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_GATE_METRICS=datadog\n"), "staging")).toThrow(
      /^SLIPWAY_GATE_METRICS \(from .*\)="datadog" is not a gate source: use haproxy \(the proxy's counters\) or prometheus$/,
    );
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_GATE_MAX_P99=250ms\n"), "staging")).toThrow(
      /^SLIPWAY_GATE_MAX_P99 \(from .*\) needs SLIPWAY_GATE_METRICS=prometheus/,
    );
    const high = withEnvFile(".env.staging.local", "SLIPWAY_GATE_METRICS=prometheus\nSLIPWAY_APP_PORT=65400\n");
    expect(() => loadEnvironment(high, "staging")).toThrow(
      /^SLIPWAY_APP_PORT \(from .*\)=65400 leaves no room for the metric gates, .*: choose a port up to 65344$/,
    );
  });

  it("a .env.<name>.local overrides, as dotenv-flow orders them", () => {
    const dir = withEnvFile(".env.staging.local", "SLIPWAY_STRATEGY=rolling\n");
    expect(loadEnvironment(dir, "staging").settings.strategy).toBe("rolling");
  });

  it("bad files and values fail with file, line or setting and the fix", () => {
    expect(() => loadEnvironment(EXAMPLE, "qa")).toThrow(/^no \.env\.qa in .*: create it with SLIPWAY_DOCKER_HOST/);
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_STRATEGY rolling\n"), "staging")).toThrow(
      /\.env\.staging\.local:1: "SLIPWAY_STRATEGY rolling" is not NAME=value/,
    );
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_STRATEGY=big-bang\n"), "staging")).toThrow(
      "is not a strategy: use rolling, blue-green, canary",
    );
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_APP_SECRET_TOKEN=hunter2\n"), "staging")).toThrow(
      "must say where the secret is (env:VAR or file:PATH), never the value itself",
    );
    expect(() => loadEnvironment(withEnvFile(".env.staging.local", "SLIPWAY_REPLICAS=two\n"), "staging")).toThrow(
      'SLIPWAY_REPLICAS (from .env.staging.local)="two" is not a replica count (1-20)',
    );
  });
});

/** The refusal loadEnvironment gives for `line` added to .env.staging.local (or "" when it loads). */
function refusal(line: string): string {
  try {
    loadEnvironment(withEnvFile(".env.staging.local", line), "staging");
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}

describe("values that reach a config file, a URL, a shell or a label", () => {
  it("the injection strings are refused in one line naming the key, its file and the fix", () => {
    const cases: [string, RegExp][] = [
      // a newline in the health path would add a line to HAProxy's configuration (dotenv turns \n in double quotes into one)
      [
        'SLIPWAY_HEALTH_PATH="/health\\nbackend evil"\n',
        /^SLIPWAY_HEALTH_PATH \(from \.env\.staging\.local\)="\/health\\nbackend evil" is not a URL path: write \/PATH from /,
      ],
      ['SLIPWAY_HEALTH_PATH="/health#x"\n', /^SLIPWAY_HEALTH_PATH \(from \.env\.staging\.local\)="\/health#x" is not a URL path/], // # starts a comment in HAProxy's configuration
      ['SLIPWAY_HEALTH_PATH="/health check"\n', /^SLIPWAY_HEALTH_PATH .* is not a URL path/],
      // ";" in a branch would run a command next to the token; "?&/" in an app name would change a Docker API URL
      [
        "SLIPWAY_DEPLOY_TARGET=gitops\nSLIPWAY_GITOPS_REMOTE=https://git.example.com/m.git\nSLIPWAY_GITOPS_BRANCH=main;touch /tmp/x\n",
        /^SLIPWAY_GITOPS_BRANCH \(from \.env\.staging\.local\)="main;touch \/tmp\/x" is not a branch name: use letters, digits/,
      ],
      ["SLIPWAY_APP=a?&/b\n", /^SLIPWAY_APP \(from \.env\.staging\.local\)="a\?&\/b" is not an app name: use up to 63 lowercase letters/],
      ["SLIPWAY_GITOPS_PATH=../../etc\n", /^SLIPWAY_GITOPS_PATH .*="\.\.\/\.\.\/etc" is not a directory inside the repository/],
      [
        "SLIPWAY_DEPLOY_TARGET=gitops\nSLIPWAY_GITOPS_REMOTE=https://u:TOKEN@git.example.com/m.git\n",
        /^SLIPWAY_GITOPS_REMOTE .*="https:\/\/\*\*\*@git\.example\.com\/m\.git" carries credentials: remove them from the URL and export the token as SLIPWAY_GITOPS_TOKEN$/,
      ],
      [
        "SLIPWAY_DEPLOY_TARGET=gitops\nSLIPWAY_GITOPS_REMOTE=https://git.example.com/m.git;id\n",
        /^SLIPWAY_GITOPS_REMOTE .* is not a git URL/,
      ],
      [
        "SLIPWAY_URL=http://127.0.0.1:18081/admin?x=1\n",
        /^SLIPWAY_URL \(from \.env\.staging\.local\)=.* is not an http\(s\) address of a host: write http:\/\/HOST:PORT/,
      ],
      ['SLIPWAY_URL="http://127.0.0.1:18081\\nbind"\n', /^SLIPWAY_URL .* has whitespace or a control character/],
      ["SLIPWAY_URL=ftp://127.0.0.1:21\n", /is not an http\(s\) address of a host/],
      ["SLIPWAY_URL=http://user:pw@127.0.0.1:18081\n", /is not an http\(s\) address of a host/],
      [
        'SLIPWAY_APP_ENV_GREETING="hello\\nworld"\n',
        /^SLIPWAY_APP_ENV_GREETING \(from \.env\.staging\.local\): the value has a newline, carriage return or NUL: keep it on one line/,
      ],
      ["SLIPWAY_APP_ENV_1X=y\n", /^SLIPWAY_APP_ENV_1X .*: "1X" is not an environment variable name/],
      ["SLIPWAY_APP_SECRET_=env:APP_SECRET_X\n", /^SLIPWAY_APP_SECRET_ .*: "" is not an environment variable name/],
    ];
    // the same newline written as a real line break inside quotes: the syntax check names the line
    cases.push(['SLIPWAY_HEALTH_PATH="/health\nbackend evil"\n', /\.env\.staging\.local:2: "backend evil"" is not NAME=value/]);
    const failures = cases.flatMap(([line, expected]) => {
      const got = refusal(line);
      return expected.test(got) && !got.includes("\n") ? [] : [`${JSON.stringify(line)}: ${JSON.stringify(got)}`];
    });
    expect(failures).toEqual([]);
  });

  it("good values load as they are", () => {
    const dir = withEnvFile(
      ".env.staging.local",
      'SLIPWAY_HEALTH_PATH=/healthz?full=1\nSLIPWAY_APP_ENV_GREETING="hello world; tabs\tok"\nSLIPWAY_URL=https://app.example.com\n',
    );
    const e = loadEnvironment(dir, "staging");
    expect(e.settings.healthPath).toBe("/healthz?full=1");
    expect(e.settings.env.GREETING).toBe("hello world; tabs\tok");
    expect(e.settings.listen).toBe("app.example.com:443");
    const gitops = withEnvFile(
      ".env.staging.local",
      "SLIPWAY_DEPLOY_TARGET=gitops\nSLIPWAY_GITOPS_REMOTE=ssh://git@git.example.com/team/m.git\nSLIPWAY_GITOPS_BRANCH=deploy/staging\nSLIPWAY_GITOPS_PATH=overlays/staging\n",
    );
    expect(loadEnvironment(gitops, "staging").gitops).toEqual({
      remote: "ssh://git@git.example.com/team/m.git",
      branch: "deploy/staging",
      path: "overlays/staging",
      name: "node-api",
    });
  });

  it("an unset SLIPWAY_APP falls back to the directory's name, which must be an app name too", () => {
    const dir = join(tempDir("app"), "My App");
    mkdirSync(dir);
    writeFileSync(
      join(dir, ".env.staging"),
      "SLIPWAY_DOCKER_HOST=unix:///run/docker.sock\nSLIPWAY_URL=http://127.0.0.1:1\nSLIPWAY_APP_PORT=19000\n",
    );
    expect(() => loadEnvironment(dir, "staging")).toThrow(
      /^SLIPWAY_APP \(not set in \.env\.staging; the directory's name\)="My App" is not an app name/,
    );
  });

  it("the pure checks", () => {
    expect(appName("node-api.v2_x", "k")).toBe("node-api.v2_x");
    for (const bad of ["", "-x", "Node", "a/b", "a b", "a".repeat(64)]) expect(() => appName(bad, "k"), bad).toThrow(/^k=/);
    for (const bad of ["health", "/a b", '/a"b', "/a'b", "/a#b", "/a$b", "/a\\b", "/\r"]) expect(() => healthPath(bad, "k"), bad).toThrow();
    for (const bad of ["", "-f", "/x", "a..b", "a//b", "x/", "x.lock", "a;b", "a b", "$(id)", "a/.b"])
      expect(() => gitBranch(bad, "k"), bad).toThrow();
    expect(gitBranch("release/1.2", "k")).toBe("release/1.2");
    for (const bad of ["/abs", "a/../b", "-x", "a b", "a;b"]) expect(() => repoPath(bad, "k"), bad).toThrow();
    expect(repoPath(".", "k")).toBe(".");
    expect(serviceUrl("http://localhost:8080/", "k")).toBe("localhost:8080");
    expect(() => serviceUrl("http://[::1]:80", "k")).toThrow();
    expect(gitRemote("git://127.0.0.1:9418/manifests.git", "k")).toBe("git://127.0.0.1:9418/manifests.git");
    expect(() => gitRemote("https://TOKEN@github.com/o/r.git", "k")).toThrow(/carries credentials/);
    expect(() => gitRemote("ssh://git:pw@host/r.git", "k")).toThrow(/carries credentials/);
    expect(() => gitRemote("file:///tmp/r.git", "k")).toThrow(/is not a git URL/);
    expect(variableName("_A1", "k")).toBe("_A1");
    expect(() => variableValue("a\0b", "k")).toThrow(/NUL/);
    expect(() => variableValue("a\rb", "k")).toThrow(/carriage return/);
  });
});

describe("secret sources: the operator's allowlist", () => {
  const rules = ["file:/srv/secrets/", "file:/etc/app/*.url", "env:APP_SECRET_*", "env:DATABASE_URL"];
  const refused = (ref: string) => secretSourceRefusal(ref, rules, "/etc/slipway/secret-sources", (p) => p);

  it("allows what the rules name, and nothing else", () => {
    for (const ok of ["file:/srv/secrets/db", "file:/srv/secrets/a/b", "file:/etc/app/db.url", "env:APP_SECRET_TOKEN", "env:DATABASE_URL"])
      expect(refused(ok), ok).toBeNull();
    for (const no of [
      "file:/srv/secrets",
      "file:/srv/secretsX/a",
      "file:/etc/app/sub/db.url",
      "file:/etc/shadow",
      "env:DATABASE_URL2",
      "env:HOME",
    ])
      expect(refused(no), no).toMatch(
        /is outside the secret sources the operator allows \(\/etc\/slipway\/secret-sources: .*\): to allow it, add the line ".*" to \/etc\/slipway\/secret-sources/,
      );
    // .. is resolved before matching: no way out of an allowed directory
    expect(refused("file:/srv/secrets/../../etc/shadow")).toMatch(/file:\/etc\/shadow is outside/);
    expect(refused("file:relative/path")).toMatch(/is not an absolute path/);
    expect(refused("env:A-B")).toMatch(/is not an environment variable name/);
  });

  it("never Slipway's keys, registry credentials or own variables, whatever the rules say", () => {
    const all = ["file:/*", "file:/var/", "env:*"];
    const never = (ref: string) => secretSourceRefusal(ref, all, "test", (p) => p);
    expect(never("file:/var/cache/slipway/keys/cosign.key")).toMatch(
      /signing keys, registry credentials and SSH test host keys .* are never a secret source/,
    );
    // the SSH test host's keys are a deploy's credentials (SLIPWAY_SSH_KEY), never an app's secret
    expect(never("file:/var/cache/slipway/ssh-host/deploy_key")).toMatch(/never a secret source/);
    expect(() => checkDeployCredential("file:/var/cache/slipway/ssh-host/deploy_key", "SLIPWAY_SSH_KEY")).not.toThrow();
    expect(() => checkDeployCredential("file:/var/cache/slipway/keys/cosign.key", "SLIPWAY_SSH_KEY")).toThrow(/never a secret source/);
    expect(never("file:/var/cache/slipway/targets/../keys/cosign.key")).toMatch(/never a secret source/);
    expect(never("file:/var/cache/slipway/registry-private/credentials.json")).toMatch(/never a secret source/);
    expect(never("env:SLIPWAY_RELEASE_PASSWORD")).toMatch(
      /^Slipway's own variables \(SLIPWAY_\*, COSIGN_\*\) are never a secret source: .* APP_SECRET_RELEASE_PASSWORD/,
    );
    expect(never("env:COSIGN_PASSWORD")).toMatch(/never a secret source/);
    expect(never("env:OTHER")).toBeNull();
  });

  it("a symbolic link is judged by where it leads, also when its target is missing here", () => {
    const dir = tempDir("allowed");
    symlinkSync("/var/cache/slipway/keys/some-project-0123456789ab/cosign.key", join(dir, "innocent"));
    const why = secretSourceRefusal(`file:${join(dir, "innocent")}`, [`file:${dir}/`], "test");
    expect(why).toMatch(/never a secret source/);
  });

  it("the allowlist file: rules, comments, a bad line named by file and line; writable by others is refused", () => {
    expect(parseSecretSources("# comment\n\nfile:/srv/s/\n  env:APP_*  \n", "f")).toEqual(["file:/srv/s/", "env:APP_*"]);
    expect(() => parseSecretSources("file:/a\nsecrets.txt\n", "/etc/slipway/secret-sources")).toThrow(
      /^\/etc\/slipway\/secret-sources:2: "secrets\.txt" is not file:\/PATH or env:NAME: fix or remove the line$/,
    );
    const file = join(tempDir("sources"), "secret-sources");
    writeFileSync(file, "env:ONLY_THIS\n", { mode: 0o644 });
    if (process.getuid?.() === 0) expect(secretSourceRules(file)).toEqual({ rules: ["env:ONLY_THIS"], from: file });
    chmodSync(file, 0o666);
    expect(() => secretSourceRules(file)).toThrow(
      /must be a file owned by root and writable by root alone .*: chown root:root .* && chmod 644 /,
    );
    expect(secretSourceRules(join(tempDir("none"), "absent"))).toEqual({
      rules: DEFAULT_SECRET_SOURCES,
      from: expect.stringMatching(/^the default/),
    });
  });

  it(".env secret references outside the allowlist are refused when the environment loads, naming the key and file", () => {
    if (secretSourceRules().from === SECRET_SOURCES_FILE) return; // an operator's own list on this machine: the defaults do not apply
    expect(refusal("SLIPWAY_APP_SECRET_SIGNING_KEY=file:/var/cache/slipway/keys/cosign.key\n")).toMatch(
      /^SLIPWAY_APP_SECRET_SIGNING_KEY \(from \.env\.staging\.local\)="file:\/var\/cache\/slipway\/keys\/cosign\.key" is refused: Slipway's signing keys/,
    );
    expect(refusal("SLIPWAY_APP_SECRET_SHADOW=file:/etc/shadow\n")).toMatch(
      /^SLIPWAY_APP_SECRET_SHADOW \(from \.env\.staging\.local\)="file:\/etc\/shadow" is refused: file:\/etc\/shadow is outside the secret sources the operator allows \(the default \(no \/etc\/slipway\/secret-sources\): file:\/var\/cache\/slipway\/targets\/, env:APP_SECRET_\*\): to allow it, add the line "file:\/etc\/shadow" to \/etc\/slipway\/secret-sources/,
    );
    expect(refusal("SLIPWAY_APP_SECRET_PW=env:SLIPWAY_RELEASE_PASSWORD\n")).toMatch(
      /^SLIPWAY_APP_SECRET_PW .* is refused: Slipway's own variables/,
    );
    expect(refusal("SLIPWAY_APP_SECRET_TOKEN=env:APP_SECRET_TOKEN\n")).toBe("");
    // and again where the value is read
    expect(() => secretValue("X", "file:/var/cache/slipway/keys/cosign.key")).toThrow(
      /^secret X="file:.*" is refused: Slipway's signing keys/,
    );
    expect(() => checkSecretSource("env:HOME", "K")).toThrow(/^K="env:HOME" is refused: env:HOME is outside/);
  });
});
