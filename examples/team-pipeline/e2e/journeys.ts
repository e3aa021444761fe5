/**
 * End-to-end journeys: what a user does against a deployed environment, step by step. The e2e stage of
 * slipway.config.ts runs them against staging; a failing step names its journey and stops production.
 */
export interface Step {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  /** the expected status */
  status: number;
  /** text the response must contain ($RUN: this run's marker) */
  contains?: string;
}

export interface Journey {
  name: string;
  steps: Step[];
}

export const journeys: Journey[] = [
  { name: "the service is healthy", steps: [{ method: "GET", path: "/health", status: 200, contains: '"database":"up"' }] },
  {
    name: "write a note and find it in the list",
    steps: [
      { method: "POST", path: "/notes", body: { text: "e2e $RUN" }, status: 201, contains: "e2e $RUN" },
      { method: "GET", path: "/notes", status: 200, contains: "e2e $RUN" },
    ],
  },
  { name: "an empty note is refused", steps: [{ method: "POST", path: "/notes", body: { text: "  " }, status: 400 }] },
];

/** Runs each journey against url; returns one line per journey, or throws naming the journey and step that failed. */
export async function runJourneys(url: string, say: (line: string) => void = () => {}): Promise<string[]> {
  const run = `${Date.now().toString(36)}`;
  const lines: string[] = [];
  for (const j of journeys) {
    for (const [i, step] of j.steps.entries()) {
      const body = step.body === undefined ? undefined : JSON.stringify(step.body).replaceAll("$RUN", run);
      const res = await fetch(new URL(step.path, url), {
        method: step.method,
        headers: body ? { "content-type": "application/json" } : {},
        body,
        signal: AbortSignal.timeout(10_000),
      }).catch((err: Error) => {
        throw new Error(`journey "${j.name}", step ${i + 1} (${step.method} ${step.path}): no response (${err.message})`);
      });
      const text = await res.text();
      const want = step.contains?.replaceAll("$RUN", run);
      if (res.status !== step.status || (want && !text.includes(want)))
        throw new Error(
          `journey "${j.name}", step ${i + 1} (${step.method} ${step.path}): status ${res.status}${want && !text.includes(want) ? `, body lacks ${JSON.stringify(want)}` : ""}, expected ${step.status}`,
        );
    }
    const line = `ok  ${j.name} (${j.steps.length} step(s))`;
    lines.push(line);
    say(line);
  }
  return lines;
}
