/** Each test worker connects with the settings `engine up` wrote (unless a session was given explicitly). */
import { hasExplicitEngine, readConnection } from "../cli/engine/connection.ts";

if (!hasExplicitEngine()) Object.assign(process.env, readConnection());
