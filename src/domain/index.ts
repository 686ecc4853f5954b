// Public API of the pure domain. Everything here is free of I/O and SDKs; types are plain JSON.
export * from './types.js';
export * from './imageRef.js';
export * from './resourceId.js';
export * from './credentials.js';
export * from './baseImages.js';
export * from './taskContent.js';
export * from './builtInRoles.js';
export * from './operationMatch.js';
export * from './abacCondition.js';
export * from './rbac.js';
export * from './keyVaultAccess.js';
export * from './identity.js';
export type {
  LoopEdge,
  NamedIdentity,
  Reason,
  ReasonCode,
  RoleAssignmentRemediation,
  SecretUse,
  Severity,
  TaskRef,
} from './reasons.js';
/** Reason builders (`reasons.missingPullPermission(...)`) — every message and fix text lives there. */
export * as reasons from './reasons.js';
export * from './graph.js';
export * from './planner.js';
export * from './preflight.js';
export * from './credentialPolicy.js';
export * from './events.js';
export * from './settle.js';
export * from './intake.js';
