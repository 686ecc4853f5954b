// The emulator's own RBAC evaluator. Deliberately independent of src/domain: it is the oracle the product's
// evaluator is tested against, so a shared bug would be invisible.
import type { Store, ArmResource } from './state.js';
import { BUILT_IN_ROLES, type Permission, type RoleDefinitionData } from './roles.js';

export interface RoleAssignmentResource extends ArmResource {
  properties: {
    roleDefinitionId: string;
    principalId: string;
    principalType?: string;
    scope: string;
    condition?: string | null;
    conditionVersion?: string | null;
    description?: string | null;
    createdOn?: string;
    updatedOn?: string;
    createdBy?: string | null;
    updatedBy?: string | null;
  };
}

export interface RoleDefinitionResource extends ArmResource {
  properties: Omit<RoleDefinitionData, 'name'>;
}

export type Need = { action: string } | { dataAction: string };

export interface Decision {
  allowed: boolean;
  assignmentId?: string;
  roleName?: string;
}

const norm = (s: string) => s.toLowerCase().replace(/\/+$/, '');
const ROLE_DEF_GUID = /\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-f-]{36})$/i;

/** `scope` applies to `target` when it is the target itself or one of its ancestors (segment-wise). */
export function scopeCovers(scope: string, target: string): boolean {
  const s = norm(scope);
  const t = norm(target);
  return s === '' || s === t || t.startsWith(s + '/');
}

function wildcardMatches(pattern: string, op: string): boolean {
  const rx = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
    'i',
  );
  return rx.test(op);
}

function permits(perm: Permission, need: Need): boolean {
  if ('action' in need) {
    return (
      perm.actions.some((a) => wildcardMatches(a, need.action)) &&
      !perm.notActions.some((a) => wildcardMatches(a, need.action))
    );
  }
  return (
    perm.dataActions.some((a) => wildcardMatches(a, need.dataAction)) &&
    !perm.notDataActions.some((a) => wildcardMatches(a, need.dataAction))
  );
}

export function roleDefinitionGuid(roleDefinitionId: string): string | undefined {
  return ROLE_DEF_GUID.exec(roleDefinitionId)?.[1]?.toLowerCase();
}

export function findRoleDefinition(store: Store, roleDefinitionId: string): RoleDefinitionData | undefined {
  const guid = roleDefinitionGuid(roleDefinitionId);
  if (!guid) return undefined;
  const builtIn = BUILT_IN_ROLES.find((r) => r.name === guid);
  if (builtIn) return builtIn;
  const custom = store
    .listResources<RoleDefinitionResource>('Microsoft.Authorization/roleDefinitions')
    .find((r) => r.name.toLowerCase() === guid);
  return custom ? { name: custom.name, ...custom.properties } : undefined;
}

export function authorize(
  store: Store,
  principalId: string,
  target: string,
  need: Need,
  attributes: Record<string, string> = {},
): Decision {
  const pid = principalId.toLowerCase();
  for (const ra of store.listResources<RoleAssignmentResource>('Microsoft.Authorization/roleAssignments')) {
    if (ra.properties.principalId.toLowerCase() !== pid) continue;
    if (!scopeCovers(ra.properties.scope, target)) continue;
    const def = findRoleDefinition(store, ra.properties.roleDefinitionId);
    if (!def || !def.permissions.some((perm) => permits(perm, need))) continue;
    if (ra.properties.condition) {
      const op = 'action' in need ? need.action : need.dataAction;
      if (!evaluateCondition(ra.properties.condition, op, attributes)) continue;
    }
    return { allowed: true, assignmentId: ra.id, roleName: def.roleName };
  }
  return { allowed: false };
}

// ABAC conditions (version 2.0), the subset role assignments on registries and vaults use ------------------------
type Tok =
  | { t: 'lp' | 'rp' | 'not' | 'and' | 'or' }
  | { t: 'fn'; name: string; arg: string }
  | { t: 'cmp'; attr: string; op: string; values: string[] };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const re = {
    ws: /\s+/y,
    fn: /(ActionMatches|SubOperationMatches)\s*\{\s*'([^']*)'\s*\}/y,
    cmp: /@(Request|Resource|Principal|Environment)\[([^\]]+)\]\s+([A-Za-z]+)\s+'([^']*)'/y,
    // Set form (role-assignment delegation conditions): `ForAnyOfAnyValues:GuidEquals {a, b}`, `{'x'}`.
    set: /@(Request|Resource|Principal|Environment)\[([^\]]+)\]\s+ForAnyOfAnyValues:([A-Za-z]+)\s*\{([^}]*)\}/y,
    // Azure spells the logical operators either way: AND/&&, OR/||, NOT/!.
    word: /(?:AND|OR|NOT)(?![A-Za-z])|&&|\|\|/iy,
  };
  while (i < src.length) {
    const ch = src[i];
    re.ws.lastIndex = i;
    if (re.ws.test(src)) {
      i = re.ws.lastIndex;
      continue;
    }
    const single = ch === '(' ? 'lp' : ch === ')' ? 'rp' : ch === '!' ? 'not' : undefined;
    if (single) {
      out.push({ t: single });
      i++;
    } else {
      re.fn.lastIndex = i;
      const fm = re.fn.exec(src);
      if (fm) {
        out.push({ t: 'fn', name: fm[1]!, arg: fm[2]! });
        i = re.fn.lastIndex;
        continue;
      }
      re.cmp.lastIndex = i;
      const cm = re.cmp.exec(src);
      if (cm) {
        out.push({ t: 'cmp', attr: `${cm[1]}:${cm[2]}`, op: cm[3]!, values: [cm[4]!] });
        i = re.cmp.lastIndex;
        continue;
      }
      re.set.lastIndex = i;
      const sm = re.set.exec(src);
      if (sm) {
        const values = sm[4]!.split(',').map((v) => v.trim().replace(/^'(.*)'$/, '$1'));
        out.push({ t: 'cmp', attr: `${sm[1]}:${sm[2]}`, op: sm[3]!, values });
        i = re.set.lastIndex;
        continue;
      }
      re.word.lastIndex = i;
      const wm = re.word.exec(src);
      if (wm) {
        const w = wm[0].toUpperCase();
        out.push({ t: w === 'AND' || w === '&&' ? 'and' : w === 'NOT' ? 'not' : 'or' });
        i = re.word.lastIndex;
        continue;
      }
      throw new Error(`unparseable condition near '${src.slice(i, i + 20)}'`);
    }
  }
  return out;
}

function compare(op: string, actual: string | undefined, expected: string): boolean {
  if (actual === undefined) return false;
  switch (op.toLowerCase()) {
    case 'stringequals':
      return actual === expected;
    case 'stringequalsignorecase':
    case 'guidequals':
      return actual.toLowerCase() === expected.toLowerCase();
    case 'stringnotequals':
      return actual !== expected;
    case 'stringnotequalsignorecase':
      return actual.toLowerCase() !== expected.toLowerCase();
    case 'stringstartswith':
      return actual.startsWith(expected);
    case 'stringstartswithignorecase':
      return actual.toLowerCase().startsWith(expected.toLowerCase());
    case 'stringlike':
      // Case-sensitive, with `*` (any run) and `?` (one character), unlike operation wildcards.
      return new RegExp(
        '^' +
          expected
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.') +
          '$',
      ).test(actual);
    default:
      throw new Error(`unsupported condition operator '${op}'`);
  }
}

/** True when the condition allows `operation` with these request attributes; unparseable conditions deny. */
export function evaluateCondition(condition: string, operation: string, attributes: Record<string, string>): boolean {
  let toks: Tok[];
  try {
    toks = tokenize(condition);
  } catch {
    return false;
  }
  let pos = 0;
  const attr = (name: string) => {
    const k = Object.keys(attributes).find((a) => a.toLowerCase() === name.toLowerCase());
    return k === undefined ? undefined : attributes[k];
  };
  const expr = (): boolean => {
    let v = term();
    while (toks[pos]?.t === 'or') {
      pos++;
      const r = term();
      v = v || r;
    }
    return v;
  };
  const term = (): boolean => {
    let v = factor();
    while (toks[pos]?.t === 'and') {
      pos++;
      const r = factor();
      v = v && r;
    }
    return v;
  };
  const factor = (): boolean => {
    const tok = toks[pos++];
    if (!tok) throw new Error('unexpected end of condition');
    if (tok.t === 'not') return !factor();
    if (tok.t === 'lp') {
      const v = expr();
      if (toks[pos++]?.t !== 'rp') throw new Error('missing )');
      return v;
    }
    if (tok.t === 'fn') return wildcardMatches(tok.arg, operation);
    if (tok.t === 'cmp') return tok.values.some((v) => compare(tok.op, attr(tok.attr), v));
    throw new Error(`unexpected token ${tok.t}`);
  };
  try {
    const v = expr();
    return pos === toks.length && v;
  } catch {
    return false;
  }
}
