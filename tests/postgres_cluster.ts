/**
 * A throwaway PostgreSQL cluster for tests: `initdb` in a temporary directory, a server on a free
 * port bound to 127.0.0.1, a database and a user with a password, then removed. PostgreSQL
 * refuses to run as root, so as root every PostgreSQL program runs as the `postgres` system user
 * (`runuser -u postgres --`), which owns the directory.
 *
 * Where PostgreSQL is not installed or cannot run, {@linkcode POSTGRES_MISSING} says why, and
 * tests registered with {@linkcode postgresTest} are reported as ignored with that reason in
 * their name, never as passed.
 *
 * @module
 */

import { join } from "node:path";
import { freePort } from "./helpers.ts";

/** Where Debian's `postgresql` packages put each major version's programs: `<major>/bin`. */
const DEBIAN_ROOT = "/usr/lib/postgresql";

/**
 * The `bin` folder of the newest PostgreSQL under `root` (`root/<major>/bin` holding `initdb`,
 * majors compared as numbers: 16 is newer than 9.6), or `null` when there is none.
 */
export async function newestPostgresBin(root: string = DEBIAN_ROOT): Promise<string | null> {
  const found: { version: number[]; bin: string }[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      const bin = join(root, entry.name, "bin");
      if (!/^\d+(\.\d+)*$/.test(entry.name) || !await isFile(join(bin, "initdb"))) continue;
      found.push({ version: entry.name.split(".").map(Number), bin });
    }
  } catch {
    return null;
  }
  found.sort((a, b) => compareVersions(b.version, a.version));
  return found[0]?.bin ?? null;
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** `pg_config --bindir`, for PostgreSQL installed elsewhere than Debian puts it, or `null`. */
async function pgConfigBindir(): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command("pg_config", {
      args: ["--bindir"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const dir = new TextDecoder().decode(stdout).trim();
    return success && dir !== "" ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Where the PostgreSQL programs are: `CRYPTO_TEST_PG_BIN` when set, else the newest major
 * installed under `/usr/lib/postgresql` (Debian), else `pg_config --bindir`; `null` when none.
 */
export const POSTGRES_BIN: string | null = Deno.env.get("CRYPTO_TEST_PG_BIN") ??
  await newestPostgresBin() ?? await pgConfigBindir();

/** Whether we run as root (`Deno.uid()` would need --allow-sys, which the tests do not have). */
const asRoot = await (async () => {
  try {
    const { stdout } = await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output();
    return new TextDecoder().decode(stdout).trim() === "0";
  } catch {
    return false;
  }
})();

/** How a PostgreSQL program is started: as the `postgres` user when we are root. */
function command(program: string, args: string[], cwd: string): Deno.Command {
  if (POSTGRES_BIN === null) throw new Error(`Cannot run ${program}: PostgreSQL not found`);
  const path = join(POSTGRES_BIN, program);
  return asRoot
    ? new Deno.Command("runuser", {
      args: ["-u", "postgres", "--", path, ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(path, { args, cwd, stdin: "null", stdout: "piped", stderr: "piped" });
}

/** Runs a PostgreSQL program; throws with its output when it fails. */
async function run(program: string, args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await command(program, args, cwd).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `${program} ${args.join(" ")} exited with ${code}: ${decoder.decode(stderr).trim()} ${
        decoder.decode(stdout).trim()
      }`.trim(),
    );
  }
  return decoder.decode(stdout);
}

async function whyMissing(): Promise<string | null> {
  if (POSTGRES_BIN === null || !await isFile(join(POSTGRES_BIN, "initdb"))) {
    const where = POSTGRES_BIN ?? `${DEBIAN_ROOT}/*/bin`;
    return `PostgreSQL not installed (no ${where}/initdb; apt-get install postgresql)`;
  }
  try {
    await run("initdb", ["--version"], "/");
  } catch (error) {
    const as = asRoot ? " as the postgres user" : "";
    return `PostgreSQL cannot run${as}: ${(error as Error).message.slice(0, 200)}`;
  }
  return null;
}

/** Why PostgreSQL tests cannot run on this machine, or `null` when they can. */
export const POSTGRES_MISSING: string | null = await whyMissing();

/**
 * Registers a test that needs PostgreSQL: ignored, with the reason in its name, where PostgreSQL
 * cannot run.
 */
export function postgresTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({
    name: POSTGRES_MISSING === null ? name : `${name} (ignored: ${POSTGRES_MISSING})`,
    ignore: POSTGRES_MISSING !== null,
    fn,
  });
}

/** Options of {@linkcode PostgresCluster.start}. */
export interface PostgresClusterOptions {
  /** The database created for the tests; defaults to `crypto`. */
  database?: string;
  /** Its owner, who logs in with a password; defaults to `crypto`. */
  user?: string;
}

/** The `postgres` system user's uid (`-u`) or gid (`-g`). */
async function postgresId(flag: "-u" | "-g"): Promise<number> {
  const { stdout } = await new Deno.Command("id", { args: [flag, "postgres"] }).output();
  const id = Number.parseInt(new TextDecoder().decode(stdout), 10);
  if (!Number.isInteger(id)) throw new Error(`Cannot find the postgres user's id (id ${flag})`);
  return id;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** A running throwaway PostgreSQL cluster; `await using` removes it. */
export class PostgresCluster implements AsyncDisposable {
  /** `postgres://user:password@127.0.0.1:port/database`, for the code under test. */
  readonly url: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** The user's password: tests check it never appears in output. */
  readonly password: string;
  /** The temporary directory holding the data, the socket and the server log. */
  readonly dir: string;
  #running = false;

  private constructor(dir: string, port: number, database: string, user: string, password: string) {
    this.dir = dir;
    this.port = port;
    this.database = database;
    this.user = user;
    this.password = password;
    this.url = `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
  }

  /** Whether the server is running (as far as this object started and stopped it). */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Creates and starts a cluster, with a database owned by a user who logs in with a password.
   *
   * @throws {Error} when PostgreSQL is missing ({@linkcode POSTGRES_MISSING}) or fails to start.
   */
  static async start(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
    if (POSTGRES_MISSING !== null) throw new Error(POSTGRES_MISSING);
    const { database = "crypto", user = "crypto" } = options;
    const dir = await Deno.makeTempDir({ prefix: "crypto-pg-" });
    // A distinctive password, so a test can search output for it.
    const cluster = new PostgresCluster(dir, freePort(), database, user, `pw-${randomHex(12)}`);
    try {
      if (asRoot) {
        const uid = await postgresId("-u");
        const gid = await postgresId("-g");
        await Deno.chown(dir, uid, gid);
      }
      await run("initdb", [
        "-D",
        cluster.#dataDir,
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--no-sync",
        "--no-instructions",
        "-E",
        "UTF8",
        "--locale=C",
      ], dir);
      // Durability is not what these tests measure; a clean stop still writes everything.
      const settings = [
        `port = ${cluster.port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${dir}'`,
        `fsync = off`,
        `synchronous_commit = off`,
        `full_page_writes = off`,
        `max_connections = 100`,
        `log_min_messages = warning`,
      ];
      const conf = join(cluster.#dataDir, "postgresql.conf");
      await Deno.writeTextFile(conf, `\n${settings.join("\n")}\n`, { append: true });
      await cluster.start();
      await cluster.psql(`CREATE ROLE "${user}" LOGIN PASSWORD '${cluster.password}'`);
      await cluster.psql(`CREATE DATABASE "${database}" OWNER "${user}"`);
      return cluster;
    } catch (error) {
      await cluster.remove();
      throw error;
    }
  }

  get #dataDir(): string {
    return join(this.dir, "data");
  }

  /** Starts the server again (after {@linkcode stop}) on the same port. */
  async start(): Promise<void> {
    await run("pg_ctl", [
      "start",
      "-D",
      this.#dataDir,
      "-l",
      join(this.dir, "server.log"),
      "-w",
      "-t",
      "60",
    ], this.dir);
    this.#running = true;
  }

  /**
   * Stops the server: `fast` disconnects clients and shuts down cleanly, `immediate` is the
   * nearest to a crash (no shutdown checkpoint; recovery runs at the next start).
   */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    if (!this.#running) return;
    await run("pg_ctl", ["stop", "-D", this.#dataDir, "-m", mode, "-w", "-t", "60"], this.dir);
    this.#running = false;
  }

  /**
   * Runs SQL as the superuser over the cluster's Unix socket; returns the unaligned, tuples-only
   * output (`|` between columns), e.g. for `pg_terminate_backend`.
   */
  psql(sql: string, database = "postgres"): Promise<string> {
    return run("psql", [
      "-h",
      this.dir,
      "-p",
      String(this.port),
      "-U",
      "postgres",
      "-d",
      database,
      "-v",
      "ON_ERROR_STOP=1",
      "-X",
      "-q",
      "-A",
      "-t",
      "-c",
      sql,
    ], this.dir);
  }

  /**
   * Creates another database owned by the test user (e.g. one per test step, cheaper than a
   * cluster each) and returns its URL.
   */
  async createDatabase(name: string): Promise<string> {
    await this.psql(`CREATE DATABASE "${name}" OWNER "${this.user}"`);
    return `postgres://${this.user}:${this.password}@127.0.0.1:${this.port}/${name}`;
  }

  /** The server's log so far, for a failing test's message. */
  async log(): Promise<string> {
    try {
      return await Deno.readTextFile(join(this.dir, "server.log"));
    } catch {
      return "";
    }
  }

  /** Stops the server at once and deletes its directory; later calls do nothing. */
  async remove(): Promise<void> {
    try {
      if (this.#running) await this.stop("immediate");
    } finally {
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }
}
