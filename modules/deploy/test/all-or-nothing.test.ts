import { describe, expect, it } from "vitest";
import {
  LOCK_STALE_SECONDS,
  lockDecision,
  lockedMessage,
  lockName,
  parseProgress,
  type Progress,
  recoveryLine,
  recoveryStep,
} from "../src/plan.ts";
import { Deploy } from "../src/index.ts";

const now = Date.parse("2026-11-23T21:30:00Z");
const lock = { run: "ci@host:4242", token: "t", started: "2026-11-23T21:29:00.000Z", beat: now - 3000 };
const progress: Progress = {
  run: "ci@host:4242",
  started: "2026-11-23T21:29:00.000Z",
  action: "deploy",
  stable: "blue",
  stableImage: "r/app@sha256:1",
  fresh: "green",
  image: "r/app@sha256:2",
  phase: "rolling-out",
};

describe("the deploy lock", () => {
  it("is free when there is none, held while its holder beats, stale after LOCK_STALE_SECONDS without a heartbeat", () => {
    expect(lockName("node-api")).toBe("node-api-deploy-lock");
    expect(lockDecision(undefined, "me", now)).toBe("free");
    expect(lockDecision(lock, "me", now)).toBe("held");
    expect(lockDecision(lock, "me", lock.beat + LOCK_STALE_SECONDS * 1000)).toBe("held");
    expect(lockDecision(lock, "me", lock.beat + LOCK_STALE_SECONDS * 1000 + 1)).toBe("stale");
  });
  it("is taken over by its own run's recovery only, never by the same run's second deploy", () => {
    expect(lockDecision(lock, "ci@host:4242", now, true)).toBe("own");
    expect(lockDecision(lock, "ci@host:4242", now, false)).toBe("held");
    expect(lockDecision(lock, "other", now, true)).toBe("held");
  });
  it("is refused in one line naming the holder, when it started and what to do", () => {
    const line = lockedMessage(lock, now);
    expect(line).toMatch(/^locked by ci@host:4242, started 2026-11-23T21:29:00\.000Z: wait for it, or, if that run is gone, /);
    expect(line).toContain("no heartbeat for 15s (last 3s ago");
    expect(line).not.toContain("\n");
  });
});

describe("a half-done rollout", () => {
  it("reads back what was written; no file: no rollout in progress", () => {
    expect(parseProgress("")).toBeUndefined();
    expect(parseProgress("\n")).toBeUndefined();
    expect(parseProgress(JSON.stringify(progress))).toEqual(progress);
    const first = { ...progress, stable: undefined, stableImage: "" };
    expect(parseProgress(JSON.stringify(first))).toEqual({ ...first, stable: undefined });
  });
  it.each(["{", JSON.stringify({ ...progress, fresh: "red" }), JSON.stringify({ ...progress, phase: "done" }), "[]"])(
    "a file that is not a rollout's progress is refused naming the fix: %s",
    (text) => {
      expect(() => parseProgress(text)).toThrow(/deploy-progress\.json on the proxy is not a rollout's progress: .*remove it$/);
    },
  );
  it("is undone while its traffic steps run, finished once the new version took all traffic", () => {
    expect(recoveryStep(progress)).toBe("undo");
    expect(recoveryStep({ ...progress, phase: "retiring" })).toBe("finish");
  });
  it("says in one line what its recovery did", () => {
    expect(recoveryLine(progress, "undo")).toBe(
      "restored r/app@sha256:1 (blue) to 100% of the traffic after the interrupted deploy of r/app@sha256:2 by ci@host:4242 (started 2026-11-23T21:29:00.000Z); its green replicas removed",
    );
    expect(recoveryLine({ ...progress, stable: undefined, stableImage: "" }, "undo")).toMatch(
      /^undid the interrupted deploy .*: its green replicas removed; nothing was live before$/,
    );
    expect(recoveryLine({ ...progress, phase: "retiring" }, "finish")).toMatch(
      /^finished the interrupted deploy of r\/app@sha256:2 .*: it takes all traffic in the green slot, r\/app@sha256:1 retired$/,
    );
  });
});

describe("the run of a deploy", () => {
  it("reaches the controller's settings; a run id with spaces or quotes is refused", () => {
    const env = new Deploy().environment("staging", "node-api");
    expect(JSON.parse(env.settings())).not.toHaveProperty("run");
    expect(JSON.parse(env.withRun("ci@host:4242").settings()).run).toBe("ci@host:4242");
    expect(() => env.withRun("a b")).toThrow(/run "a b" is not a run id: use letters, digits and/);
  });
});
