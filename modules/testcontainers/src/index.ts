/**
 * A Docker engine service that Testcontainers-based tests use inside the pipeline: Docker-in-Docker with its image
 * store on a cache volume (images pulled once stay), an optional docker.io pull-through mirror (so that
 * an image such as postgres:15 resolves offline exactly as it does online), and a harness that does the reaper's job.
 */
import { CacheSharingMode, type Container, dag, File, func, object, Service } from "@dagger.io/dagger";
import { readFileSync } from "node:fs";

/** The image the pin table names (modules/pins, a dependency in dagger.json): one table for every module. */
function pinned(name: string): Promise<string> {
  return (dag as unknown as { pins(): { image(name: string): Promise<string> } }).pins().image(name);
}
/** Where the harness lives in the test container. */
export const HARNESS = "/usr/local/lib/slipway/testcontainers-harness.mjs";
/** The cache volume holding the Docker engine's image store (and nothing else that outlives a run). */
export const IMAGE_STORE = "slipway-testcontainers-docker";
const PORT = 2375;
const HOSTNAME = "docker";

@object()
export class Testcontainers {
  /** The Docker-in-Docker image; empty: the pinned one (`dagger -m modules/pins call image --name docker`). */
  @func() image: string;

  constructor(image: string = "") {
    this.image = image;
  }

  /**
   * The Docker engine as a service on tcp/2375 (no TLS: it is reachable only by the containers it is bound to).
   * registryMirror: a docker.io pull-through mirror speaking plain HTTP, e.g. `--registry-mirror tcp://localhost:5000`.
   */
  @func()
  async engine(registryMirror?: Service): Promise<Service> {
    let ctr = dag
      .container()
      .from(this.image || (await pinned("docker")))
      // one engine at a time per image store: a second run waits for the first
      .withMountedCache("/var/lib/docker", dag.cacheVolume(IMAGE_STORE), { sharing: CacheSharingMode.Locked })
      .withExposedPort(PORT);
    const flags: string[] = [];
    if (registryMirror) {
      // a host service (tcp://localhost:5000 on the command line) reports its ports once started
      const port = await (await (await registryMirror.start()).ports())[0].port();
      ctr = ctr.withServiceBinding("registry-mirror", registryMirror);
      flags.push(`--registry-mirror=http://registry-mirror:${port}`, `--insecure-registry=registry-mirror:${port}`);
    }
    return ctr.asService({ useEntrypoint: true, args: flags, insecureRootCapabilities: true });
  }

  /**
   * ctr with the Docker engine bound as "docker" and the environment Testcontainers reads: DOCKER_HOST, the host
   * for mapped ports, the reaper disabled (the harness removes every container instead), and the harness itself.
   */
  @func()
  async bind(ctr: Container, registryMirror?: Service): Promise<Container> {
    return ctr
      .withServiceBinding(HOSTNAME, await this.engine(registryMirror))
      .withEnvVariable("DOCKER_HOST", `tcp://${HOSTNAME}:${PORT}`)
      .withEnvVariable("TESTCONTAINERS_HOST_OVERRIDE", HOSTNAME)
      .withEnvVariable("TESTCONTAINERS_RYUK_DISABLED", "true")
      .withFile(HARNESS, this.harness(), { permissions: 0o755 });
  }

  /** The harness script (node HARNESS REPORTS -- COMMAND...): see harness.mjs. */
  @func()
  harness(): File {
    return dag
      .directory()
      .withNewFile("harness.mjs", readFileSync(new URL("./harness.mjs", import.meta.url), "utf8"))
      .file("harness.mjs");
  }

  /** The command that runs `command` under the harness in a container from bind, with its results in `reports`. */
  @func()
  underHarness(reports: string, command: string[]): string[] {
    return ["node", HARNESS, reports, "--", ...command];
  }
}
