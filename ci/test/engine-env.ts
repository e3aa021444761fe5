/** Each test worker connects with the settings `engine up` wrote (unless a session was given explicitly). */
import { hasExplicitEngine } from "../platform/connection.ts";
import { readConnection } from "../platform/settings.ts";

if (!hasExplicitEngine()) Object.assign(process.env, readConnection());
