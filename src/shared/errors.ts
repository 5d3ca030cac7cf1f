/** Error types shared by the engine, the CLI and the extension. */

/** A problem with what the user gave us (a file, an option): reported as one line, exit code 2. */
export class BadInputError extends Error {
  /** The file or option the problem is about. */
  readonly subject: string;
  constructor(subject: string, problem: string) {
    super(`${subject}: ${problem}`);
    this.name = 'BadInputError';
    this.subject = subject;
  }
}

/** Raised when a request was cancelled by the user. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** True for errors that describe bad user input rather than a bug. */
export function isBadInput(err: unknown): err is BadInputError {
  return err instanceof Error && err.name === 'BadInputError';
}

/** A one-line description of any thrown value, without a stack. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].trim() || 'unknown error';
}
