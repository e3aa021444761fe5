import { connection, dag } from "@dagger.io/dagger";
import { EXCLUDE } from "/work/main/modules/node/src/index.ts";
await connection(async () => {
  const src = dag.host().directory("/work/main/examples/node-api", { exclude: EXCLUDE });
  for (const i of [1, 2]) {
    const t0 = Date.now();
    const ctr = src.dockerBuild({ buildArgs: [{ name: "SOURCE_DATE_EPOCH", value: "1700000000" }] })
      .withLabel("org.opencontainers.image.revision", "abc");
    const ref = await ctr.publish(`127.0.0.1:5000/proto/node-api:t${i}`);
    console.log(i, ref, Date.now() - t0);
  }
});
