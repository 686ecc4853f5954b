// ASP.NET Core route templates as the Functions host reads `route`: literal segments (case-insensitive),
// `{name}`, optional `{name?}`, defaults `{name=value}`, catch-all `{*rest}`, and inline constraints
// `{id:int}`, `{id:guid}`, `{name:alpha:minlength(2)}`, `{code:regex(^[a-z]{{3}}$)}`.

export class RouteTemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`route template '${template}': ${reason}`);
    this.name = 'RouteTemplateError';
  }
}

type Constraint = (value: string) => boolean;

interface Param {
  kind: 'param';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue: string | undefined;
  constraints: Constraint[];
}

interface Literal {
  kind: 'literal';
  text: string;
}

type Part = Param | Literal;

export interface CompiledRoute {
  template: string;
  /** Lower sorts first: literal segments win over parameters, constrained over free, catch-all last. */
  precedence: number[];
  /** Matches a decoded-on-demand path like `/products/5` (no route prefix); returns route values or undefined. */
  match(path: string): Record<string, string> | undefined;
}

const INT = /^-?\d+$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const GUID = /^[{(]?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}[)}]?$/i;

function numArgs(template: string, name: string, args: string | undefined, count: number[]): number[] {
  const parts = (args ?? '').split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (args === undefined || !count.includes(parts.length) || nums.some((n) => !Number.isFinite(n))) {
    throw new RouteTemplateError(template, `constraint '${name}' needs ${count.join(' or ')} numeric argument(s)`);
  }
  return nums;
}

function buildConstraint(template: string, name: string, args: string | undefined): Constraint {
  switch (name.toLowerCase()) {
    case 'int':
      return (v) => INT.test(v) && Math.abs(Number(v)) <= 2147483648 && Number(v) <= 2147483647;
    case 'long':
      return (v) => INT.test(v);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'decimal':
    case 'double':
    case 'float':
      return (v) => NUMBER.test(v);
    case 'guid':
      return (v) => GUID.test(v);
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'required':
      return (v) => v !== '';
    case 'minlength': {
      const [n = 0] = numArgs(template, name, args, [1]);
      return (v) => v.length >= n;
    }
    case 'maxlength': {
      const [n = 0] = numArgs(template, name, args, [1]);
      return (v) => v.length <= n;
    }
    case 'length': {
      const nums = numArgs(template, name, args, [1, 2]);
      const [a = 0, b = a] = nums;
      return (v) => v.length >= a && v.length <= b;
    }
    case 'min': {
      const [n = 0] = numArgs(template, name, args, [1]);
      return (v) => INT.test(v) && Number(v) >= n;
    }
    case 'max': {
      const [n = 0] = numArgs(template, name, args, [1]);
      return (v) => INT.test(v) && Number(v) <= n;
    }
    case 'range': {
      const [a = 0, b = 0] = numArgs(template, name, args, [2]);
      return (v) => INT.test(v) && Number(v) >= a && Number(v) <= b;
    }
    case 'regex': {
      if (args === undefined) throw new RouteTemplateError(template, `constraint 'regex' needs a pattern`);
      let re: RegExp;
      try {
        re = new RegExp(args, 'i');
      } catch (err) {
        throw new RouteTemplateError(template, `invalid regex '${args}': ${(err as Error).message}`);
      }
      return (v) => re.test(v);
    }
    default:
      throw new RouteTemplateError(template, `unknown route constraint '${name}'`);
  }
}

/** Parses the inside of `{...}` (escapes already removed). */
function parseParam(template: string, content: string): Param {
  let rest = content;
  let catchAll = false;
  if (rest.startsWith('**')) {
    catchAll = true;
    rest = rest.slice(2);
  } else if (rest.startsWith('*')) {
    catchAll = true;
    rest = rest.slice(1);
  }
  const nameMatch = /^[^:?=]+/.exec(rest);
  if (!nameMatch) throw new RouteTemplateError(template, `parameter '{${content}}' has no name`);
  const name = nameMatch[0];
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new RouteTemplateError(template, `invalid parameter name '${name}'`);
  rest = rest.slice(name.length);
  const constraints: Constraint[] = [];
  while (rest.startsWith(':')) {
    rest = rest.slice(1);
    const cName = /^[A-Za-z]+/.exec(rest)?.[0];
    if (!cName) throw new RouteTemplateError(template, `parameter '${name}' has an empty constraint`);
    rest = rest.slice(cName.length);
    let args: string | undefined;
    if (rest.startsWith('(')) {
      // The argument ends at the first ')' followed by the end, another constraint, a default or a final '?'
      // (ASP.NET's rule), so a regex may contain ')' and ')?' inside.
      let end = -1;
      for (let i = 1; i < rest.length; i++) {
        const next = rest[i + 1];
        const closes = next === undefined || next === ':' || next === '=' || (next === '?' && i + 2 === rest.length);
        if (rest[i] === ')' && closes) {
          end = i;
          break;
        }
      }
      if (end < 0) throw new RouteTemplateError(template, `constraint '${cName}' has an unclosed '('`);
      args = rest.slice(1, end);
      rest = rest.slice(end + 1);
    }
    constraints.push(buildConstraint(template, cName, args));
  }
  let optional = false;
  let defaultValue: string | undefined;
  if (rest === '?') {
    optional = true;
  } else if (rest.startsWith('=')) {
    defaultValue = rest.slice(1);
  } else if (rest !== '') {
    throw new RouteTemplateError(template, `unexpected '${rest}' in parameter '${name}'`);
  }
  if (catchAll && optional) optional = false; // a catch-all is optional by nature
  return { kind: 'param', name, optional, catchAll, defaultValue, constraints };
}

function parseSegment(template: string, segment: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    const next = segment[i + 1];
    if (ch === '{' && next === '{') {
      literal += '{';
      i++;
    } else if (ch === '}' && next === '}') {
      literal += '}';
      i++;
    } else if (ch === '{') {
      let content = '';
      let j = i + 1;
      for (; j < segment.length; j++) {
        const c = segment[j];
        if ((c === '{' || c === '}') && segment[j + 1] === c) {
          content += c;
          j++;
        } else if (c === '}') {
          break;
        } else {
          content += c;
        }
      }
      if (j >= segment.length) throw new RouteTemplateError(template, `unclosed '{' in segment '${segment}'`);
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      parts.push(parseParam(template, content));
      i = j;
    } else if (ch === '}') {
      throw new RouteTemplateError(template, `unmatched '}' in segment '${segment}'`);
    } else {
      literal += ch;
    }
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  return parts;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^[~]?\/+/, '').replace(/\/+$/, '');
  const segments = trimmed === '' ? [] : trimmed.split('/');
  const params: Param[] = [];
  const precedence: number[] = [];
  let pattern = '^';
  segments.forEach((segment, index) => {
    if (segment === '') throw new RouteTemplateError(template, 'empty segment');
    const parts = parseSegment(template, segment);
    const isLast = index === segments.length - 1;
    const only = parts.length === 1 ? parts[0] : undefined;
    for (const p of parts) {
      if (p.kind !== 'param') continue;
      if (params.some((q) => q.name.toLowerCase() === p.name.toLowerCase())) {
        throw new RouteTemplateError(template, `parameter '${p.name}' appears twice`);
      }
      if (p.catchAll && !(isLast && only === p)) {
        throw new RouteTemplateError(template, 'a catch-all parameter must be the whole last segment');
      }
      if ((p.optional || p.defaultValue !== undefined) && !(isLast && only === p)) {
        throw new RouteTemplateError(template, `optional parameter '${p.name}' must be the whole last segment`);
      }
      params.push(p);
    }
    if (only?.kind === 'param') {
      if (only.catchAll) {
        pattern += '(?:/(.*))?';
        precedence.push(5);
      } else if (only.optional || only.defaultValue !== undefined) {
        pattern += '(?:/([^/]+))?';
        precedence.push(4);
      } else {
        pattern += '/([^/]+)';
        precedence.push(only.constraints.length > 0 ? 3 : 4);
      }
    } else {
      pattern += '/';
      for (const p of parts) pattern += p.kind === 'literal' ? escapeRe(p.text) : '([^/]+?)';
      precedence.push(parts.every((p) => p.kind === 'literal') ? 1 : 2);
    }
  });
  pattern += '/?$';
  const re = new RegExp(pattern, 'i');

  return {
    template,
    precedence,
    match(path: string): Record<string, string> | undefined {
      const m = re.exec(path === '' ? '/' : path);
      if (!m) return undefined;
      const values: Record<string, string> = {};
      for (let i = 0; i < params.length; i++) {
        const p = params[i]!;
        const raw = m[i + 1];
        if (raw === undefined || raw === '') {
          if (p.defaultValue !== undefined) values[p.name] = p.defaultValue;
          else if (!p.optional && !p.catchAll) return undefined;
          continue;
        }
        let value: string;
        try {
          value = p.catchAll ? raw.split('/').map(decodeURIComponent).join('/') : decodeURIComponent(raw);
        } catch {
          return undefined;
        }
        if (!p.constraints.every((c) => c(value))) return undefined;
        values[p.name] = value;
      }
      return values;
    },
  };
}

export function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < n; i++) {
    const x = a.precedence[i] ?? 0;
    const y = b.precedence[i] ?? 0;
    if (x !== y) return x - y;
  }
  return a.template.localeCompare(b.template);
}
