/** `slipway engine up|status|down`: Slipway's offline engine, idempotent and cached by version. */
import { $ } from "zx";
import { daggerStep } from "./dagger.ts";
import { dockerStep } from "./docker.ts";
import { catalog } from "./images/catalog.ts";
import { buildImage, type ImageRecipe, imageReady } from "./images/build.ts";
import { connectionEnv, engineStep, EXTERNAL_MIRROR } from "./engine.ts";
import { writeConnection } from "./settings.ts";
import { registryStep } from "./registry.ts";
import { runSteps, type Step, type StepReport } from "./steps.ts";

const where = (recipe: ImageRecipe) => (recipe.content ? "in the engine's content store" : recipe.mirror ? "in the mirror" : "in Docker");

const imageSteps: Step[] = catalog
  .filter((recipe) => !recipe.mirror || !EXTERNAL_MIRROR) // a corporate mirror already serves the upstream images
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

export async function up(opts: { quiet?: boolean } = {}): Promise<StepReport[]> {
  const steps = [dockerStep, ...(EXTERNAL_MIRROR ? [] : [registryStep]), daggerStep, ...imageSteps, engineStep];
  const reports = await runSteps(steps, { quiet: opts.quiet });
  writeConnection(connectionEnv());
  return reports;
}
