// Errors of the registry data plane (OCI distribution spec envelope) and ACR-specific ARM errors, built on the core
// `EmulatorError` / `arm.*` factories so every error body still comes from one place.
import { EmulatorError, arm } from '../core/errors.js';

/** OCI distribution error envelope `{ errors: [{ code, message, detail }] }`. */
export function ociError(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return new EmulatorError(status, { errors: [{ code, message, detail: null }] }, headers);
}

export const oci = {
  nameUnknown: (repo: string) => ociError(404, 'NAME_UNKNOWN', `repository name not known to registry: ${repo}`),
  nameInvalid: (repo: string) => ociError(400, 'NAME_INVALID', `invalid repository name: ${repo}`),
  tagInvalid: (tag: string) => ociError(400, 'TAG_INVALID', `invalid tag: ${tag}`),
  blobUnknown: (digest: string) => ociError(404, 'BLOB_UNKNOWN', `blob unknown to registry: ${digest}`),
  uploadUnknown: () => ociError(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry'),
  uploadInvalid: (why: string) => ociError(400, 'BLOB_UPLOAD_INVALID', `blob upload invalid: ${why}`),
  digestInvalid: (why: string) =>
    ociError(400, 'DIGEST_INVALID', `provided digest did not match uploaded content: ${why}`),
  manifestUnknown: (ref: string) => ociError(404, 'MANIFEST_UNKNOWN', `manifest tagged by "${ref}" is not found`),
  manifestInvalid: (why: string) => ociError(400, 'MANIFEST_INVALID', `manifest invalid: ${why}`),
  manifestBlobUnknown: (digest: string) =>
    ociError(400, 'MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${digest}`),
  unsupported: (what: string) => ociError(405, 'UNSUPPORTED', `the operation is unsupported: ${what}`),
  unauthorized: (loginServer: string, why: string) =>
    ociError(401, 'UNAUTHORIZED', `authentication required, ${why}`, {
      'www-authenticate': `Basic realm="${loginServer}"`,
    }),
  denied: () => ociError(403, 'DENIED', 'requested access to the resource is denied'),
};

/** ACR resource-provider validation errors (400) and conflicts (409). Codes marked [U] in the contracts are guesses. */
export const acr = {
  invalid: (message: string) => arm.badRequest('InvalidParameter', message),
  invalidName: (kind: string, name: string, rule: string) =>
    arm.badRequest('InvalidResourceName', `Resource name '${name}' is invalid for ${kind}. ${rule}`),
  nameInUse: (name: string) =>
    arm.conflict('AlreadyInUse', `The registry DNS name ${name.toLowerCase()}.azurecr.io is already in use.`),
  locationRequired: () => arm.badRequest('LocationRequired', 'The location property is required for this definition.'),
};
