// Microsoft.Authorization 2022-04-01: role assignments (extension resources at any supported scope) and role
// definitions (built-ins from core/roles.ts plus custom roles). Evaluation itself lives in core/rbac.ts.
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { EmulatorError, arm, armError, type Reply } from '../core/errors.js';
import type { Principal } from '../core/identity.js';
import {
  findRoleDefinition,
  roleDefinitionGuid,
  scopeCovers,
  type RoleAssignmentResource,
  type RoleDefinitionResource,
} from '../core/rbac.js';
import { BUILT_IN_ROLES, type Permission, type RoleDefinitionData } from '../core/roles.js';
import { key } from '../core/state.js';
import { requireResourceGroup } from './resourceGroups.js';

/** The only version `@azure/arm-authorization` 9 sends for roleAssignments and roleDefinitions. */
export const AUTHORIZATION_API_VERSIONS = ['2022-04-01'];
export const ROLE_ASSIGNMENT_TYPE = 'Microsoft.Authorization/roleAssignments';
export const ROLE_DEFINITION_TYPE = 'Microsoft.Authorization/roleDefinitions';

/** Role assignments per list page; more than this and the response carries a `nextLink`. */
const PAGE_SIZE = 100;
const GUID_RX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PRINCIPAL_TYPES = ['User', 'Group', 'ServicePrincipal', 'ForeignGroup', 'Device'];
// Built-ins carry fixed timestamps, as in Azure (they are not created by anyone in this tenant).
const BUILT_IN_CREATED_ON = '2015-02-02T21:55:09.8806423Z';

/** `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}` — the form responses use. */
export function roleDefinitionId(subscriptionId: string, guid: string): string {
  return `/subscriptions/${subscriptionId}/providers/${ROLE_DEFINITION_TYPE}/${guid.toLowerCase()}`;
}

/** GUID of a built-in role by its name (case-insensitive), e.g. `builtInRoleGuid('AcrPull')`. */
export function builtInRoleGuid(roleName: string): string | undefined {
  return BUILT_IN_ROLES.find((r) => r.roleName.toLowerCase() === roleName.toLowerCase())?.name;
}

// Scopes ---------------------------------------------------------------------------------------------------------
interface ParsedScope {
  kind: 'subscription' | 'resourceGroup' | 'resource';
  resourceGroup?: string;
  /** Top-level resource of a resource (or child-resource) scope. */
  resource?: { id: string; typeAndName: string };
}

function cleanScope(raw: string | undefined): string {
  const s = (raw ?? '').replace(/\/+$/, '');
  return s === '' || s.startsWith('/') ? s : `/${s}`;
}

/** Subscription, resource group, resource or child resource; anything else (root, management groups) is 501. */
function parseScope(scope: string, req: EmuRequest): ParsedScope {
  const seg = scope.split('/').filter(Boolean);
  const is = (i: number, word: string) => seg[i]?.toLowerCase() === word.toLowerCase();
  const unsupported = () => arm.notImplemented(req.method, req.path);
  if (!is(0, 'subscriptions') || seg.length < 2) throw unsupported();
  if (seg.length === 2) return { kind: 'subscription' };
  if (!is(2, 'resourceGroups') || seg.length < 4) throw unsupported();
  const resourceGroup = seg[3]!;
  if (seg.length === 4) return { kind: 'resourceGroup', resourceGroup };
  // providers/{ns}/{type}/{name} then child {type}/{name} pairs; nested extension scopes are not supported.
  const rest = seg.slice(5);
  if (!is(4, 'providers') || rest.length < 3 || rest.length % 2 === 0) throw unsupported();
  if (rest.some((s) => s.toLowerCase() === 'providers')) throw unsupported();
  const [ns, type, name] = rest as [string, string, string];
  const id = `/${seg.slice(0, 8).join('/')}`;
  return { kind: 'resource', resourceGroup, resource: { id, typeAndName: `${ns}/${type}/${name}` } };
}

/**
 * ARM's 404 order: resource group, then the top-level resource. Child scopes (a vault's secret, a registry's task)
 * only need their top-level resource: children such as Key Vault secrets live in data-plane state, not in ARM's.
 */
function requireScope(emu: Emulator, scope: string, req: EmuRequest): ParsedScope {
  const parsed = parseScope(scope, req);
  if (parsed.kind === 'subscription') return parsed;
  const rg = requireResourceGroup(emu, emu.subscriptionId, parsed.resourceGroup!);
  if (parsed.resource && !emu.store.getResource(parsed.resource.id))
    throw arm.resourceNotFound(parsed.resource.typeAndName, rg.name);
  return parsed;
}

// Role assignments -----------------------------------------------------------------------------------------------
interface AssignmentBody {
  properties?: {
    roleDefinitionId?: unknown;
    principalId?: unknown;
    principalType?: unknown;
    condition?: unknown;
    conditionVersion?: unknown;
    description?: unknown;
  };
}

function principalTypeOf(_p: Principal): string {
  // Every principal the emulator knows is an application or managed identity.
  return 'ServicePrincipal';
}

/** Accepts `/providers/...` or this subscription's `/subscriptions/{s}/providers/...`; returns the role's GUID. */
function parseRoleDefinitionRef(emu: Emulator, value: string): string {
  const guid = roleDefinitionGuid(value);
  const prefix = value.slice(0, value.toLowerCase().lastIndexOf(`/providers/${ROLE_DEFINITION_TYPE.toLowerCase()}/`));
  const prefixOk = prefix === '' || prefix.toLowerCase() === `/subscriptions/${emu.subscriptionId}`.toLowerCase();
  if (!guid || !prefixOk)
    throw arm.badRequest('InvalidRoleDefinitionId', `The role definition ID '${value}' is not valid.`);
  return guid;
}

function roleDefinitionMissing(guid: string, status: 400 | 404) {
  const message = `The specified role definition with ID '${guid}' does not exist.`;
  return status === 404
    ? armError(404, 'RoleDefinitionDoesNotExist', message)
    : arm.badRequest('RoleDefinitionDoesNotExist', message);
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string')
    throw arm.badRequest('InvalidRequestContent', `The value of '${field}' must be a string.`);
  return value;
}

/** The wire form: every optional property present (null when unset), role definition id subscription-qualified. */
function presentAssignment(emu: Emulator, ra: RoleAssignmentResource) {
  const p = ra.properties;
  const guid = roleDefinitionGuid(p.roleDefinitionId);
  return {
    id: ra.id,
    name: ra.name,
    type: ROLE_ASSIGNMENT_TYPE,
    properties: {
      roleDefinitionId: guid ? roleDefinitionId(emu.subscriptionId, guid) : p.roleDefinitionId,
      principalId: p.principalId,
      principalType: p.principalType ?? 'ServicePrincipal',
      scope: p.scope,
      condition: p.condition ?? null,
      conditionVersion: p.conditionVersion ?? null,
      description: p.description ?? null,
      createdOn: p.createdOn ?? null,
      updatedOn: p.updatedOn ?? null,
      createdBy: p.createdBy ?? null,
      updatedBy: p.updatedBy ?? null,
      delegatedManagedIdentityResourceId: null,
    },
  };
}

interface AssignmentFilter {
  atScope: boolean;
  principalId?: string;
}

/** `atScope()`, `principalId eq '…'`, `assignedTo('…')`, joined with `and`. */
function parseAssignmentFilter(raw: string | undefined): AssignmentFilter {
  const out: AssignmentFilter = { atScope: false };
  if (raw === undefined || raw.trim() === '') return out;
  for (const clause of raw.trim().split(/\s+and\s+/i)) {
    const c = clause.trim();
    let m: RegExpExecArray | null;
    if (/^atScope\(\s*\)$/i.test(c)) out.atScope = true;
    else if ((m = /^principalId\s+eq\s+'([^']*)'$/i.exec(c)) || (m = /^assignedTo\(\s*'([^']*)'\s*\)$/i.exec(c))) {
      // assignedTo() expands group memberships in Azure; the emulator has no groups, so it equals principalId eq.
      const pid = m[1]!.toLowerCase();
      if (out.principalId !== undefined && out.principalId !== pid) out.principalId = '\0none';
      else out.principalId = pid;
    } else {
      throw arm.badRequest(
        'UnsupportedQuery',
        `The filter '${raw}' is not supported. Supported filters are 'atScope()', 'principalId eq '{value}'' and 'assignedTo('{value}')', optionally combined with 'and'.`,
      );
    }
  }
  return out;
}

function encodePath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

/** One page of `items` from `$skipToken` (an offset), with an absolute `nextLink` that repeats the query. */
function page<T>(req: EmuRequest, items: T[]): Reply {
  const token = req.q('$skipToken');
  const offset = token === undefined ? 0 : Number(token);
  if (!Number.isInteger(offset) || offset < 0)
    throw arm.badRequest('InvalidSkipToken', `The skip token '${token}' is not valid.`);
  const value = items.slice(offset, offset + PAGE_SIZE);
  const body: { value: T[]; nextLink?: string } = { value };
  if (offset + PAGE_SIZE < items.length) {
    const params = new URLSearchParams();
    for (const [k, v] of req.query) if (k.toLowerCase() !== '$skiptoken') params.append(k, v);
    params.set('$skipToken', String(offset + PAGE_SIZE));
    body.nextLink = `${req.baseUrl}${encodePath(req.path)}?${params.toString()}`;
  }
  return { status: 200, body };
}

// Role definitions -----------------------------------------------------------------------------------------------
interface DefinitionBody {
  properties?: {
    roleName?: unknown;
    description?: unknown;
    type?: unknown;
    permissions?: unknown;
    assignableScopes?: unknown;
  };
}

function presentDefinition(emu: Emulator, def: StoredDefinition, tenantLevel: boolean) {
  const builtIn = def.type === 'BuiltInRole';
  return {
    id: tenantLevel ? `/providers/${ROLE_DEFINITION_TYPE}/${def.name}` : roleDefinitionId(emu.subscriptionId, def.name),
    name: def.name,
    type: ROLE_DEFINITION_TYPE,
    properties: {
      roleName: def.roleName,
      type: def.type,
      description: def.description,
      assignableScopes: def.assignableScopes,
      permissions: def.permissions,
      createdOn: builtIn ? BUILT_IN_CREATED_ON : (def.createdOn ?? null),
      updatedOn: builtIn ? BUILT_IN_CREATED_ON : (def.updatedOn ?? null),
      createdBy: builtIn ? null : (def.createdBy ?? null),
      updatedBy: builtIn ? null : (def.updatedBy ?? null),
    },
  };
}

type StoredDefinition = RoleDefinitionData & {
  createdOn?: string;
  updatedOn?: string;
  createdBy?: string;
  updatedBy?: string;
};

function customRoles(emu: Emulator): StoredDefinition[] {
  return emu.store
    .listResources<RoleDefinitionResource>(ROLE_DEFINITION_TYPE)
    .map((r) => ({ ...(r.properties as Omit<StoredDefinition, 'name'>), name: r.name }));
}

/** The role-definition scope: '' (tenant) or a subscription-rooted scope of this subscription. */
function definitionScope(req: EmuRequest): string {
  const scope = cleanScope(req.params.scope);
  if (scope !== '') parseScope(scope, req);
  return scope;
}

interface DefinitionFilter {
  roleName?: string;
  type?: string;
  atScopeAndBelow: boolean;
}

function parseDefinitionFilter(raw: string | undefined): DefinitionFilter {
  const out: DefinitionFilter = { atScopeAndBelow: false };
  if (raw === undefined || raw.trim() === '') return out;
  for (const clause of raw.trim().split(/\s+and\s+/i)) {
    const c = clause.trim();
    let m: RegExpExecArray | null;
    if (/^atScopeAndBelow\(\s*\)$/i.test(c)) out.atScopeAndBelow = true;
    else if ((m = /^roleName\s+eq\s+'([^']*)'$/i.exec(c))) out.roleName = m[1]!;
    else if ((m = /^type\s+eq\s+'(BuiltInRole|CustomRole)'$/i.exec(c))) out.type = m[1]!;
    else
      throw arm.badRequest(
        'UnsupportedQuery',
        `The filter '${raw}' is not supported. Supported filters are 'roleName eq '{value}'', 'type eq 'BuiltInRole'|'CustomRole'' and 'atScopeAndBelow()'.`,
      );
  }
  return out;
}

function stringArray(value: unknown, field: string, required: boolean): string[] {
  if (value === undefined || value === null) {
    if (required) throw arm.badRequest('InvalidRoleDefinition', `The role definition property '${field}' is required.`);
    return [];
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw arm.badRequest(
      'InvalidRoleDefinition',
      `The role definition property '${field}' must be an array of strings.`,
    );
  return value as string[];
}

function validatePermissions(value: unknown): Permission[] {
  if (!Array.isArray(value) || value.length === 0)
    throw arm.badRequest('InvalidRoleDefinition', "The role definition property 'permissions' is required.");
  return value.map((p: unknown, i) => {
    if (typeof p !== 'object' || p === null)
      throw arm.badRequest('InvalidRoleDefinition', `permissions[${i}] must be an object.`);
    const o = p as Record<string, unknown>;
    // Stored complete so the evaluator never meets a missing list.
    return {
      actions: stringArray(o.actions, `permissions[${i}].actions`, false),
      notActions: stringArray(o.notActions, `permissions[${i}].notActions`, false),
      dataActions: stringArray(o.dataActions, `permissions[${i}].dataActions`, false),
      notDataActions: stringArray(o.notDataActions, `permissions[${i}].notDataActions`, false),
    };
  });
}

// Registration ---------------------------------------------------------------------------------------------------
export function registerAuthorization(emu: Emulator): void {
  const raPath = `/{*scope}/providers/${ROLE_ASSIGNMENT_TYPE}`;
  const rdPath = `/{*scope}/providers/${ROLE_DEFINITION_TYPE}`;
  const assignments = () => emu.store.listResources<RoleAssignmentResource>(ROLE_ASSIGNMENT_TYPE);
  const assignmentId = (scope: string, name: string) => `${scope}/providers/${ROLE_ASSIGNMENT_TYPE}/${name}`;
  // Unsupported scope shapes fail loudly (501) before RBAC, which would otherwise answer 403 for them.
  const checked = (action: string) => (req: EmuRequest) => {
    parseScope(cleanScope(req.params.scope), req);
    return action;
  };
  const checkedDefinition = (action: string) => (req: EmuRequest) => {
    if (definitionScope(req) === '') throw arm.notImplemented(req.method, req.path);
    return action;
  };
  const notFound = (name: string) =>
    armError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);

  emu.armRoute({
    op: 'roleAssignments.create',
    method: 'PUT',
    path: `${raPath}/{roleAssignmentName}`,
    apiVersions: AUTHORIZATION_API_VERSIONS,
    // Checked in the handler: delegation conditions read the request's role definition and principal type.
    action: null,
    handler: (req) => {
      const scope = cleanScope(req.params.scope);
      parseScope(scope, req);
      const name = req.params.roleAssignmentName!.toLowerCase();
      if (!GUID_RX.test(name))
        throw arm.badRequest(
          'InvalidRoleAssignmentId',
          `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
        );
      const props = req.json<AssignmentBody>()?.properties;
      if (!props || typeof props !== 'object')
        throw arm.badRequest('InvalidRequestContent', "The request content must contain 'properties'.");
      if (typeof props.roleDefinitionId !== 'string' || props.roleDefinitionId === '')
        throw arm.badRequest('InvalidRequestContent', "The property 'properties.roleDefinitionId' is required.");
      if (typeof props.principalId !== 'string' || props.principalId === '')
        throw arm.badRequest('InvalidRequestContent', "The property 'properties.principalId' is required.");
      const principalId = props.principalId;
      const principalTypeIn = optionalString(props.principalType, 'properties.principalType');
      if (principalTypeIn !== null && !PRINCIPAL_TYPES.includes(principalTypeIn))
        throw arm.badRequest(
          'InvalidPrincipalType',
          `The principal type '${principalTypeIn}' is not valid. Allowed values: ${PRINCIPAL_TYPES.join(', ')}.`,
        );
      const condition = optionalString(props.condition, 'properties.condition');
      let conditionVersion = optionalString(props.conditionVersion, 'properties.conditionVersion');
      const description = optionalString(props.description, 'properties.description');
      if (condition !== null && condition.trim() === '')
        throw arm.badRequest('InvalidCondition', 'The condition must not be empty.');
      if (condition === null && conditionVersion !== null)
        throw arm.badRequest('InvalidConditionVersion', 'The condition version cannot be set without a condition.');
      if (condition !== null) {
        conditionVersion ??= '2.0';
        if (conditionVersion !== '2.0')
          throw arm.badRequest(
            'InvalidConditionVersion',
            `The condition version '${conditionVersion}' is not supported. Supported versions: 2.0.`,
          );
      }

      const guid = parseRoleDefinitionRef(emu, props.roleDefinitionId);
      const write = `${ROLE_ASSIGNMENT_TYPE}/write`;
      const decision = emu.check(
        req.caller!.objectId,
        scope,
        { action: write },
        {
          [`Request:${ROLE_ASSIGNMENT_TYPE}:RoleDefinitionId`]: guid,
          ...(principalTypeIn !== null ? { [`Request:${ROLE_ASSIGNMENT_TYPE}:PrincipalType`]: principalTypeIn } : {}),
        },
      );
      if (!decision.allowed) throw arm.forbidden(req.caller!.clientId, req.caller!.objectId, write, scope);
      if (!findRoleDefinition(emu.store, roleDefinitionId(emu.subscriptionId, guid)))
        throw roleDefinitionMissing(guid, 400);
      const principal = emu.identities.get(principalId);
      if (!principal)
        throw arm.badRequest(
          'PrincipalNotFound',
          `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${emu.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group. See https://aka.ms/docs-principaltype`,
        );
      const principalType = principalTypeOf(principal);
      if (principalTypeIn !== null && principalTypeIn !== principalType)
        throw arm.badRequest(
          'UnmatchedPrincipalType',
          `The PrincipalId '${principalId.replace(/-/g, '')}' has type '${principalType}' , which is different from specified PrincipalType '${principalTypeIn}'.`,
        );
      requireScope(emu, scope, req);

      const id = assignmentId(scope, name);
      const all = assignments();
      // Names are unique across scopes: reusing one elsewhere, or for another role/principal, is an update of
      // immutable properties.
      const sameName = all.find((ra) => ra.name.toLowerCase() === name.toLowerCase());
      const now = emu.nowIso();
      const caller = req.caller!.objectId;
      if (sameName) {
        const p = sameName.properties;
        if (
          key(p.scope) !== key(scope) ||
          p.principalId.toLowerCase() !== principalId.toLowerCase() ||
          roleDefinitionGuid(p.roleDefinitionId) !== guid
        )
          throw arm.conflict(
            'RoleAssignmentUpdateNotPermitted',
            'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
          );
        // Condition and description are updatable; an identical body is an idempotent success.
        const changed =
          (p.condition ?? null) !== condition ||
          (p.conditionVersion ?? null) !== conditionVersion ||
          (p.description ?? null) !== description;
        if (changed) {
          sameName.properties = { ...p, condition, conditionVersion, description, updatedOn: now, updatedBy: caller };
          emu.store.putResource(sameName);
        }
        return { status: 200, body: presentAssignment(emu, sameName) };
      }
      const duplicate = all.find(
        (ra) =>
          key(ra.properties.scope) === key(scope) &&
          ra.properties.principalId.toLowerCase() === principalId.toLowerCase() &&
          roleDefinitionGuid(ra.properties.roleDefinitionId) === guid,
      );
      if (duplicate) throw arm.conflict('RoleAssignmentExists', 'The role assignment already exists.');

      const ra: RoleAssignmentResource = {
        id,
        name,
        type: ROLE_ASSIGNMENT_TYPE,
        properties: {
          roleDefinitionId: roleDefinitionId(emu.subscriptionId, guid),
          principalId: principal.objectId,
          principalType,
          scope,
          condition,
          conditionVersion,
          description,
          createdOn: now,
          updatedOn: now,
          createdBy: caller,
          updatedBy: caller,
        },
      };
      emu.store.putResource(ra);
      return { status: 201, body: presentAssignment(emu, ra) };
    },
  });

  emu.armRoute({
    op: 'roleAssignments.get',
    method: 'GET',
    path: `${raPath}/{roleAssignmentName}`,
    apiVersions: AUTHORIZATION_API_VERSIONS,
    action: checked(`${ROLE_ASSIGNMENT_TYPE}/read`),
    handler: (req) => {
      const scope = cleanScope(req.params.scope);
      requireScope(emu, scope, req);
      const ra = emu.store.getResource<RoleAssignmentResource>(assignmentId(scope, req.params.roleAssignmentName!));
      if (!ra || ra.type !== ROLE_ASSIGNMENT_TYPE) throw notFound(req.params.roleAssignmentName!);
      return { status: 200, body: presentAssignment(emu, ra) };
    },
  });

  emu.armRoute({
    op: 'roleAssignments.delete',
    method: 'DELETE',
    path: `${raPath}/{roleAssignmentName}`,
    apiVersions: AUTHORIZATION_API_VERSIONS,
    action: checked(`${ROLE_ASSIGNMENT_TYPE}/delete`),
    handler: (req) => {
      const scope = cleanScope(req.params.scope);
      parseScope(scope, req);
      const id = assignmentId(scope, req.params.roleAssignmentName!);
      const ra = emu.store.getResource<RoleAssignmentResource>(id);
      if (!ra || ra.type !== ROLE_ASSIGNMENT_TYPE) return { status: 204 };
      emu.store.deleteResource(id);
      return { status: 200, body: presentAssignment(emu, ra) };
    },
  });

  emu.armRoute({
    op: 'roleAssignments.list',
    method: 'GET',
    path: raPath,
    apiVersions: AUTHORIZATION_API_VERSIONS,
    action: checked(`${ROLE_ASSIGNMENT_TYPE}/read`),
    handler: (req) => {
      const scope = cleanScope(req.params.scope);
      requireScope(emu, scope, req);
      const filter = parseAssignmentFilter(req.q('$filter'));
      const matched = assignments().filter((ra) => {
        const atOrAbove = scopeCovers(ra.properties.scope, scope);
        const below = !atOrAbove && scopeCovers(scope, ra.properties.scope);
        if (!atOrAbove && !(below && !filter.atScope)) return false;
        return filter.principalId === undefined || ra.properties.principalId.toLowerCase() === filter.principalId;
      });
      return page(
        req,
        matched.map((ra) => presentAssignment(emu, ra)),
      );
    },
  });

  // Role definitions: readable by any authenticated caller of the tenant [U]; writes need roleDefinitions/write.
  emu.armRoute({
    op: 'roleDefinitions.get',
    method: 'GET',
    path: `${rdPath}/{roleDefinitionId}`,
    apiVersions: AUTHORIZATION_API_VERSIONS,
    action: null,
    handler: (req) => {
      const scope = definitionScope(req);
      const guid = req.params.roleDefinitionId!.toLowerCase();
      const def = GUID_RX.test(guid)
        ? findRoleDefinition(emu.store, roleDefinitionId(emu.subscriptionId, guid))
        : undefined;
      if (!def) throw roleDefinitionMissing(req.params.roleDefinitionId!, 404);
      const stored = customRoles(emu).find((r) => r.name === def.name);
      return { status: 200, body: presentDefinition(emu, stored ?? def, scope === '') };
    },
  });

  emu.armRoute({
    op: 'roleDefinitions.list',
    method: 'GET',
    path: rdPath,
    apiVersions: AUTHORIZATION_API_VERSIONS,
    action: null,
    handler: (req) => {
      const scope = definitionScope(req);
      const filter = parseDefinitionFilter(req.q('$filter'));
      const visible = (def: RoleDefinitionData) =>
        def.type === 'BuiltInRole' ||
        scope === '' ||
        def.assignableScopes.some((a) => scopeCovers(a, scope) || (filter.atScopeAndBelow && scopeCovers(scope, a)));
      const defs = [...BUILT_IN_ROLES, ...customRoles(emu)].filter(
        (d) =>
          visible(d) &&
          (filter.roleName === undefined || d.roleName.toLowerCase() === filter.roleName.toLowerCase()) &&
          (filter.type === undefined || d.type.toLowerCase() === filter.type.toLowerCase()),
      );
      return page(
        req,
        defs.map((d) => presentDefinition(emu, d, scope === '')),
      );
    },
  });

  emu.armRoute({
    op: 'roleDefinitions.createOrUpdate',
    method: 'PUT',
    path: `${rdPath}/{roleDefinitionId}`,
    apiVersions: AUTHORIZATION_API_VERSIONS,
    action: checkedDefinition(`${ROLE_DEFINITION_TYPE}/write`),
    handler: (req) => {
      const guid = req.params.roleDefinitionId!.toLowerCase();
      if (!GUID_RX.test(guid))
        throw arm.badRequest('InvalidRoleDefinitionId', `The role definition ID '${guid}' is not valid.`);
      // [U] code: Azure refuses to change built-in roles; the exact error code is not documented.
      if (BUILT_IN_ROLES.some((r) => r.name === guid))
        throw arm.badRequest('RoleDefinitionUpdateNotPermitted', 'Built-in role definitions cannot be modified.');
      const props = req.json<DefinitionBody>()?.properties;
      if (!props || typeof props !== 'object')
        throw arm.badRequest('InvalidRequestContent', "The request content must contain 'properties'.");
      if (typeof props.roleName !== 'string' || props.roleName.trim() === '')
        throw arm.badRequest('InvalidRoleDefinition', "The role definition property 'roleName' is required.");
      const roleName = props.roleName;
      if (props.type !== undefined && props.type !== null && props.type !== 'CustomRole')
        throw arm.badRequest('InvalidRoleDefinition', "The role definition type must be 'CustomRole'.");
      const description = optionalString(props.description, 'properties.description') ?? '';
      const permissions = validatePermissions(props.permissions);
      const assignableScopes = stringArray(props.assignableScopes, 'assignableScopes', true).map(cleanScope);
      if (assignableScopes.length === 0)
        throw arm.badRequest('InvalidRoleDefinition', "The role definition property 'assignableScopes' is required.");
      for (const a of assignableScopes) {
        parseScope(a, req);
        // Defining a role for a scope needs the right at that scope, not only where the PUT was sent.
        const decision = emu.check(req.caller!.objectId, a, { action: `${ROLE_DEFINITION_TYPE}/write` });
        if (!decision.allowed)
          throw arm.forbidden(req.caller!.clientId, req.caller!.objectId, `${ROLE_DEFINITION_TYPE}/write`, a);
      }
      if (
        [...BUILT_IN_ROLES, ...customRoles(emu)].some(
          (r) => r.name !== guid && r.roleName.toLowerCase() === roleName.toLowerCase(),
        )
      )
        throw arm.conflict(
          'RoleDefinitionWithSameNameExists',
          'A custom role with the same name already exists in this directory. Use a different name.',
        );
      const id = roleDefinitionId(emu.subscriptionId, guid);
      const existing = emu.store.getResource<RoleDefinitionResource>(id);
      const now = emu.nowIso();
      const caller = req.caller!.objectId;
      const res: RoleDefinitionResource = {
        id,
        name: guid,
        type: ROLE_DEFINITION_TYPE,
        properties: {
          roleName,
          description,
          type: 'CustomRole',
          assignableScopes,
          permissions,
          createdOn: (existing?.properties as StoredDefinition | undefined)?.createdOn ?? now,
          updatedOn: now,
          createdBy: (existing?.properties as StoredDefinition | undefined)?.createdBy ?? caller,
          updatedBy: caller,
        } as RoleDefinitionResource['properties'],
      };
      emu.store.putResource(res);
      // The SDK accepts only 201 here, for creates and updates alike.
      return { status: 201, body: presentDefinition(emu, { ...res.properties, name: guid }, false) };
    },
  });

  // Emulator-only: every access decision made for a principal's requests (RBAC actions and data actions, Key Vault
  // access-policy permissions), so tests can compare what a principal used with what it was granted.
  emu.adminRoute({
    op: 'admin.access.list',
    method: 'GET',
    path: '/access',
    handler: (req) => {
      const principalId = req.q('principalId');
      if (principalId !== undefined && !GUID_RX.test(principalId))
        throw new EmulatorError(400, {
          error: { code: 'BadRequest', message: 'principalId must be an object id (GUID)' },
        });
      return { status: 200, body: { value: emu.accessRecords(principalId) } };
    },
  });
  emu.adminRoute({
    op: 'admin.access.reset',
    method: 'DELETE',
    path: '/access',
    handler: () => {
      emu.resetAccessLog();
      return { status: 204 };
    },
  });

  emu.armRoute({
    op: 'roleDefinitions.delete',
    method: 'DELETE',
    path: `${rdPath}/{roleDefinitionId}`,
    apiVersions: AUTHORIZATION_API_VERSIONS,
    action: checkedDefinition(`${ROLE_DEFINITION_TYPE}/delete`),
    handler: (req) => {
      const guid = req.params.roleDefinitionId!.toLowerCase();
      if (BUILT_IN_ROLES.some((r) => r.name === guid))
        throw arm.badRequest('RoleDefinitionUpdateNotPermitted', 'Built-in role definitions cannot be deleted.');
      const id = roleDefinitionId(emu.subscriptionId, guid);
      const existing = emu.store.getResource<RoleDefinitionResource>(id);
      if (!existing || existing.type !== ROLE_DEFINITION_TYPE) return { status: 204 };
      if (assignments().some((ra) => roleDefinitionGuid(ra.properties.roleDefinitionId) === guid))
        throw arm.conflict(
          'RoleDefinitionHasAssignments',
          'There are existing role assignments referencing role (code: RoleDefinitionHasAssignments).',
        );
      emu.store.deleteResource(id);
      return { status: 200, body: presentDefinition(emu, { ...existing.properties, name: guid }, false) };
    },
  });
}
