// Preloaded by bun test (bunfig.toml): once every test file has run, remove the temp dirs.
import { afterAll } from "bun:test";
import { removeTempDirs } from "./helpers/tmp";

afterAll(removeTempDirs);
