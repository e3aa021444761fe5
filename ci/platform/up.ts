/**
 * `slipway engine up` and what commands run before they connect: Slipway's offline engine, idempotent and cached
 * by version. First what the engine and the code stages need (Docker, the registry, the Dagger binaries, the
 * builtin SDK images, the engine image, debian, node, dind, postgres, haproxy), then the engine; the supply-chain
 * tool images (tools.ts) after it: in the foreground for `engine up` (module mode, `dagger call`, needs every
 * image), in a detached background builder for a run (`useEngine`), whose stages wait for their tools.
 */
import { daggerStep } from "./dagger.ts";
import { dockerStep } from "./docker.ts";
import { buildImage, type ImageRecipe, imageReady } from "./images/build.ts";
import { connectionEnv, engineStep, EXTERNAL_MIRROR } from "./engine.ts";
import { writeConnection } from "./settings.ts";
import { registryStep } from "./registry.ts";
import { runSteps, type Step, type StepReport } from "./steps.ts";
import { CORE_RECIPES, releaseForeground, startToolBuilder, toolSteps } from "./tools.ts";

const where = (recipe: ImageRecipe) => (recipe.content ? "in the engine's content store" : recipe.mirror ? "in the mirror" : "in Docker");

const imageSteps: Step[] = CORE_RECIPES.filter((recipe) => !recipe.mirror || !EXTERNAL_MIRROR) // a corporate mirror already serves the upstream images
  .map((recipe) => ({
    title: `Image ${recipe.refs[0]}`,
    async done() {
      return (await imageReady(recipe)) ? where(recipe) : undefined;
    },
    async run(progress) {
      await buildImage(recipe, progress);
      return recipe.content ? `written to ${where(recipe)}` : recipe.mirror ? `pushed as ${recipe.refs.join(", ")}` : "loaded into Docker";
    },
  }));

/** The engine step, writing the connection settings as soon as the engine answers (before any tool image). */
const connectedEngineStep: Step = {
  title: engineStep.title,
  async done() {
    const r = await engineStep.done();
    if (r !== undefined) writeConnection(connectionEnv());
    return r;
  },
  async run(progress) {
    const r = await engineStep.run(progress);
    writeConnection(connectionEnv());
    return r;
  },
};

/**
 * tools: "foreground" (default, `engine up`): the tool images are steps after the engine; "background": the
 * builder is started detached when one is missing (`startToolBuilder`), and up returns once the engine answers.
 */
export async function up(opts: { quiet?: boolean; tools?: "foreground" | "background" } = {}): Promise<StepReport[]> {
  const foreground = (opts.tools ?? "foreground") === "foreground";
  const steps = [
    dockerStep,
    ...(EXTERNAL_MIRROR ? [] : [registryStep]),
    daggerStep,
    ...imageSteps,
    connectedEngineStep,
    ...(foreground ? toolSteps() : []),
  ];
  try {
    const reports = await runSteps(steps, { quiet: opts.quiet });
    writeConnection(connectionEnv());
    if (!foreground) await startToolBuilder();
    return reports;
  } finally {
    releaseForeground();
  }
}
