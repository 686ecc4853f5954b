// Every error the emulator returns comes from here, with the real services' codes and envelopes.

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Thrown by handlers; turned into a response by the server. */
export class EmulatorError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === 'object' && body && 'error' in body ? JSON.stringify(body) : String(status));
  }
}

/** ARM error envelope `{ error: { code, message } }`. */
export function armError(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return new EmulatorError(status, { error: { code, message } }, headers);
}

export const arm = {
  missingApiVersion: () =>
    armError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    ),
  badApiVersion: (version: string, type: string, supported: string[]) =>
    armError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${version}' is invalid. The supported versions for resource type '${type}' are '${supported.join(', ')}'.`,
    ),
  notImplemented: (method: string, path: string) =>
    armError(501, 'NotImplemented', `The emulator does not implement ${method} ${path}.`),
  unauthenticated: (why: string) =>
    armError(401, 'AuthenticationFailed', `Authentication failed. ${why}`, {
      'www-authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"',
    }),
  forbidden: (clientId: string, objectId: string, action: string, scope: string) =>
    armError(
      403,
      'AuthorizationFailed',
      `The client '${clientId}' with object id '${objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    ),
  subscriptionNotFound: (sub: string) =>
    armError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`),
  resourceGroupNotFound: (rg: string) =>
    armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`),
  resourceNotFound: (typeAndName: string, rg: string) =>
    armError(
      404,
      'ResourceNotFound',
      `The Resource '${typeAndName}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    ),
  parentNotFound: (parent: string) =>
    armError(
      404,
      'ParentResourceNotFound',
      `Can not perform requested operation on nested resource. Parent resource '${parent}' not found.`,
    ),
  badRequest: (code: string, message: string) => armError(400, code, message),
  conflict: (code: string, message: string) => armError(409, code, message),
  throttled: (retryAfterSeconds: number, kind: string) =>
    armError(
      429,
      'TooManyRequests',
      `The request is being throttled as the limit has been reached for operation type - ${kind}. Please try again after '${retryAfterSeconds}' seconds.`,
      { 'retry-after': String(retryAfterSeconds) },
    ),
  injected: (status: number) =>
    status === 429
      ? armError(429, 'TooManyRequests', "Injected throttling. Please try again after '1' seconds.", {
          'retry-after': '1',
        })
      : armError(status, 'InternalServerError', 'Injected server error (emulator fault injection).'),
};

/** Key Vault error envelope `{ error: { code, message, innererror? } }` plus `x-ms-error-code`. */
export function kvError(
  status: number,
  code: string,
  message: string,
  inner?: string,
  headers: Record<string, string> = {},
) {
  const error: Record<string, unknown> = { code, message };
  if (inner) error.innererror = { code: inner };
  return new EmulatorError(status, { error }, { 'x-ms-error-code': inner ?? code, ...headers });
}
