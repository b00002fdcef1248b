// How every script in scripts/ starts and ends: `node:util` parseArgs with its errors turned into an
// ArgumentError that names the option, and `runCli`, which runs a script's main, prints what went
// wrong and exits with the code of the one table in src/errors.ts. An expected (coded) error and an
// error of the outside world (a system call, PostgreSQL: anything with a string `code`) print one
// message; anything else is a bug and prints its stack.
//
//   runCli('probe', async () => { const { values } = parseCliArguments({ options: {…} }, USAGE); … return 0; },
//     { kinds: ['bad-input', 'not-found', 'nothing-to-do', 'locked', 'interrupted'] });
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ArgumentError, exitCodeOf, isCodedError, type ErrorKind } from './errors.ts';

/** parseArgs, whose refusals become ArgumentErrors ("Unknown option --bogus.", "--norms needs a value."), followed by `usage` when given. */
export function parseCliArguments<T extends ParseArgsConfig>(config: T, usage?: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const message = describeParseError(error);
    throw new ArgumentError(usage ? `${message}\n${usage}` : message, { cause: error });
  }
}

function describeParseError(error: unknown): string {
  const { code, message } = error as { code?: string; message: string };
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `Unknown option ${option}.`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && / argument missing$/.test(message)) return `${option} needs a value.`;
  return message.replace(/\s*\n\s*/g, ' ');
}

export interface CliOptions {
  /** The error kinds this CLI documents an exit code for; an expected error of another kind exits 1. All by default. */
  kinds?: readonly ErrorKind[];
}

/**
 * Runs `main` and exits: with its return value (0 when it returns nothing), or with the exit code of
 * what it threw, printed as `name: CODE: message` (an expected error), `name: message` (the outside
 * world failed) or the stack (a bug).
 */
export function runCli(name: string, main: () => Promise<number | void> | number | void, options: CliOptions = {}): void {
  Promise.resolve()
    .then(main)
    .then(
      (code) => process.exit(code ?? 0),
      (error: unknown) => {
        console.error(describeFailure(name, error));
        process.exit(exitCodeOf(error, options.kinds));
      },
    );
}

export function describeFailure(name: string, error: unknown): string {
  if (isCodedError(error)) return `${name}: ${error.code}: ${error.message}`;
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string') {
    // pg's connection failures are AggregateErrors without a message of their own.
    const inner = error instanceof AggregateError ? error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ') : '';
    return `${name}: ${error.message || inner || code}`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : `${name}: ${String(error)}`;
}
