/**
 * Each test worker connects with the settings `engine up` wrote (unless a session was given explicitly); each test
 * file's temporary directories (helpers.ts tempDir) are removed when it ends.
 */
import { afterAll } from "vitest";
import { hasExplicitEngine } from "../platform/connection.ts";
import { readConnection } from "../platform/settings.ts";
import { removeTempDirs } from "./helpers.ts";

if (!hasExplicitEngine()) Object.assign(process.env, readConnection());
afterAll(removeTempDirs);
