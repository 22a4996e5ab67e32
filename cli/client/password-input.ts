/**
 * Passwords for the CLI without putting them on the command line (issue 8, finding 10: arguments
 * are visible in `ps` and kept in shell history). Sources, in order: `--password-stdin` (the first
 * line of standard input, as `docker login --password-stdin`), an environment variable, an
 * interactive prompt (@inquirer/password, masked) when standard input is a terminal.
 */
import passwordPrompt from '@inquirer/password';

/** Exit code of bad usage (a password given as an argument, or none available). */
export const USAGE_EXIT_CODE = 2;

/** The message printed when a password is passed as an argument. */
export const PASSWORD_ARGUMENT_REFUSED =
  'passwords are not accepted as arguments (visible in ps and shell history): pipe it to --password-stdin, set STREAMWAVE_PASSWORD, or type it at the prompt';

/** Raised when no password source is available; the CLI prints it and exits 2. */
export class PasswordInputError extends Error {
  readonly exitCode = USAGE_EXIT_CODE;
}

export interface PasswordSources {
  /** Read the password from standard input (`--password-stdin`). */
  fromStdin?: boolean;
  /** Name of the environment variable to read (e.g. `STREAMWAVE_PASSWORD`); empty values are ignored. */
  envVar: string;
  /** Prompt text for the interactive prompt. */
  prompt: string;
  /** Environment (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Standard input (default process.stdin). */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** When no source has a password: `undefined` instead of an error (the caller may go without). */
  optional?: boolean;
}

/** All of `stream` as UTF-8, without the trailing line break (one password line). */
async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * The password from the first available source (see the module comment).
 * @throws PasswordInputError when `--password-stdin` gave an empty line, or no source is available
 *   and `optional` is not set (standard input is not a terminal and the variable is unset).
 */
export async function readPassword(src: PasswordSources): Promise<string | undefined> {
  const env = src.env ?? process.env;
  const stdin = src.stdin ?? process.stdin;
  if (src.fromStdin) {
    const p = await readAll(stdin);
    if (!p) throw new PasswordInputError('--password-stdin: standard input was empty');
    return p;
  }
  const fromEnv = env[src.envVar];
  if (fromEnv) return fromEnv;
  if (stdin.isTTY) return passwordPrompt({ message: src.prompt, mask: '*' });
  if (src.optional) return undefined;
  throw new PasswordInputError(`no password: pipe it to --password-stdin, set ${src.envVar}, or run in a terminal to be prompted`);
}
