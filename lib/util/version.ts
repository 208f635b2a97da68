/**
 * The product version, read once from `deno.json`.
 *
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };

/** The version reported by `--version`, in `INFO` and in the upstream User-Agent. */
export const VERSION: string = denoConfig.version;
