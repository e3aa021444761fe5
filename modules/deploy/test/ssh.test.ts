/** SSH Docker hosts: the URL, ssh's arguments for the tunnel, and ssh's failures as one line each. */
import { describe, expect, it } from "vitest";
import { knownHostsName, parseSshHost, sshFailure, sshTunnelArgs, throughRegistry } from "../src/ssh.ts";

describe("ssh Docker hosts", () => {
  it("ssh://user@host[:port][/socket], with the Docker socket and port 22 by default", () => {
    expect(parseSshHost("ssh://deploy@203.0.113.10")).toEqual({
      user: "deploy",
      host: "203.0.113.10",
      port: 22,
      socket: "/var/run/docker.sock",
    });
    expect(parseSshHost("ssh://ops@[2001:db8::1]:2222/run/user/1000/docker.sock")).toEqual({
      user: "ops",
      host: "2001:db8::1",
      port: 2222,
      socket: "/run/user/1000/docker.sock",
    });
    for (const bad of [
      "ssh://203.0.113.10",
      "ssh://deploy@host:0",
      "ssh://deploy@host;id",
      "ssh://-oProxyCommand=x@h",
      "ssh://u@h/../etc",
      "tcp://h:22",
    ])
      expect(() => parseSshHost(bad), bad).toThrow(/is not an SSH Docker host: write ssh:\/\/USER@HOST\[:PORT\]/);
    expect(knownHostsName(parseSshHost("ssh://a@h"))).toBe("h");
    expect(knownHostsName(parseSshHost("ssh://a@h:2222"))).toBe("[h]:2222");
  });

  it("the tunnel: strict host key checking against the given file, key only, the socket forwarded, the registry back", () => {
    const t = parseSshHost("ssh://deploy@h:2222");
    const args = sshTunnelArgs(t, { key: "/k", knownHosts: "/kh" }, "/run/d.sock", "registry:5000");
    const opts = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === "-o" ? [a.split("=")] : [])));
    expect(opts).toMatchObject({
      BatchMode: "yes",
      StrictHostKeyChecking: "yes",
      UserKnownHostsFile: "/kh",
      GlobalKnownHostsFile: "/dev/null",
      IdentitiesOnly: "yes",
    });
    expect(args.join(" ")).toContain("-i /k");
    expect(args.join(" ")).toContain("-p 2222 -L /run/d.sock:/var/run/docker.sock -R 127.0.0.1:5000:registry:5000 deploy@h");
    expect(args[args.length - 1]).toBe("deploy@h");
    expect(sshTunnelArgs(t, { key: "/k", knownHosts: "/kh" }, "/s")).not.toContain("-R");
  });

  it("ssh's failures as one line naming the fix", () => {
    const t = parseSshHost("ssh://deploy@h");
    const changed = "@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n...\nHost key verification failed.\n";
    expect(sshFailure(t, changed, "KH")).toBe(
      "the SSH host key of h does not match KH: if the host was rebuilt, check its new key and replace its line there; nothing was changed on it",
    );
    expect(
      sshFailure(t, "No ED25519 host key is known for h and you have requested strict checking.\nHost key verification failed.", "KH"),
    ).toBe("h has no line in KH: add the host's key (ssh-keyscan, checked against the host) first; nothing was changed on it");
    expect(sshFailure(t, "deploy@h: Permission denied (publickey).", "KH")).toMatch(
      /^deploy@h refused the SSH key \(deploy@h: Permission denied \(publickey\)\.\): add its public key to ~deploy\/\.ssh\/authorized_keys/,
    );
    expect(sshFailure(t, "ssh: connect to host h port 22: Connection refused\n", "KH")).toBe(
      "cannot reach deploy@h over SSH: ssh: connect to host h port 22: Connection refused",
    );
  });

  it("Slipway's images through the forwarded registry, under the mirror's names; other registries as they are", () => {
    expect(throughRegistry("haproxy:2.6", "5000")).toBe("127.0.0.1:5000/library/haproxy:2.6");
    expect(throughRegistry("prom/prometheus:v2.42.0", "5000")).toBe("127.0.0.1:5000/prom/prometheus:v2.42.0");
    expect(throughRegistry("docker.io/library/haproxy:2.6", "5001")).toBe("127.0.0.1:5001/library/haproxy:2.6");
    expect(throughRegistry("ghcr.io/regclient/regctl:v0.11.7", "5000")).toBe("127.0.0.1:5000/regclient/regctl:v0.11.7");
    expect(throughRegistry("registry.example.com/team/proxy:1", "5000")).toBe("registry.example.com/team/proxy:1");
    expect(throughRegistry("localhost:5000/x:1", "5000")).toBe("localhost:5000/x:1");
  });
});
