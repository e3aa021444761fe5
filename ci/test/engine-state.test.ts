/** How `engine up` reads the engine's log when it will not start: a cache it cannot load is started over, nothing else. */
import { describe, expect, it } from "vitest";
import { unusableState } from "../platform/engine.ts";

// the last lines of a real engine that exited at every start after dockerd was killed under it
const afterKill = [
  'time="2026-11-24T02:35:25Z" level=info msg="auto snapshotter: using overlayfs"',
  'time="2026-11-24T02:35:25Z" level=warning msg="failed to release network namespace \\"acvdijc6l65ldexgnlbbgw276\\" left over from previous run"',
  "dagger-engine: failed to create engine: failed to create base worker: failed to get active mount: requested snapshot buildkit/70696/xfncdoyavbwkws5olkx6w62t5 not active or view: failed precondition",
];

describe("unusableState", () => {
  it("names the cause when the engine cannot load its cache", () => {
    expect(unusableState(afterKill)).toBe(
      "failed to get active mount: requested snapshot buildkit/70696/xfncdoyavbwkws5olkx6w62t5 not active or view: failed precondition",
    );
  });

  it("leaves every other failure alone: the cache is not thrown away for a bad setting or a slow start", () => {
    expect(unusableState(["dagger-engine: failed to load config: invalid character 'x'"])).toBeUndefined();
    expect(unusableState(['time="2026-11-24T02:35:25Z" level=info msg="detected mtu 1400 via interface eth0"'])).toBeUndefined();
    expect(unusableState([])).toBeUndefined();
  });
});
