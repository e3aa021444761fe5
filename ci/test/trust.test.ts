/** The trust store's rules, on files in a temporary SLIPWAY_TRUST_DIR (no engine). */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { defaultRequirements, fingerprint, readTrust, trustFile, trustFor, trustKey } from "../cli/trust.ts";

const pem = () => generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();

beforeEach(() => {
  process.env.SLIPWAY_TRUST_DIR = join(mkdtempSync(join(tmpdir(), "slipway-trust-")), "trust");
});

describe("trust per environment", () => {
  it("trusts a key for its sources, in a policy only its owner reads; production starts with gates and staging smoke", () => {
    const key = pem();
    const entry = trustKey("production", key, ["https://u:TOKEN@git.example.com/team/app.git"], "team key");
    expect(entry.fingerprint).toBe(fingerprint(key));
    expect(entry.sources).toEqual(["https://git.example.com/team/app"]);
    expect(readTrust("production")!.requires).toEqual(defaultRequirements("production"));
    expect(defaultRequirements("production")).toEqual(["gates:test,scan,secrets", "smoke:staging"]);
    expect(readTrust("staging")).toBeUndefined();
    expect(statSync(trustFile("production")).mode & 0o777).toBe(0o600);
    expect(statSync(process.env.SLIPWAY_TRUST_DIR!).mode & 0o777).toBe(0o700);
  });

  it("deploy gets the named key only when the environment trusts it, and every trusted key otherwise", () => {
    const [a, b, stranger] = [pem(), pem(), pem()];
    trustKey("staging", a, ["https://git.example.com/team/a"]);
    trustKey("staging", b, ["https://git.example.com/team/b"]);
    expect(trustFor("staging", a).keys.map((k) => k.sources)).toEqual([["https://git.example.com/team/a"]]);
    expect(trustFor("staging").keys).toHaveLength(2);
    expect(() => trustFor("staging", stranger)).toThrow(
      new RegExp(`^the key ${fingerprint(stranger)} is not trusted by staging: an image signed with it cannot be deployed there`),
    );
    expect(() => trustFor("qa")).toThrow(/^qa trusts no signing key .*: trust the project's key with `slipway trust add --env qa/);
  });

  it("needs a source, refuses what is not a public key, and drops file:// sources that are gone", () => {
    expect(() => trustKey("staging", pem(), [])).toThrow("pass --source URL");
    expect(() => trustKey("staging", "not a key", ["https://x"])).toThrow("not a PEM public key");
    const key = pem();
    trustKey("staging", key, ["file:///nonexistent/checkout", "file:///tmp"]);
    expect(trustFor("staging", key).keys[0].sources).toEqual(["file:///tmp"]);
  });
});
