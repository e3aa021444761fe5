/**
 * Slipway's root module: the stages a user calls (`dagger call lint`, `dagger check`), delegating to the
 * concern modules (whose own functions, e.g. reports, are `dagger call -m modules/node test --source=. reports
 * export --path=reports`). The slipway CLI (ci/cli) calls the very same classes in client mode.
 */
import { argument, check, Directory, func, object, Service } from "@dagger.io/dagger";
import { Node, type StageResult } from "../../modules/node/src/index.ts";

@object()
export class Slipway {
  /** Lint the project; fails with file:line of each error. */
  @func()
  @check()
  async lint(@argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory): Promise<string> {
    return verdict(await new Node().lint(source));
  }

  /** Type-check the project; fails with file:line of each error. */
  @func()
  @check()
  async typecheck(@argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory): Promise<string> {
    return verdict(await new Node().typecheck(source));
  }

  /** Run the unit tests; fails with the names of the failing tests. */
  @func()
  @check()
  async test(@argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory): Promise<string> {
    return verdict(await new Node().test(source));
  }

  /**
   * Run the integration tests ("test:integration") with a Docker engine for Testcontainers; fails with the names
   * of the failing tests. registryMirror: a docker.io mirror for that engine (e.g. tcp://localhost:5000 offline).
   */
  @func()
  @check()
  async integration(
    @argument({ defaultPath: "/", ignore: ["**/node_modules", ".git", "reports", "dist", "coverage"] }) source: Directory,
    registryMirror?: Service,
    noCache = false,
  ): Promise<string> {
    return verdict(await new Node().integration(source, registryMirror, undefined, noCache));
  }
}

/** A check passes by returning and fails by throwing: "not configured" is reported, not failed. */
function verdict(r: StageResult): string {
  if (r.status === "failed") throw new Error(r.message);
  return r.message;
}
