/**
 * A failure the CLI reports in one line, without a stack: the user's input, the environment or the
 * gateway's answer was wrong, not tollgate. `exitCode` 2 is a usage error, 1 anything else.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message)
    this.name = 'CliError'
  }
}
