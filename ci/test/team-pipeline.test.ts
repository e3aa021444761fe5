/**
 * A team's own pipeline end to end (examples/team-pipeline/slipway.config.ts) on the real engine, registry and
 * local targets: its migration stages run before each deploy against the environment's PostgreSQL, its e2e
 * journeys against staging gate production, production waits for approval; a failing journey or migration stops
 * what follows and names itself; a broken config is refused before any stage runs.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { request } from "node:http";
import { join } from "node:path";
import { $ } from "zx";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, slipway, tempDir } from "./helpers.ts";

const EXAMPLE = join(ROOT, "examples/team-pipeline");
const STAGING = { docker: "/var/cache/slipway/targets/staging/docker.sock", url: "http://127.0.0.1:18083" };
const PRODUCTION = { docker: "/var/cache/slipway/targets/production/docker.sock", url: "http://127.0.0.1:18084" };

interface Report {
  status: string;
  waiting?: { stage: string; message: string };
  failure?: { stage: string; message: string };
  stages: { stage: string; status: string; message: string; seconds: number; startedAt?: number }[];
}
const read = (dir: string) => JSON.parse(readFileSync(join(dir, "pipeline.json"), "utf8")) as Report;
const stageOf = (rep: Report, name: string) => rep.stages.find((s) => s.stage === name)!;
/** when a stage ended, in seconds from the run's start, to the millisecond (the report's own precision) */
const endOf = (rep: Report, name: string) => Math.floor((stageOf(rep, name).startedAt! + stageOf(rep, name).seconds) * 1000) / 1000;

/** The images the app's running replicas were deployed from on a target (their slipway.image label). */
function liveImages(docker: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: ["slipway.app=team-notes", "slipway.slot"] }));
  return new Promise((resolve, reject) => {
    request({ socketPath: docker, path: `/containers/json?filters=${filters}` }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () =>
        resolve([...new Set((JSON.parse(text) as { Labels: Record<string, string> }[]).map((c) => c.Labels["slipway.image"]))]),
      );
    })
      .on("error", reject)
      .end();
  });
}

/**
 * git in the copy, its commits dated at a fixed time: the same commit (SHA, time, and the copy's fixed path as its
 * source) on every run, so a run on a warm engine finds the image built and signed, as a team's second run would.
 */
const COMMIT_DATE = "2026-01-01T00:00:00Z";
const git = (dir: string) =>
  $({ cwd: dir, quiet: true, env: { ...process.env, GIT_AUTHOR_DATE: COMMIT_DATE, GIT_COMMITTER_DATE: COMMIT_DATE } });
const stagingDocker = $({ quiet: true, nothrow: true, env: { ...process.env, DOCKER_HOST: `unix://${STAGING.docker}` } });
/** The containers of an app on the staging target (a preview's: its replicas, proxy and database). */
const containers = async (app: string) =>
  (await stagingDocker`docker ps -aq --filter ${`label=slipway.app=${app}`}`).stdout.split("\n").filter(Boolean);
/** A copy of the example as its own git repository (images are tagged by commit), at a fixed path. */
async function project(): Promise<string> {
  const dir = join(tmpdir(), "slipway-team-pipeline");
  rmSync(dir, { recursive: true, force: true });
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/node_modules|reports|dist/.test(src.slice(EXAMPLE.length)) });
  await git(dir)`git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm team`;
  return dir;
}

describe("slipway.config.ts refused before any stage runs", () => {
  const refused = async (config: (text: string) => string) => {
    const dir = tempDir("team-config");
    cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/node_modules|reports|dist/.test(src.slice(EXAMPLE.length)) });
    writeFileSync(join(dir, "slipway.config.ts"), config(readFileSync(join(dir, "slipway.config.ts"), "utf8")));
    const reports = tempDir("reports");
    const r = await slipway("pipeline", "--source", dir, "--reports", reports);
    expect(r.code, r.out).toBe(1);
    expect(r.out).not.toMatch(/^ {2}(lint|build)\s/m); // no stage ran
    expect(existsSync(join(reports, "pipeline.json"))).toBe(false);
    const lines = r.out.trim().split("\n");
    expect(lines.slice(0, -1).join("\n")).toMatch(/^(pipeline on \S+)?$/); // the error is the one line after the header
    return lines.at(-1)!;
  };

  it("a type error (file:line:column), a cycle and an unknown stage (the stages named), each in one line", async () => {
    expect(await refused((t) => t.replace('needs: ["smoke-staging"],', 'needs: "smoke-staging",'))).toMatch(
      /^slipway: slipway\.config\.ts:\d+:\d+: Type 'string' is not assignable to type 'string\[\]'\. \(TS2322\)$/,
    );
    expect(await refused((t) => t.replace('needs: ["smoke-staging"],', 'needs: ["smoke-staging", "migrate-production"],'))).toMatch(
      /^slipway: slipway\.config\.ts: the stages wait for each other in a cycle: .*e2e -> migrate-production -> .*e2e$/,
    );
    expect(await refused((t) => t.replace('needs: ["smoke-staging"],', 'needs: ["smoke-stagin"],'))).toMatch(
      /^slipway: slipway\.config\.ts: stage "e2e" needs "smoke-stagin", which is not in the pipeline: the stages are lint, /,
    );
  });
});

describe("a team's own pipeline (examples/team-pipeline)", () => {
  let src: string;
  let first: Report;
  beforeAll(async () => {
    src = await project();
    // production starts without the app: the commit is the same every run, and production must not serve it before approval
    const production = $({ quiet: true, nothrow: true, env: { ...process.env, DOCKER_HOST: `unix://${PRODUCTION.docker}` } });
    const ids = (await production`docker ps -aq --filter label=slipway.app=team-notes`).stdout.split("\n").filter(Boolean);
    if (ids.length) await production`docker rm -f ${ids}`;
  });

  it("runs its stages in their place; without approval it stops before production, with --approve it deploys", async () => {
    const reports = tempDir("reports");
    const r = await slipway("pipeline", "--source", src, "--reports", reports);
    expect(r.code, r.out).toBe(3);
    expect(r.out).toMatch(/^stopped at approval: approval: waiting for approval: rerun with --approve to deploy to production in /m);
    first = read(reports);
    expect(first.status).toBe("waiting");
    // the declared pipeline: the golden path without integration, then the team's stages
    expect(first.stages.map((s) => s.stage)).toEqual([
      ...["lint", "typecheck", "test", "build", "sbom", "scan", "secrets", "sign", "verify", "deploy-preview", "smoke-preview"],
      ...["deploy-staging", "smoke-staging"],
      ...["approval", "deploy-production", "smoke-production", "migrate-staging", "e2e", "migrate-production"],
    ]);
    const status = Object.fromEntries(first.stages.map((s) => [s.stage, s.status]));
    expect(status).toMatchObject({
      "migrate-staging": "passed",
      "deploy-staging": "passed",
      e2e: "passed",
      approval: "waiting",
      "migrate-production": "skipped",
      "deploy-production": "skipped",
      "deploy-preview": "skipped",
    });
    expect(stageOf(first, "deploy-preview").message).toBe(
      "deploy-preview: skipped (branch main deploys to staging and production; previews are for other branches)",
    );
    // in the order declared: the migration after verify and before the deploy, e2e after staging's smoke checks
    expect(stageOf(first, "migrate-staging").startedAt!).toBeGreaterThanOrEqual(endOf(first, "verify"));
    expect(stageOf(first, "deploy-staging").startedAt!).toBeGreaterThanOrEqual(endOf(first, "migrate-staging"));
    expect(stageOf(first, "e2e").startedAt!).toBeGreaterThanOrEqual(endOf(first, "smoke-staging"));
    expect(stageOf(first, "migrate-staging").message).toMatch(
      /^migrate-staging: passed, (applied 001_create_team_notes\.sql; applied 002_index_created_at\.sql|up to date \(2 applied\))$/,
    );
    expect(stageOf(first, "e2e").message).toBe("e2e: passed, 3 journey(s) against staging");
    expect(readFileSync(join(reports, "e2e/journeys.txt"), "utf8")).toMatch(
      /^ok {2}write a note and find it in the list \(2 step\(s\)\)$/m,
    );
    const image = /^ {2}build\s+passed\s.*build: (\S+@sha256:[0-9a-f]{64})$/m.exec(r.out)![1];
    expect(await liveImages(STAGING.docker)).toEqual([image]);
    expect(await liveImages(PRODUCTION.docker)).not.toContain(image);

    const approved = tempDir("reports");
    const r2 = await slipway("pipeline", "--source", src, "--reports", approved, "--approve");
    expect(r2.code, r2.out).toBe(0);
    const second = read(approved);
    expect(stageOf(second, "approval").message).toBe("approval: approved (--approve)");
    expect(stageOf(second, "migrate-production").status).toBe("passed");
    expect(stageOf(second, "deploy-production").startedAt!).toBeGreaterThanOrEqual(endOf(second, "migrate-production"));
    expect(await liveImages(PRODUCTION.docker)).toEqual([image]);
    const notes = await fetch(`${PRODUCTION.url}/notes`);
    expect(notes.status).toBe(200); // the migrated table serves
  });

  it("a failing e2e journey blocks production and names the journey", async () => {
    // the journeys are read from the source when the config loads: a change there leaves the image as it is
    const journeys = join(src, "e2e/journeys.ts");
    writeFileSync(
      journeys,
      readFileSync(journeys, "utf8").replace(
        'path: "/notes", body: { text: "  " }, status: 400',
        'path: "/notes", body: { text: "  " }, status: 201',
      ),
    );
    const production = await liveImages(PRODUCTION.docker);
    const reports = tempDir("reports");
    const r = await slipway("pipeline", "--source", src, "--reports", reports, "--approve", "--allow-dirty");
    expect(r.code, r.out).toBe(1);
    const rep = read(reports);
    expect(rep.failure).toEqual({
      stage: "e2e",
      message: 'e2e: failed, journey "an empty note is refused", step 1 (POST /notes): status 400, expected 201',
    });
    expect(stageOf(rep, "deploy-production").status).toBe("skipped");
    expect(await liveImages(PRODUCTION.docker)).toEqual(production);
    await git(src)`git checkout -- e2e/journeys.ts`;
  });

  it("two branches get two previews (own URL, database and data, no production secret); `preview down` removes one and its data; an expired one goes at the next run", async () => {
    const runOn = async (branch: string, ...extra: string[]) => {
      await git(src)`git checkout -q -B ${branch} main`;
      const reports = tempDir("reports");
      const r = await slipway("pipeline", "--source", src, "--reports", reports, ...extra);
      expect(r.code, r.out).toBe(0);
      return { rep: read(reports), md: readFileSync(join(reports, "pipeline.md"), "utf8") };
    };
    // from none: a run cut short before its `preview down` left them behind
    for (const branch of ["feature/a", "feature/b"]) await slipway("preview", "down", "--branch", branch);
    const runs = { "feature/a": await runOn("feature/a"), "feature/b": await runOn("feature/b", "--preview-ttl", "1s") };
    await git(src)`git checkout -q main`;
    const list = await slipway("preview", "list");
    expect(list.code, list.out).toBe(0);
    const previews: Record<string, { url: string; app: string }> = {};
    for (const [branch, { rep, md }] of Object.entries(runs)) {
      const status = Object.fromEntries(rep.stages.map((st) => [st.stage, st.status]));
      expect(status).toMatchObject({
        "migrate-staging": "passed",
        "deploy-preview": "passed",
        "smoke-preview": "passed",
        e2e: "passed",
        "deploy-staging": "skipped",
        approval: "skipped",
        "deploy-production": "skipped",
      });
      expect(stageOf(rep, "deploy-staging").message).toBe(
        `deploy-staging: skipped (branch ${branch} deploys to its preview; staging and production deploy from main, master)`,
      );
      // the team's stages marked for previews ran against the preview: its migrations before its deploy, e2e after its smoke
      expect(stageOf(rep, "migrate-staging").message).toMatch(
        /^migrate-staging: passed, applied 001_create_team_notes\.sql; .* \(preview-/,
      );
      expect(stageOf(rep, "deploy-preview").startedAt!).toBeGreaterThanOrEqual(endOf(rep, "migrate-staging"));
      expect(stageOf(rep, "e2e").message).toMatch(/^e2e: passed, 3 journey\(s\) against preview-/);
      expect(stageOf(rep, "e2e").startedAt!).toBeGreaterThanOrEqual(endOf(rep, "smoke-preview"));
      const url = (rep as Report & { preview: { url: string } }).preview.url;
      expect(md).toContain(`Preview of \`${branch}\`: ${url}`);
      const listed = new RegExp(`^${branch.replace("/", "\\/")}\t(\\S+)\t(\\S+)\texpires `, "m").exec(list.out);
      expect(listed, list.out).not.toBeNull();
      expect(listed![1]).toBe(url);
      previews[branch] = { url, app: listed![2] };
      expect((await fetch(`${url}/notes`)).status).toBe(200); // the migrated table, in its own database
    }
    const [a, b] = [previews["feature/a"], previews["feature/b"]];
    expect(a.url).not.toBe(b.url);
    // each its own data: a note written to one preview is in neither the other nor staging
    const text = `only in feature/a ${Date.now()}`;
    expect(
      (await fetch(`${a.url}/notes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text }) }))
        .status,
    ).toBe(201);
    expect(await (await fetch(`${a.url}/notes`)).text()).toContain(text);
    for (const other of [b.url, STAGING.url]) expect(await (await fetch(`${other}/notes`)).text()).not.toContain(text);
    // no production secret (nor staging's) reaches a preview: its only secret is its own database's URL
    const secrets = ["production", "staging"].map((e) => readFileSync(`/var/cache/slipway/targets/${e}/database-url`, "utf8").trim());
    for (const p of [a, b]) {
      const ids = await containers(p.app);
      expect(ids.length).toBeGreaterThanOrEqual(3); // a replica, the proxy, the database
      for (const id of ids) {
        const inspect = await stagingDocker`docker inspect ${id}`;
        for (const secret of secrets) {
          expect(inspect.stdout).not.toContain(secret);
          expect(inspect.stdout).not.toContain(secret.split("@")[0].split(":").pop()!);
        }
      }
      const replica = (
        await stagingDocker`docker ps -q --filter ${`label=slipway.app=${p.app}`} --filter label=slipway.slot`
      ).stdout.trim();
      const seen = await stagingDocker`docker exec ${replica} sh -c ${"cat /run/secrets/*; env"}`;
      expect(seen.exitCode, seen.stderr).toBe(0);
      expect(seen.stdout).toMatch(/postgres:\/\/postgres:\S+@127\.0\.0\.1:55\d\d\/app/);
      for (const secret of secrets) expect(seen.stdout).not.toContain(secret.split("@")[0].split(":").pop()!);
    }
    // down: its containers, its database's volume and its URL gone; the other preview untouched
    const down = await slipway("preview", "down", "--branch", "feature/a");
    expect(down.code, down.out).toBe(0);
    expect(down.out).toMatch(/^removed the preview of feature\/a \(http:\/\/127\.0\.0\.1:\d+, \S+: 3 container\(s\), its data\)$/m);
    expect(await containers(a.app)).toEqual([]);
    expect((await stagingDocker`docker volume inspect ${`${a.app}-postgres`}`).exitCode).not.toBe(0);
    await expect(fetch(`${a.url}/notes`)).rejects.toThrow();
    expect((await fetch(`${b.url}/notes`)).status).toBe(200);
    // feature/b's TTL (1s) ran out: the next run, whatever it runs, removes it
    const next = await slipway("pipeline", "--source", src, "--only", "lint", "--reports", tempDir("reports"));
    expect(next.code, next.out).toBe(0);
    expect(next.out).toMatch(/^ {2}removed the preview of feature\/b \(.*\): expired /m);
    expect(await containers(b.app)).toEqual([]);
    expect((await slipway("preview", "list")).out).not.toMatch(/^feature\//m);
  });

  it("a failing migration stops the deploy: staging keeps serving the previous version, the report names the migration", async () => {
    const before = await liveImages(STAGING.docker);
    writeFileSync(
      join(src, "migrations/003_broken.sql"),
      "ALTER TABLE team_notes ADD COLUMN author text NOT NULL REFERENCES no_such_table (id);\n",
    );
    writeFileSync(join(src, "src/version.ts"), `export const version = "broken-migration";\n`); // a new image
    await git(src)`git add -A && git -c user.name=t -c user.email=t@t commit -qm broken-migration`;
    const reports = tempDir("reports");
    const r = await slipway("pipeline", "--source", src, "--reports", reports, "--approve");
    expect(r.code, r.out).toBe(1);
    const rep = read(reports);
    expect(rep.failure!.stage).toBe("migrate-staging");
    expect(rep.failure!.message).toMatch(
      /^migrate-staging: failed, migration 003_broken\.sql failed: relation "no_such_table" does not exist$/,
    );
    expect(stageOf(rep, "deploy-staging").message).toBe("deploy-staging: skipped (migrate-staging failed)");
    expect(readFileSync(join(reports, "migrate-staging/migrate.log"), "utf8")).toMatch(/^migration 003_broken\.sql failed/m);
    expect(await liveImages(STAGING.docker)).toEqual(before);
    expect((await fetch(`${STAGING.url}/notes`)).status).toBe(200);
  });
});
