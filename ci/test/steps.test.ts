/** The step runner's output: what a cold `engine up` shows while it works, and what a warm quiet one hides. Pure. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { runSteps, type Step } from "../platform/steps.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("runSteps", () => {
  it("a long step says it is still working every 25 s it is silent (no gap reaches 30 s); quiet hides only what needed no work", async () => {
    vi.useFakeTimers();
    const slow: Step = {
      title: "Slow",
      done: async () => undefined,
      run: (progress) =>
        new Promise((resolve) => {
          setTimeout(() => progress("half way"), 40_000);
          setTimeout(() => resolve("built"), 95_000);
        }),
    };
    const ready: Step = { title: "Ready", done: async () => "cached", run: async () => "never" };
    const lines: string[] = [];
    const run = runSteps([slow, ready], { out: (l) => lines.push(l), quiet: true });
    await vi.advanceTimersByTimeAsync(100_000);
    const reports = await run;
    expect(lines).toEqual([
      "[1/2] Slow ...",
      "      still working: Slow (25s so far)",
      "      half way",
      "      still working: Slow (1 min 5s so far)",
      "      still working: Slow (1 min 30s so far)",
      "[1/2] Slow: done, built (95.0s)",
    ]);
    expect(reports.map((r) => [r.title, r.changed])).toEqual([
      ["Slow", true],
      ["Ready", false],
    ]);
  });

  it("not quiet: every step's outcome", async () => {
    const lines: string[] = [];
    await runSteps([{ title: "Ready", done: async () => "cached", run: async () => "never" }], { out: (l) => lines.push(l) });
    expect(lines).toEqual([expect.stringMatching(/^\[1\/1\] Ready: ok, cached \(\d+\.\ds\)$/)]);
  });
});
