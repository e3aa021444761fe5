package main

import (
	"fmt"
	"strings"
)

// The versions the official runtime of Dagger v0.19.10 uses when a module names none.
const (
	npmDefault  = "10.9.0"
	yarnDefault = "1.22.22"
	pnpmDefault = "8.15.4"
)

type packageManager struct {
	name    string
	version string
}

// detectPackageManager: package.json's packageManager ("pnpm@8.15.4"), else the lockfile present, else Yarn 1,
// as the official runtime decides.
func detectPackageManager(declared string, has map[string]bool) (packageManager, error) {
	if declared != "" {
		name, version, _ := strings.Cut(declared, "@")
		if version == "" {
			return packageManager{}, fmt.Errorf("packageManager %q has no version: write it as %s@<version>", declared, name)
		}
		switch name {
		case "npm", "yarn", "pnpm":
			return packageManager{name, strings.SplitN(version, "+", 2)[0]}, nil
		default:
			return packageManager{}, fmt.Errorf("packageManager %q is not one of npm, yarn or pnpm", declared)
		}
	}
	switch {
	case has["package-lock.json"]:
		return packageManager{"npm", npmDefault}, nil
	case has["yarn.lock"]:
		return packageManager{"yarn", yarnDefault}, nil
	case has["pnpm-lock.yaml"]:
		return packageManager{"pnpm", pnpmDefault}, nil
	default:
		return packageManager{"yarn", yarnDefault}, nil
	}
}

func (p packageManager) lockfile() string {
	switch p.name {
	case "npm":
		return "package-lock.json"
	case "pnpm":
		return "pnpm-lock.yaml"
	default:
		return "yarn.lock"
	}
}

func (p packageManager) cachePath() string {
	switch p.name {
	case "npm":
		return "/root/.npm"
	case "pnpm":
		return "/root/.pnpm-store"
	default:
		return "/root/.cache/yarn"
	}
}

func (p packageManager) cacheVolume() string { return fmt.Sprintf("%s-cache-node-", p.name) }

// run: the package manager's command line at the exact version. pnpm and Yarn 1 come from the npm registry
// through npm exec (npm checks their integrity as for any package); Yarn 2+ is not an npm package, so corepack
// runs it.
func (p packageManager) run(args ...string) []string {
	switch {
	case p.name == "npm":
		return append([]string{"npm"}, args...)
	case p.name == "yarn" && !strings.HasPrefix(p.version, "1."):
		return append([]string{"corepack", "yarn@" + p.version}, args...)
	default:
		return append([]string{"npm", "exec", "--yes", "--package=" + p.name + "@" + p.version, "--", p.name}, args...)
	}
}

// setupCommand: the package manager at the version the runtime pins (the node image may carry another npm).
func (p packageManager) setupCommand() []string {
	if p.name != "npm" {
		return p.run("--version")
	}
	version := strings.ReplaceAll(p.version, ".", `\.`)
	return []string{"sh", "-c", "npm -v | grep -qx " + version + " || npm install -g npm@" + p.version}
}

func (p packageManager) installCommand() []string {
	switch p.name {
	case "npm":
		return p.run("install", "--omit=dev")
	case "pnpm":
		return p.run("install", "--shamefully-hoist=true", "--prod")
	default:
		return p.run("install", "--prod")
	}
}

func (p packageManager) lockCommand() []string {
	switch p.name {
	case "npm":
		return p.run("install", "--package-lock-only")
	case "pnpm":
		return p.run("install", "--lockfile-only")
	default:
		return p.run("install")
	}
}
