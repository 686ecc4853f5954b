// Exit codes scripts can rely on (documented in docs/operations.md "CLI").
export const EXIT = {
  /** Done: the command worked; a cascade completed with every task succeeded or up to date. */
  ok: 0,
  /** A cascade failed, or one of its runs failed. */
  failed: 1,
  /** Bad arguments or no endpoint configured. */
  usage: 2,
  /** A task is blocked (in a cascade, a plan or a dry run), or a credential would block runs. */
  blocked: 3,
  /** The cascade was canceled, superseded by a newer push, or terminated. */
  canceled: 4,
  /** The API refused the request (its error code is printed). */
  apiError: 5,
  /** The API could not be reached. */
  unreachable: 6,
  /** `status <id>` of a cascade still in flight (without --watch). */
  running: 7,
  /** --watch was interrupted (Ctrl-C): the cascade goes on. */
  interrupted: 130,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}
