// Reads compiled ARM JSON (from the real Bicep compiler, scripts/bicep.ts) the way Resource Manager would: evaluates
// template expressions for given parameter values, expands copy loops and conditions, deploys nested deployments
// (modules) into their scopes, and lists every resource that would be created, with its scope. Values that exist only
// once Azure has created something (a principal id, an endpoint) come back as placeholders `<symbol.path>`.
// It implements the template functions these templates use; any other function is an error, never a guess.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildBicep, dotnetAvailable, ROOT } from '../../scripts/bicep.js';

type Json = unknown;
type Obj = Record<string, Json>;

export interface Scope {
  subscriptionId: string;
  resourceGroup: string;
}

export interface DeployedResource {
  /** Symbolic path, e.g. `functionApp/site` or `managedRegistryRoles[0]/assignments[1]`. */
  symbol: string;
  type: string;
  name: string;
  /** Full resource id. */
  id: string;
  /** Extension scope (role assignments), as a full id. */
  scope?: string;
  properties: Obj;
  body: Obj;
}

export interface Deployment {
  resources: DeployedResource[];
  outputs: Record<string, Json>;
  /** Evaluated parameters of every nested deployment, by symbolic path. */
  modules: Record<string, Obj>;
}

export interface CloudEnvironment {
  name: string;
  resourceManager: string;
  suffixes: Record<string, string>;
  authentication: Record<string, Json>;
}

export const PUBLIC_CLOUD: CloudEnvironment = {
  name: 'AzureCloud',
  resourceManager: 'https://management.azure.com/',
  suffixes: { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net', acrLoginServer: '.azurecr.io' },
  authentication: {
    loginEndpoint: 'https://login.microsoftonline.com/',
    audiences: ['https://management.core.windows.net/'],
  },
};

export const US_GOVERNMENT_CLOUD: CloudEnvironment = {
  name: 'AzureUSGovernment',
  resourceManager: 'https://management.usgovcloudapi.net/',
  suffixes: {
    storage: 'core.usgovcloudapi.net',
    keyvaultDns: '.vault.usgovcloudapi.net',
    acrLoginServer: '.azurecr.us',
  },
  authentication: {
    loginEndpoint: 'https://login.microsoftonline.us/',
    audiences: ['https://management.core.usgovcloudapi.net/'],
  },
};

export interface DeployOptions {
  scope?: Scope;
  tenantId?: string;
  environment?: CloudEnvironment;
  location?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Compiling (cached per source tree state under .local/infra)
// ---------------------------------------------------------------------------------------------------------------

function newestBicepMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestBicepMtime(path));
    else if (/\.(bicep|json)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Compiles infra/<name>.bicep with the real compiler (once per change of infra/ across test files). */
export function compiled(name: 'main' | 'events'): Obj {
  const out = join(ROOT, '.local', 'infra', `${name}.json`);
  if (!existsSync(out) || statSync(out).mtimeMs < newestBicepMtime(join(ROOT, 'infra'))) {
    const template = buildBicep(join(ROOT, 'infra', `${name}.bicep`));
    mkdirSync(join(ROOT, '.local', 'infra'), { recursive: true });
    writeFileSync(out, JSON.stringify(template));
  }
  return JSON.parse(readFileSync(out, 'utf8')) as Obj;
}

/** Whether the Bicep tests can run; under CI they must (the caller fails instead of skipping). */
export const bicepAvailable = dotnetAvailable();
export const mustRunBicep = process.env.CI === 'true' || process.env.CASCADE_REQUIRE_BICEP === '1';

// ---------------------------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------------------------

/** A value Azure knows only after creating something: property accesses extend its path. */
export class Pending {
  constructor(readonly path: string) {}
  toString() {
    return `<${this.path}>`;
  }
  toJSON() {
    return this.toString();
  }
}

type Tok = { k: 'id' | 'str' | 'num' | 'p'; v: string };

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new Error(`unterminated string in ${src}`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i++];
      }
      toks.push({ k: 'str', v: s });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      toks.push({ k: 'num', v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i))!;
      // A dotted run after an identifier is property access, except inside a function name (none have dots).
      const [first, ...rest] = m[0].split('.');
      toks.push({ k: 'id', v: first! });
      for (const r of rest) toks.push({ k: 'p', v: '.' }, { k: 'id', v: r });
      i += m[0].length;
    } else {
      toks.push({ k: 'p', v: c });
      i++;
    }
  }
  return toks;
}

type Node =
  | { t: 'lit'; v: Json }
  | { t: 'call'; name: string; args: Node[] }
  | { t: 'prop'; of: Node; key: string }
  | { t: 'index'; of: Node; key: Node };

function parse(src: string): Node {
  const toks = tokenize(src);
  let p = 0;
  // Punctuation only: a string literal ')' is not the end of an argument list.
  const punct = (v: string) => toks[p]?.k === 'p' && toks[p]?.v === v;
  const take = (v?: string) => {
    const t = toks[p++];
    if (!t || (v !== undefined && t.v !== v)) throw new Error(`expected ${v ?? 'token'} at ${p} in ${src}`);
    return t;
  };
  const expr = (): Node => {
    const t = take();
    let node: Node;
    if (t.k === 'str') node = { t: 'lit', v: t.v };
    else if (t.k === 'num') node = { t: 'lit', v: Number(t.v) };
    else if (t.k === 'id') {
      take('(');
      const args: Node[] = [];
      while (p < toks.length && !punct(')')) {
        args.push(expr());
        if (punct(',')) take(',');
      }
      take(')');
      node = { t: 'call', name: t.v, args };
    } else throw new Error(`unexpected '${t.v}' in ${src}`);
    for (;;) {
      if (punct('.') && toks[p + 1]?.k === 'id') {
        take('.');
        node = { t: 'prop', of: node, key: take().v };
      } else if (punct('[')) {
        take('[');
        const key = expr();
        take(']');
        node = { t: 'index', of: node, key };
      } else return node;
    }
  };
  const node = expr();
  if (p !== toks.length) throw new Error(`trailing tokens in ${src}`);
  return node;
}

class Lambda {
  constructor(
    readonly names: string[],
    readonly body: Node,
    readonly ctx: Ctx,
  ) {}
  call(...args: Json[]): Json {
    const vars = { ...this.ctx.lambdaVars };
    this.names.forEach((n, i) => (vars[n] = args[i]));
    return evalNode(this.body, { ...this.ctx, lambdaVars: vars });
  }
}

interface Ctx {
  template: Obj;
  params: Obj;
  varCache: Map<string, Json>;
  lambdaVars: Record<string, Json>;
  copy: Record<string, number>;
  scope: Scope;
  options: Required<DeployOptions>;
  deployment: DeploymentRun;
}

const hash = (...parts: unknown[]) =>
  createHash('sha256')
    .update(parts.map((p) => String(p)).join('|'))
    .digest('hex');

function guid(...parts: unknown[]): string {
  const h = hash('guid', ...parts);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function str(v: Json): string {
  if (v instanceof Pending) return v.toString();
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function resourceIdOf(scope: Scope, args: Json[]): string {
  const i = args.findIndex((a) => typeof a === 'string' && a.includes('/') && /^[A-Za-z]+\.[A-Za-z]+\//.test(a));
  if (i < 0) throw new Error(`resourceId without a type: ${JSON.stringify(args)}`);
  const sub = i >= 2 ? str(args[0]) : scope.subscriptionId;
  const rg = i >= 2 ? str(args[1]) : i === 1 ? str(args[0]) : scope.resourceGroup;
  const [ns, ...types] = str(args[i]).split('/');
  const names = args.slice(i + 1).map(str);
  const segments = types.flatMap((t, n) => [t, names[n]]);
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${ns}/${segments.join('/')}`;
}

function evalNode(node: Node, ctx: Ctx): Json {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'prop': {
      const of = evalNode(node.of, ctx);
      if (of instanceof Pending) return new Pending(`${of.path}.${node.key}`);
      if (of === null || typeof of !== 'object') throw new Error(`.${node.key} of ${str(of)}`);
      const key = Object.keys(of).find((k) => k.toLowerCase() === node.key.toLowerCase());
      if (key === undefined) throw new Error(`no property '${node.key}' in ${JSON.stringify(of).slice(0, 200)}`);
      return (of as Obj)[key];
    }
    case 'index': {
      const of = evalNode(node.of, ctx);
      const key = evalNode(node.key, ctx);
      if (of instanceof Pending) return new Pending(`${of.path}[${str(key)}]`);
      if (Array.isArray(of)) {
        if (typeof key !== 'number' || key >= of.length) throw new Error(`index ${str(key)} out of range`);
        return of[key];
      }
      if (of && typeof of === 'object') {
        const k = Object.keys(of).find((x) => x.toLowerCase() === str(key).toLowerCase());
        if (k === undefined) throw new Error(`no property '${str(key)}'`);
        return (of as Obj)[k];
      }
      throw new Error(`index into ${str(of)}`);
    }
    case 'call':
      return call(node, ctx);
  }
}

function call(node: Extract<Node, { t: 'call' }>, ctx: Ctx): Json {
  const name = node.name.toLowerCase();
  // Lazy forms first (branches, lambdas).
  if (name === 'if') {
    const c = evalNode(node.args[0]!, ctx);
    return evalNode(node.args[c ? 1 : 2]!, ctx);
  }
  if (name === 'lambda') {
    const names = node.args.slice(0, -1).map((a) => str(evalNode(a, ctx)));
    return new Lambda(names, node.args[node.args.length - 1]!, ctx);
  }
  const a = node.args.map((x) => evalNode(x, ctx));
  const arr = (v: Json) => v as Json[];
  const fn = (v: Json) => v as Lambda;
  switch (name) {
    case 'parameters': {
      const key = str(a[0]);
      if (!(key in ctx.params)) throw new Error(`parameter '${key}' has no value`);
      return ctx.params[key];
    }
    case 'variables':
      return variable(str(a[0]), ctx);
    case 'lambdavariables': {
      const key = str(a[0]);
      if (!(key in ctx.lambdaVars)) throw new Error(`lambda variable '${key}' unknown`);
      return ctx.lambdaVars[key];
    }
    case 'copyindex': {
      const loop = typeof a[0] === 'string' ? a[0] : '';
      const offset = typeof a[0] === 'number' ? a[0] : typeof a[1] === 'number' ? a[1] : 0;
      if (!(loop in ctx.copy)) throw new Error(`copyIndex('${loop}') outside its loop`);
      return ctx.copy[loop]! + offset;
    }
    case 'true':
      return true;
    case 'false':
      return false;
    case 'null':
      return null;
    case 'createobject': {
      const o: Obj = {};
      for (let i = 0; i < a.length; i += 2) o[str(a[i])] = a[i + 1];
      return o;
    }
    case 'createarray':
      return a;
    case 'equals':
      return JSON.stringify(a[0]) === JSON.stringify(a[1]) || String(a[0]) === String(a[1]);
    case 'not':
      return !a[0];
    case 'and':
      return a.every(Boolean);
    case 'or':
      return a.some(Boolean);
    case 'less':
      return (a[0] as number) < (a[1] as number);
    case 'greater':
      return (a[0] as number) > (a[1] as number);
    case 'empty':
      return (
        a[0] === null ||
        a[0] === '' ||
        (Array.isArray(a[0]) && a[0].length === 0) ||
        (typeof a[0] === 'object' && !(a[0] instanceof Pending) && Object.keys(a[0] as Obj).length === 0)
      );
    case 'contains': {
      const [c, v] = a;
      if (typeof c === 'string') return c.toLowerCase().includes(str(v).toLowerCase());
      if (Array.isArray(c)) return c.some((x) => JSON.stringify(x) === JSON.stringify(v));
      return Object.keys(c as Obj).some((k) => k.toLowerCase() === str(v).toLowerCase());
    }
    case 'length':
      return Array.isArray(a[0]) || typeof a[0] === 'string' ? a[0].length : Object.keys(a[0] as Obj).length;
    case 'first':
      return Array.isArray(a[0]) ? (a[0][0] ?? null) : str(a[0]).slice(0, 1);
    case 'last':
      return Array.isArray(a[0]) ? (a[0][a[0].length - 1] ?? null) : str(a[0]).slice(-1);
    case 'take':
      return Array.isArray(a[0]) ? a[0].slice(0, a[1] as number) : str(a[0]).slice(0, a[1] as number);
    case 'skip':
      return Array.isArray(a[0]) ? a[0].slice(a[1] as number) : str(a[0]).slice(a[1] as number);
    case 'concat':
      return a.every(Array.isArray) ? a.flatMap((x) => x as Json[]) : a.map(str).join('');
    case 'union':
      if (a.every(Array.isArray)) {
        const out: Json[] = [];
        for (const x of a.flatMap((y) => y as Json[]))
          if (!out.some((o) => JSON.stringify(o) === JSON.stringify(x))) out.push(x);
        return out;
      }
      return Object.assign({}, ...a.map((x) => x as Obj));
    case 'filter':
      return arr(a[0]).filter((x) => Boolean(fn(a[1]).call(x)));
    case 'map':
      return arr(a[0]).map((x, i) => fn(a[1]).call(x, i));
    case 'toobject': {
      const o: Obj = {};
      for (const x of arr(a[0])) o[str(fn(a[1]).call(x))] = a[2] ? fn(a[2]).call(x) : x;
      return o;
    }
    case 'objectkeys':
      return Object.keys(a[0] as Obj);
    case 'items':
      return Object.keys(a[0] as Obj)
        .sort()
        .map((key) => ({ key, value: (a[0] as Obj)[key] }));
    case 'join':
      return arr(a[0]).map(str).join(str(a[1]));
    case 'split':
      return str(a[0]).split(str(a[1]));
    case 'string':
      return str(a[0]);
    case 'int':
      return Number(a[0]);
    case 'bool':
      return a[0] === true || str(a[0]).toLowerCase() === 'true';
    case 'tolower':
      return str(a[0]).toLowerCase();
    case 'toupper':
      return str(a[0]).toUpperCase();
    case 'replace':
      return str(a[0]).split(str(a[1])).join(str(a[2]));
    case 'startswith':
      return str(a[0]).toLowerCase().startsWith(str(a[1]).toLowerCase());
    case 'endswith':
      return str(a[0]).toLowerCase().endsWith(str(a[1]).toLowerCase());
    case 'format':
      return str(a[0]).replace(/\{(\d+)\}/g, (_m, i: string) => str(a[Number(i) + 1]));
    case 'uniquestring':
      return hash('uniqueString', ...a.map(str)).slice(0, 13);
    case 'guid':
      return guid(...a.map(str));
    case 'tryget': {
      let v: Json = a[0];
      for (const key of a.slice(1)) {
        if (v === null || typeof v !== 'object') return null;
        const k = Object.keys(v).find((x) => x.toLowerCase() === str(key).toLowerCase());
        if (k === undefined) return null;
        v = (v as Obj)[k];
      }
      return v;
    }
    case 'coalesce':
      return a.find((x) => x !== null && x !== undefined) ?? null;
    case 'subscription':
      return {
        id: `/subscriptions/${ctx.scope.subscriptionId}`,
        subscriptionId: ctx.scope.subscriptionId,
        tenantId: ctx.options.tenantId,
      };
    case 'resourcegroup':
      return {
        id: `/subscriptions/${ctx.scope.subscriptionId}/resourceGroups/${ctx.scope.resourceGroup}`,
        name: ctx.scope.resourceGroup,
        location: ctx.options.location,
      };
    case 'tenant':
      return { tenantId: ctx.options.tenantId };
    case 'environment':
      return ctx.options.environment as unknown as Json;
    case 'deployment':
      return { name: 'test-deployment' };
    case 'resourceid':
      return resourceIdOf(ctx.scope, a);
    case 'subscriptionresourceid': {
      const i = a.findIndex((x) => str(x).includes('/'));
      const sub = i >= 1 ? str(a[0]) : ctx.scope.subscriptionId;
      const [ns, ...types] = str(a[i]).split('/');
      const names = a.slice(i + 1).map(str);
      return `/subscriptions/${sub}/providers/${ns}/${types.flatMap((t, n) => [t, names[n]]).join('/')}`;
    }
    case 'extensionresourceid': {
      const [ns, ...types] = str(a[1]).split('/');
      const names = a.slice(2).map(str);
      return `${str(a[0])}/providers/${ns}/${types.flatMap((t, n) => [t, names[n]]).join('/')}`;
    }
    case 'reference':
      return ctx.deployment.reference(str(a[0]));
    case 'listkeys':
    case 'listsecrets':
      throw new Error(`${node.name}() reads a key: the templates must not`);
    default:
      throw new Error(`template function '${node.name}' is not implemented by test/support/arm.ts`);
  }
}

function evalString(s: string, ctx: Ctx): Json {
  if (s.startsWith('[[')) return s.slice(1);
  if (s.startsWith('[') && s.endsWith(']')) return evalNode(parse(s.slice(1, -1)), ctx);
  return s;
}

/** Evaluates a template value: expressions inside strings, and property copy loops. */
function evalValue(v: Json, ctx: Ctx): Json {
  if (typeof v === 'string') return evalString(v, ctx);
  if (Array.isArray(v)) return v.map((x) => evalValue(x, ctx));
  if (v && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'copy' && Array.isArray(x)) {
        for (const loop of x as Obj[]) out[str(loop.name)] = expandCopy(loop, ctx);
      } else out[k] = evalValue(x, ctx);
    }
    return out;
  }
  return v;
}

function expandCopy(loop: Obj, ctx: Ctx): Json[] {
  const count = evalValue(loop.count, ctx) as number;
  return Array.from({ length: count }, (_x, i) =>
    evalValue(loop.input, { ...ctx, copy: { ...ctx.copy, [str(loop.name)]: i, '': i } }),
  );
}

function variable(key: string, ctx: Ctx): Json {
  if (ctx.varCache.has(key)) return ctx.varCache.get(key);
  const vars = (ctx.template.variables ?? {}) as Obj;
  const loop = Array.isArray(vars.copy) ? (vars.copy as Obj[]).find((l) => l.name === key) : undefined;
  let value: Json;
  if (loop) value = expandCopy(loop, { ...ctx, lambdaVars: {}, copy: {} });
  else if (key in vars) value = evalValue(vars[key], { ...ctx, lambdaVars: {}, copy: {} });
  else throw new Error(`variable '${key}' is not declared`);
  ctx.varCache.set(key, value);
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Deployments
// ---------------------------------------------------------------------------------------------------------------

interface Entry {
  symbol: string;
  body: Obj;
}

class DeploymentRun {
  readonly resources: DeployedResource[] = [];
  readonly modules: Record<string, Obj> = {};
  private readonly done = new Map<string, Json>();
  private readonly ctx: Ctx;
  private readonly entries: Entry[];

  constructor(
    template: Obj,
    params: Obj,
    scope: Scope,
    options: Required<DeployOptions>,
    private readonly path: string,
    private readonly collect: DeployedResource[],
    private readonly collectModules: Record<string, Obj>,
  ) {
    const defaults: Obj = {};
    this.ctx = {
      template,
      params: defaults,
      varCache: new Map(),
      lambdaVars: {},
      copy: {},
      scope,
      options,
      deployment: this,
    };
    // Parameter defaults may refer to other parameters: fill given values first, then defaults in order.
    for (const [k, v] of Object.entries(params)) defaults[k] = v;
    for (const [k, def] of Object.entries((template.parameters ?? {}) as Record<string, Obj>)) {
      if (k in defaults) continue;
      if (!('defaultValue' in def)) throw new Error(`${path || 'template'}: parameter '${k}' needs a value`);
      defaults[k] = evalValue(def.defaultValue, this.ctx);
    }
    const raw = template.resources ?? [];
    this.entries = Array.isArray(raw)
      ? (raw as Obj[]).map((body, i) => ({ symbol: str((body.copy as Obj | undefined)?.name ?? `#${i}`), body }))
      : Object.entries(raw as Record<string, Obj>).map(([symbol, body]) => ({ symbol, body }));
  }

  run(): Record<string, Json> {
    for (const e of this.entries) this.instantiate(e);
    const outputs: Record<string, Json> = {};
    for (const [k, o] of Object.entries((this.ctx.template.outputs ?? {}) as Record<string, Obj>)) {
      outputs[k] = { value: evalValue(o.value, this.ctx) };
    }
    return outputs;
  }

  /** `reference('symbol')`, `reference('symbol[i]')`: a module's outputs, else what Azure fills in. */
  reference(target: string): Json {
    const m = /^([A-Za-z_][\w]*)(?:\[(\d+)\])?$/.exec(target);
    const entry = m ? this.entries.find((e) => e.symbol === m[1]) : undefined;
    if (!entry) return new Pending(target);
    const instances = this.instantiate(entry);
    const one = (m?.[2] !== undefined ? instances[Number(m[2])] : instances[0]) as Json;
    return one ?? new Pending(target);
  }

  private instantiate(e: Entry): Json[] {
    if (this.done.has(e.symbol)) return this.done.get(e.symbol) as Json[];
    this.done.set(e.symbol, []);
    const loop = e.body.copy as Obj | undefined;
    const count = loop ? (evalValue(loop.count, this.ctx) as number) : 1;
    const results: Json[] = [];
    for (let i = 0; i < count; i++) {
      const ctx = loop ? { ...this.ctx, copy: { '': i, [str(loop.name)]: i } } : this.ctx;
      const symbol = `${this.path}${e.symbol}${loop ? `[${i}]` : ''}`;
      if ('condition' in e.body && !evalValue(e.body.condition, ctx)) {
        results.push(null);
        continue;
      }
      results.push(this.deployOne(e.body, ctx, symbol));
    }
    this.done.set(e.symbol, results);
    return results;
  }

  private deployOne(body: Obj, ctx: Ctx, symbol: string): Json {
    const type = str(body.type);
    const subscriptionId = body.subscriptionId ? str(evalValue(body.subscriptionId, ctx)) : ctx.scope.subscriptionId;
    // A module placed at a subscription (`scope: subscription()`) names a subscription and no resource group.
    const resourceGroup = body.resourceGroup
      ? str(evalValue(body.resourceGroup, ctx))
      : body.subscriptionId && !body.resourceGroup
        ? ''
        : ctx.scope.resourceGroup;
    const scope = { subscriptionId, resourceGroup };
    if (body.existing) return new Pending(symbol);
    const name = str(evalValue(body.name, ctx));
    if (type === 'Microsoft.Resources/deployments') {
      const props = body.properties as Obj;
      const given: Obj = {};
      for (const [k, v] of Object.entries((props.parameters ?? {}) as Obj)) {
        const wrapped = evalValue(v, ctx) as Obj;
        given[k] = wrapped.value;
      }
      this.collectModules[symbol] = given;
      const child = new DeploymentRun(
        props.template as Obj,
        given,
        scope,
        ctx.options,
        `${symbol}/`,
        this.collect,
        this.collectModules,
      );
      return { outputs: child.run(), name };
    }
    const evaluated = evalValue({ ...body, copy: undefined, condition: undefined }, ctx) as Obj;
    const [ns, ...types] = type.split('/');
    const names = name.split('/');
    const at = resourceGroup
      ? `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`
      : `/subscriptions/${subscriptionId}`;
    const id = `${at}/providers/${ns}/${types.flatMap((t, n) => [t, names[n]]).join('/')}`;
    const resource: DeployedResource = {
      symbol,
      type,
      name,
      id,
      // An extension resource without a scope applies to the deployment's own scope.
      scope:
        evaluated.scope === undefined
          ? type.startsWith('Microsoft.Authorization/')
            ? at
            : undefined
          : str(evaluated.scope),
      properties: (evaluated.properties ?? {}) as Obj,
      body: evaluated,
    };
    this.collect.push(resource);
    return new Pending(symbol);
  }
}

/** Deploys a compiled template into a resource group (what Resource Manager would create, nothing more). */
export function deploy(template: Obj, parameters: Obj, options: DeployOptions = {}): Deployment {
  const full: Required<DeployOptions> = {
    scope: options.scope ?? { subscriptionId: '11111111-1111-1111-1111-111111111111', resourceGroup: 'rg-cascade' },
    tenantId: options.tenantId ?? '22222222-2222-2222-2222-222222222222',
    environment: options.environment ?? PUBLIC_CLOUD,
    location: options.location ?? 'westeurope',
  };
  const resources: DeployedResource[] = [];
  const modules: Record<string, Obj> = {};
  const outputs = new DeploymentRun(template, parameters, full.scope, full, '', resources, modules).run();
  return { resources, outputs, modules };
}

/** A variable of the compiled template as written (shared/roles.bicep's data is imported as literal variables). */
export function templateVariable(template: Obj, name: string): Json {
  const vars = template.variables as Obj;
  if (!(name in vars)) throw new Error(`compiled template has no variable '${name}'`);
  return vars[name];
}
