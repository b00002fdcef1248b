#!/usr/bin/env node
// A drop-in for Prisma's native schema engine, built on the WebAssembly engine that npm ships.
//
// Why: the Prisma CLI downloads a native `schema-engine` binary from a host this project's machines
// cannot reach. The same engine is published on npm as WebAssembly and speaks to PostgreSQL through
// a JS driver adapter. prisma.config.ts points PRISMA_SCHEMA_ENGINE_BINARY here (unless the user set
// it), so `prisma migrate deploy|dev|diff|status|reset`, `db push` and `db execute` work from
// `npm ci` alone, online or offline.
//
// Protocol (what the CLI expects of the native binary):
//   --version                                   -> "schema-engine-cli <engines hash>"
//   --datasource '{"url":…}' cli <command>       -> one-shot: can-connect-to-database | create-database
//   [--datamodels F]… [--datasource '{…}']       -> line-delimited JSON-RPC 2.0 on stdin/stdout
// Errors in one-shot mode go to stderr as the engine's JSON log lines (the CLI drops the first line).
//
// This file is plain JavaScript because the CLI executes it directly as a program.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';

const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const args = { datamodels: [], datasource: undefined, cli: undefined, version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--version' || arg === '-V') args.version = true;
    else if (arg === '--datamodels') args.datamodels.push(argv[++i]);
    else if (arg === '--datasource') args.datasource = JSON.parse(argv[++i]);
    else if (arg === 'cli') args.cli = argv[++i];
    // --enabled-preview-features / --extension-types carry nothing the WASM engine needs here.
    else if (arg === '--enabled-preview-features' || arg === '--extension-types') i++;
  }
  return args;
}

function enginesHash() {
  return require('@prisma/engines-version/package.json').prisma.enginesVersion;
}

/** Loads the WASM engine without --experimental-wasm-modules. */
async function loadWasmEngine() {
  // The engine reports a Rust panic's message here just before trapping; keep it for the error reply.
  globalThis.PRISMA_WASM_PANIC_REGISTRY ??= { set_message(message) { lastPanicMessage = String(message); } };
  const bg = await import('@prisma/schema-engine-wasm/schema_engine_bg');
  // The .wasm file is not in the package's exports map: find it beside the glue module.
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const bytes = readFileSync(path.join(path.dirname(gluePath), 'schema_engine_bg.wasm'));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { './schema_engine_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  return bg;
}

let lastPanicMessage;

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;
let queryablePatched = false;

/**
 * The pg adapter's three gaps when it drives migrations (see docs/database.md):
 * the `"char"` type is unmapped, `executeScript` splits on every `;` (half-applied migrations, broken
 * `$$` bodies), and the shadow database connects to the main database when the config is a URL.
 */
function patchAdapter(adapter) {
  if (!queryablePatched) {
    // performIO lives on the shared base class of the adapter and its transactions.
    const queryable = Object.getPrototypeOf(Object.getPrototypeOf(adapter));
    const performIO = queryable.performIO;
    queryable.performIO = async function (query) {
      const result = await performIO.call(this, query);
      for (const field of result.fields) if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
      return result;
    };
    queryablePatched = true;
  }
  // One simple-protocol query = one implicit transaction: a failing migration rolls back whole.
  adapter.executeScript = (script) => adapter.underlyingDriver().query(script).then(() => undefined);
  return adapter;
}

function poolConfig(url) {
  const { database, user, password, host, port, ssl, options } = parseConnectionString(url);
  const config = { database, user, password, host, port: port ? Number(port) : undefined, options };
  if (ssl) config.ssl = ssl;
  return config;
}

function adapterFactory(datasource) {
  if (!datasource?.url) throw new Error('No datasource url: set DATABASE_URL (see README.md, Configuration).');
  const config = poolConfig(datasource.url);
  const main = new PrismaPg(config);
  const factory = {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: async () => patchAdapter(await main.connect()),
    connectToShadowDb: async () => {
      if (datasource.shadowDatabaseUrl) {
        return patchAdapter(await new PrismaPg(poolConfig(datasource.shadowDatabaseUrl)).connect());
      }
      const name = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID().replaceAll('-', '_')}`;
      const admin = new pg.Client(config);
      admin.on('error', () => {}); // a dropped connection rejects the query; never an uncaught 'error'
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${name}"`);
      } finally {
        await admin.end();
      }
      const shadow = patchAdapter(await new PrismaPg({ ...config, database: name }).connect());
      const dispose = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        await dispose();
        const dropper = new pg.Client(config);
        dropper.on('error', () => {});
        await dropper.connect();
        try {
          await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } finally {
          await dropper.end();
        }
      };
      return shadow;
    },
  };
  return bindMigrationAwareSqlAdapterFactory(factory);
}

function logLine(level, message, errorCode) {
  const fields = { message };
  if (errorCode) fields.error_code = errorCode;
  return JSON.stringify({ level, target: 'schema_engine::logger', fields });
}

/** One-shot commands: the CLI reads a P-code from stderr when they fail. */
async function runCliCommand(command, datasource) {
  const config = poolConfig(datasource.url);
  const tryConnect = async (cfg) => {
    const client = new pg.Client(cfg);
    client.on('error', () => {}); // connect() and queries reject; never an uncaught 'error'
    await client.connect();
    return client;
  };
  const fail = (message, code) => {
    process.stderr.write(`schema-engine-shim: ${command} failed\n${logLine('ERROR', message, code)}\n`);
    process.exit(1);
  };
  try {
    if (command === 'can-connect-to-database') {
      await (await tryConnect(config)).end();
    } else if (command === 'create-database') {
      const admin = await tryConnect({ ...config, database: 'postgres' });
      try {
        await admin.query(`CREATE DATABASE "${config.database}"`);
      } finally {
        await admin.end();
      }
    } else if (command === 'drop-database') {
      const admin = await tryConnect({ ...config, database: 'postgres' });
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${config.database}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    } else {
      fail(`Unknown cli command ${command}`);
    }
  } catch (error) {
    if (error?.code === '3D000') fail(`Database \`${config.database}\` does not exist`, 'P1003');
    if (error?.code === 'ECONNREFUSED') fail(`Can't reach database server at ${config.host}:${config.port ?? 5432}`, 'P1001');
    fail(String(error?.message ?? error));
  }
}

/** JSON-RPC mode: serialised calls onto the WASM engine. */
async function serveRpc(args) {
  const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
  let currentId;
  // A Rust panic traps the WASM instance, and some engine errors are thrown outside any call (e.g. at
  // start-up): both surface here. Answer the pending call, log an ERROR line and exit 1. Not 101 like a
  // native panic: the CLI swallows panics when it cannot prompt (exit 0, nothing printed).
  process.on('uncaughtException', (error) => {
    const message = lastPanicMessage ? `schema engine panicked: ${lastPanicMessage}` : String(error?.message ?? error);
    process.stderr.write(`${logLine('ERROR', message)}\n`);
    if (currentId !== undefined) {
      send({ id: currentId, jsonrpc: '2.0', error: { code: 4466, message, data: { is_panic: false, message } } });
    }
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 50);
  });

  // Requests are read from the start and wait for the engine, so a start-up failure is answered as
  // the error of the first call rather than lost.
  const engineReady = (async () => {
    const bg = await loadWasmEngine();
    const datamodels = args.datamodels.map((file) => [file, readFileSync(file, 'utf8')]);
    const log = (line) => process.stderr.write(`${line}\n`);
    return bg.SchemaEngine.new({ datamodels: datamodels.length ? datamodels : undefined }, log, adapterFactory(args.datasource));
  })();
  let engine;

  let nextPrintId = 1_000_000;
  const pendingPrints = new Map();

  const methods = {
    getDatabaseVersion: (params) => engine.version(params),
    diff: async (params) => {
      const result = await engine.diff(params);
      if (result.stdout) {
        // The native engine prints through a `print` request to the CLI; without it `migrate diff` is silent.
        const id = nextPrintId++;
        await new Promise((resolve) => {
          pendingPrints.set(id, resolve);
          send({ id, jsonrpc: '2.0', method: 'print', params: { content: result.stdout } });
        });
      }
      return { ...result, stdout: null };
    },
  };

  let queue = Promise.resolve();
  const handle = async (request) => {
    const { id, method, params } = request;
    currentId = id;
    try {
      engine ??= await engineReady;
      const call = methods[method] ?? ((p) => {
        if (typeof engine[method] !== 'function') throw new Error(`Unknown schema engine method ${method}`);
        return engine[method](p);
      });
      const result = await call(params);
      send({ id, jsonrpc: '2.0', result: result ?? null });
    } catch (error) {
      const message = String(error?.message ?? error);
      send({ id, jsonrpc: '2.0', error: { code: 4466, message: 'An error happened. Check the data field for details.', data: { is_panic: false, message } } });
    }
  };

  createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', (line) => {
    if (!line.trim()) return;
    const message = JSON.parse(line);
    if (message.method === undefined && pendingPrints.has(message.id)) {
      pendingPrints.get(message.id)();
      pendingPrints.delete(message.id);
      return;
    }
    queue = queue.then(() => handle(message));
  }).on('close', () => {
    queue.then(() => process.exit(0));
  });
}

const args = parseArgs(process.argv.slice(2));
if (args.version) {
  process.stdout.write(`schema-engine-cli ${enginesHash()}\n`);
} else if (args.cli) {
  await runCliCommand(args.cli, args.datasource);
} else {
  await serveRpc(args);
}
