// A small Bicep reader for tests: Bicep cannot be compiled here, so this catches the structural mistakes a compile
// would (unbalanced brackets, malformed declarations, unknown symbols or functions, module paths and parameters,
// duplicate names, api versions) and reads the data the templates carry (app settings, the role model).
// It is deliberately a subset: declarations `targetScope param var resource module output import metadata`.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// ------------------------------------------------------------------------------------------------------------------
// Tokens
// ------------------------------------------------------------------------------------------------------------------

export type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'newline';

export interface Token {
  kind: TokenKind;
  /** Identifier, punctuation or number text; for strings the unescaped value (raw text if interpolated). */
  value: string;
  line: number;
  start: number;
  end: number;
  /** Strings only: token lists of each `${...}` interpolation. */
  interpolations?: Token[][];
}

export interface BicepProblem {
  file: string;
  line: number;
  message: string;
}

const PUNCT2 = ['=>', '==', '!=', '<=', '>=', '&&', '||', '??', '::', '.?', '=~', '!~'];
const PUNCT1 = '{}[](),:.?!=<>+-*/%@|&';

function tokenize(text: string, file: string, problems: BicepProblem[], base = 0, baseLine = 1, end = text.length) {
  const tokens: Token[] = [];
  let i = base;
  let line = baseLine;
  const problem = (message: string, at = line) => problems.push({ file, line: at, message });
  while (i < end) {
    const c = text[i] as string;
    if (c === '\n') {
      tokens.push({ kind: 'newline', value: '\n', line, start: i, end: i + 1 });
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (text.startsWith('//', i)) {
      while (i < end && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const close = text.indexOf('*/', i + 2);
      if (close < 0 || close >= end) {
        problem('unterminated block comment');
        return tokens;
      }
      const body = text.slice(i, close);
      const newlines = body.split('\n').length - 1;
      if (newlines > 0) tokens.push({ kind: 'newline', value: '\n', line, start: i, end: close + 2 });
      line += newlines;
      i = close + 2;
    } else if (text.startsWith("'''", i)) {
      const close = text.indexOf("'''", i + 3);
      if (close < 0 || close >= end) {
        problem('unterminated multi-line string');
        return tokens;
      }
      let value = text.slice(i + 3, close);
      if (value.startsWith('\r\n')) value = value.slice(2);
      else if (value.startsWith('\n')) value = value.slice(1);
      tokens.push({ kind: 'string', value, line, start: i, end: close + 3 });
      line += text.slice(i, close).split('\n').length - 1;
      i = close + 3;
    } else if (c === "'") {
      const startLine = line;
      const start = i;
      let value = '';
      const interpolations: Token[][] = [];
      i++;
      let closed = false;
      while (i < end) {
        const d = text[i] as string;
        if (d === '\n') break;
        if (d === "'") {
          closed = true;
          i++;
          break;
        }
        if (d === '\\') {
          const e = text[i + 1];
          const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };
          if (e !== undefined && e in map) {
            value += map[e];
            i += 2;
            continue;
          }
          if (e === 'u' && text[i + 2] === '{') {
            const close = text.indexOf('}', i + 3);
            value += String.fromCodePoint(parseInt(text.slice(i + 3, close), 16));
            i = close + 1;
            continue;
          }
          problem(`invalid escape sequence '\\${e ?? ''}' in string`);
          i += 2;
          continue;
        }
        if (d === '$' && text[i + 1] === '{') {
          // Find the matching '}' (strings inside the interpolation may contain braces).
          let depth = 1;
          let j = i + 2;
          while (j < end && depth > 0) {
            const f = text[j] as string;
            if (f === '\n') break;
            if (f === "'") {
              j++;
              while (j < end && text[j] !== "'" && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
            } else if (f === '{') depth++;
            else if (f === '}') depth--;
            j++;
          }
          if (depth !== 0) {
            problem('unterminated interpolation in string', startLine);
            break;
          }
          interpolations.push(tokenize(text, file, problems, i + 2, line, j - 1));
          value += text.slice(i, j);
          i = j;
          continue;
        }
        value += d;
        i++;
      }
      if (!closed) {
        problem('unterminated string', startLine);
        return tokens;
      }
      const token: Token = { kind: 'string', value, line: startLine, start, end: i };
      if (interpolations.length > 0) token.interpolations = interpolations;
      tokens.push(token);
    } else if (/[0-9]/.test(c)) {
      const start = i;
      while (i < end && /[0-9]/.test(text[i] as string)) i++;
      tokens.push({ kind: 'number', value: text.slice(start, i), line, start, end: i });
    } else if (/[A-Za-z_]/.test(c)) {
      const start = i;
      while (i < end && /[A-Za-z0-9_]/.test(text[i] as string)) i++;
      tokens.push({ kind: 'ident', value: text.slice(start, i), line, start, end: i });
    } else {
      const two = text.slice(i, i + 2);
      if (PUNCT2.includes(two)) {
        tokens.push({ kind: 'punct', value: two, line, start: i, end: i + 2 });
        i += 2;
      } else if (PUNCT1.includes(c)) {
        tokens.push({ kind: 'punct', value: c, line, start: i, end: i + 1 });
        i++;
      } else {
        problem(`unexpected character '${c}'`);
        i++;
      }
    }
  }
  return tokens;
}

const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Brackets, braces and parentheses balance (outside strings and comments, and inside each interpolation). */
function checkBalance(tokens: Token[], file: string, problems: BicepProblem[]): boolean {
  const before = problems.length;
  const stack: Token[] = [];
  for (const t of tokens) {
    if (t.kind === 'string') {
      for (const inner of t.interpolations ?? []) checkBalance(inner, file, problems);
      continue;
    }
    if (t.kind !== 'punct') continue;
    if (t.value in OPENERS) stack.push(t);
    else if (t.value === ')' || t.value === ']' || t.value === '}') {
      const open = stack.pop();
      if (!open) problems.push({ file, line: t.line, message: `unbalanced '${t.value}' (nothing to close)` });
      else if (OPENERS[open.value] !== t.value) {
        problems.push({
          file,
          line: t.line,
          message: `unbalanced '${t.value}': expected '${OPENERS[open.value]}' to close '${open.value}' opened at line ${open.line}`,
        });
      }
    }
  }
  for (const open of stack) {
    problems.push({ file, line: open.line, message: `unbalanced '${open.value}' opened here is never closed` });
  }
  return problems.length === before;
}

// ------------------------------------------------------------------------------------------------------------------
// Syntax tree
// ------------------------------------------------------------------------------------------------------------------

export interface BicepProperty {
  key: string;
  value: BicepExpr;
  line: number;
}

export type BicepExpr =
  | { kind: 'object'; line: number; props: BicepProperty[] }
  | { kind: 'array'; line: number; items: BicepExpr[] }
  | { kind: 'for'; line: number; vars: string[]; source: BicepExpr; condition?: BicepExpr; body: BicepExpr }
  | { kind: 'string'; line: number; value: string }
  | { kind: 'number'; line: number; value: number }
  | { kind: 'bool'; line: number; value: boolean }
  | { kind: 'null'; line: number }
  | {
      kind: 'expr';
      line: number;
      /** Source text of the expression. */
      text: string;
      /** Symbols it references directly (not inside the object/array literals in `parts`). */
      refs: string[];
      /** Functions it calls directly. */
      calls: string[];
      /** Object, array and loop literals directly inside it (e.g. both branches of a ternary). */
      parts: BicepExpr[];
    };

export interface BicepDecorator {
  name: string;
  args: BicepExpr[];
  line: number;
}

interface DeclBase {
  name: string;
  line: number;
  decorators: BicepDecorator[];
}

export type BicepDeclaration =
  | (DeclBase & { kind: 'param'; type: string; nullable: boolean; defaultValue?: BicepExpr })
  | (DeclBase & { kind: 'var'; value: BicepExpr })
  | (DeclBase & {
      kind: 'resource';
      type: string;
      apiVersion: string;
      existing: boolean;
      condition?: BicepExpr;
      loop?: { vars: string[]; source: BicepExpr };
      body: BicepExpr;
    })
  | (DeclBase & {
      kind: 'module';
      path: string;
      condition?: BicepExpr;
      loop?: { vars: string[]; source: BicepExpr };
      body: BicepExpr;
    })
  | (DeclBase & { kind: 'output'; type: string; value: BicepExpr })
  | (DeclBase & { kind: 'import'; path: string; names: { name: string; alias: string }[] })
  | (DeclBase & { kind: 'metadata'; value: BicepExpr });

interface Reference {
  name: string;
  line: number;
  call: boolean;
}

export interface BicepFile {
  path: string;
  text: string;
  targetScope: 'resourceGroup' | 'subscription' | 'managementGroup' | 'tenant';
  declarations: BicepDeclaration[];
  /** Every global symbol and function reference, for resolution checks. */
  references: Reference[];
  problems: BicepProblem[];
}

const KEYWORDS = new Set(['true', 'false', 'null']);
const PRIMITIVE_TYPES = new Set(['string', 'int', 'bool', 'object', 'array', 'any']);
const NAMESPACES = new Set(['az', 'sys']);

/** Bicep built-in functions (az and sys namespaces). `list*` functions are accepted by prefix. */
export const BICEP_FUNCTIONS = new Set(
  (
    'any array base64 base64ToJson base64ToString bool cidrHost cidrSubnet coalesce concat contains dataUri ' +
    'dataUriToString dateTimeAdd dateTimeFromEpoch dateTimeToEpoch deployer deployment empty endsWith environment ' +
    'extensionResourceId filter first flatten format getSecret groupBy guid indexOf int intersection items join json ' +
    'last lastIndexOf length loadFileAsBase64 loadJsonContent loadTextContent loadYamlContent managementGroup ' +
    'managementGroupResourceId map mapValues max min newGuid objectKeys padLeft parseCidr pickZones range ' +
    'readEnvironmentVariable reduce reference replace resourceGroup resourceId shallowMerge skip sort split ' +
    'startsWith string subscription subscriptionResourceId substring take tenant tenantResourceId toLower toObject ' +
    'toUpper trim union uniqueString uri uriComponent uriComponentToString utcNow'
  ).split(/\s+/),
);

class Parser {
  private pos = 0;
  private readonly locals: Set<string>[] = [];
  readonly references: Reference[] = [];

  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
    private readonly file: string,
    readonly problems: BicepProblem[],
  ) {}

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }
  private next(): Token | undefined {
    return this.tokens[this.pos++];
  }
  private is(t: Token | undefined, value: string): boolean {
    return t !== undefined && t.kind !== 'string' && t.value === value;
  }
  private line(): number {
    return this.peek()?.line ?? this.tokens[this.tokens.length - 1]?.line ?? 1;
  }
  private fail(message: string, line = this.line()): never {
    throw new ParseError(message, line);
  }
  private skipNewlines() {
    while (this.peek()?.kind === 'newline') this.pos++;
  }
  private expect(value: string, what: string): Token {
    const t = this.next();
    if (!this.is(t, value)) this.fail(`expected '${value}' ${what}, found ${describe(t)}`, t?.line);
    return t as Token;
  }
  private expectIdent(what: string): Token {
    const t = this.next();
    if (t?.kind !== 'ident') this.fail(`expected ${what}, found ${describe(t)}`, t?.line);
    return t;
  }
  private expectString(what: string): Token {
    const t = this.next();
    if (t?.kind !== 'string') this.fail(`expected ${what} (a string), found ${describe(t)}`, t?.line);
    if (t.interpolations) this.fail(`${what} must not be interpolated`, t.line);
    return t;
  }
  private atStatementEnd(): boolean {
    const t = this.peek();
    return t === undefined || t.kind === 'newline';
  }
  private atValueEnd(): boolean {
    const t = this.peek();
    return t === undefined || t.kind === 'newline' || (t.kind === 'punct' && [',', ')', ']', '}'].includes(t.value));
  }
  private isLocal(name: string): boolean {
    return this.locals.some((s) => s.has(name));
  }
  private reference(t: Token, call: boolean) {
    if (!call && this.isLocal(t.value)) return;
    this.references.push({ name: t.value, line: t.line, call });
  }

  parseFile(): { declarations: BicepDeclaration[]; targetScope: BicepFile['targetScope'] } {
    const declarations: BicepDeclaration[] = [];
    let targetScope: BicepFile['targetScope'] = 'resourceGroup';
    for (;;) {
      this.skipNewlines();
      const start = this.peek();
      if (!start) break;
      try {
        const decorators = this.parseDecorators();
        const keyword = this.expectIdent('a declaration keyword');
        const line = keyword.line;
        switch (keyword.value) {
          case 'targetScope': {
            if (decorators.length) this.fail('targetScope takes no decorators', line);
            this.expect('=', 'after targetScope');
            const scope = this.expectString('target scope').value;
            if (!['resourceGroup', 'subscription', 'managementGroup', 'tenant'].includes(scope)) {
              this.fail(`unknown targetScope '${scope}'`, line);
            }
            targetScope = scope as BicepFile['targetScope'];
            break;
          }
          case 'param': {
            const name = this.expectIdent('a parameter name').value;
            const { type, nullable } = this.parseType();
            const decl: BicepDeclaration = { kind: 'param', name, line, decorators, type, nullable };
            if (this.is(this.peek(), '=')) {
              this.pos++;
              decl.defaultValue = this.parseValue();
            }
            declarations.push(decl);
            break;
          }
          case 'var': {
            const name = this.expectIdent('a variable name').value;
            this.expect('=', `after var ${name}`);
            declarations.push({ kind: 'var', name, line, decorators, value: this.parseValue() });
            break;
          }
          case 'output': {
            const name = this.expectIdent('an output name').value;
            const { type } = this.parseType();
            this.expect('=', `after output ${name}`);
            declarations.push({ kind: 'output', name, line, decorators, type, value: this.parseValue() });
            break;
          }
          case 'metadata': {
            const name = this.expectIdent('a metadata name').value;
            this.expect('=', `after metadata ${name}`);
            declarations.push({ kind: 'metadata', name, line, decorators, value: this.parseValue() });
            break;
          }
          case 'resource': {
            const name = this.expectIdent('a resource symbol name').value;
            const typeToken = this.expectString('a resource type');
            const at = typeToken.value.lastIndexOf('@');
            const type = at < 0 ? typeToken.value : typeToken.value.slice(0, at);
            const apiVersion = at < 0 ? '' : typeToken.value.slice(at + 1);
            let existing = false;
            if (this.is(this.peek(), 'existing')) {
              this.pos++;
              existing = true;
            }
            this.expect('=', `after resource ${name}`);
            declarations.push({
              kind: 'resource',
              name,
              line,
              decorators,
              type,
              apiVersion,
              existing,
              ...this.parseBody(),
            });
            break;
          }
          case 'module': {
            const name = this.expectIdent('a module symbol name').value;
            const path = this.expectString('a module path').value;
            this.expect('=', `after module ${name}`);
            declarations.push({ kind: 'module', name, line, decorators, path, ...this.parseBody() });
            break;
          }
          case 'import': {
            const names: { name: string; alias: string }[] = [];
            this.expect('{', 'after import');
            for (;;) {
              this.skipNewlines();
              if (this.is(this.peek(), '}')) break;
              const name = this.expectIdent('an imported name').value;
              let alias = name;
              if (this.is(this.peek(), 'as')) {
                this.pos++;
                alias = this.expectIdent('an import alias').value;
              }
              names.push({ name, alias });
              this.skipNewlines();
              if (this.is(this.peek(), ',')) this.pos++;
            }
            this.expect('}', 'to close the import list');
            this.expect('from', 'after the import list');
            const path = this.expectString('an import path').value;
            declarations.push({
              kind: 'import',
              name: names.map((n) => n.alias).join(','),
              line,
              decorators,
              path,
              names,
            });
            break;
          }
          case 'type':
          case 'func':
          case 'extension':
          case 'provider':
          case 'using':
            this.fail(`'${keyword.value}' declarations are not supported by this structure parser`, line);
            break;
          default:
            this.fail(`unexpected '${keyword.value}' at top level`, line);
        }
        if (!this.atStatementEnd()) this.fail(`unexpected ${describe(this.peek())} after the declaration`);
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        this.problems.push({ file: this.file, line: err.line, message: err.message });
        // Resynchronise at the next line that starts at bracket depth 0.
        this.recover();
      }
    }
    return { declarations, targetScope };
  }

  /** After an error, resume at the next line that starts a declaration (or its decorator). */
  private recover() {
    const starts = [
      'param',
      'var',
      'resource',
      'module',
      'output',
      'import',
      'targetScope',
      'metadata',
      'type',
      'func',
    ];
    while (this.peek()) {
      const t = this.next() as Token;
      const following = this.peek();
      if (
        t.kind === 'newline' &&
        following &&
        (this.is(following, '@') || (following.kind === 'ident' && starts.includes(following.value)))
      ) {
        return;
      }
    }
  }

  private parseDecorators(): BicepDecorator[] {
    const decorators: BicepDecorator[] = [];
    while (this.is(this.peek(), '@')) {
      const at = this.next() as Token;
      let name = this.expectIdent('a decorator name').value;
      if (NAMESPACES.has(name) && this.is(this.peek(), '.')) {
        this.pos++;
        name = this.expectIdent('a decorator name').value;
      }
      const args: BicepExpr[] = [];
      this.expect('(', `after @${name}`);
      this.skipNewlines();
      while (!this.is(this.peek(), ')')) {
        args.push(this.parseValue());
        this.skipNewlines();
        if (this.is(this.peek(), ',')) this.pos++;
        this.skipNewlines();
        if (!this.peek()) this.fail(`unterminated @${name}(`, at.line);
      }
      this.pos++;
      decorators.push({ name, args, line: at.line });
      if (!this.atStatementEnd()) this.fail(`expected a new line after @${name}(...)`);
      this.skipNewlines();
    }
    return decorators;
  }

  private parseType(): { type: string; nullable: boolean } {
    const t = this.next();
    let type: string;
    if (t?.kind === 'ident') {
      type = t.value;
      if (!PRIMITIVE_TYPES.has(type)) this.fail(`unknown type '${type}'`, t.line);
    } else if (t?.kind === 'string') {
      // A union of string literals: 'a' | 'b'.
      type = 'string';
      while (this.is(this.peek(), '|')) {
        this.pos++;
        this.expectString('a string literal type');
      }
    } else {
      this.fail(`expected a type, found ${describe(t)}`, t?.line);
    }
    if (this.is(this.peek(), '[') && this.is(this.peek(1), ']')) {
      this.pos += 2;
      type = 'array';
    }
    let nullable = false;
    if (this.is(this.peek(), '?')) {
      this.pos++;
      nullable = true;
    }
    return { type, nullable };
  }

  /** `{...}` | `if (cond) {...}` | `[for x in xs: [if (cond)] {...}]` */
  private parseBody(): { body: BicepExpr; condition?: BicepExpr; loop?: { vars: string[]; source: BicepExpr } } {
    if (this.is(this.peek(), 'if')) {
      this.pos++;
      const condition = this.parseParenthesized('if');
      if (!this.is(this.peek(), '{')) this.fail(`expected '{' after if (...), found ${describe(this.peek())}`);
      return { condition, body: this.parseObject() };
    }
    if (this.is(this.peek(), '[')) {
      const loop = this.parseArrayOrFor();
      if (loop.kind !== 'for') this.fail('expected a for-expression or an object as the body');
      if (loop.body.kind !== 'object') this.fail('the body of a resource or module loop must be an object');
      const result: { body: BicepExpr; condition?: BicepExpr; loop: { vars: string[]; source: BicepExpr } } = {
        body: loop.body,
        loop: { vars: loop.vars, source: loop.source },
      };
      if (loop.condition) result.condition = loop.condition;
      return result;
    }
    if (!this.is(this.peek(), '{'))
      this.fail(`expected '{', 'if' or '[for' as the body, found ${describe(this.peek())}`);
    return { body: this.parseObject() };
  }

  private parseParenthesized(what: string): BicepExpr {
    this.expect('(', `after ${what}`);
    this.skipNewlines();
    const value = this.parseValue();
    this.skipNewlines();
    this.expect(')', `to close ${what} (`);
    return value;
  }

  /** One value: a literal when it is only that, else an expression (whose literal parts are still parsed). */
  parseValue(): BicepExpr {
    const start = this.pos;
    const marks = { references: this.references.length, problems: this.problems.length };
    const t = this.peek();
    if (!t || this.atValueEnd()) this.fail(`expected a value, found ${describe(t)}`);
    if (this.is(t, '{')) {
      const object = this.parseObject();
      if (this.atValueEnd()) return object;
    } else if (this.is(t, '[')) {
      const array = this.parseArrayOrFor();
      if (this.atValueEnd()) return array;
    } else {
      this.pos++;
      if (this.atValueEnd()) {
        if (t.kind === 'string' && !t.interpolations) return { kind: 'string', line: t.line, value: t.value };
        if (t.kind === 'number') return { kind: 'number', line: t.line, value: Number(t.value) };
        if (this.is(t, 'true') || this.is(t, 'false')) return { kind: 'bool', line: t.line, value: t.value === 'true' };
        if (this.is(t, 'null')) return { kind: 'null', line: t.line };
      }
    }
    // Not a lone literal: scan it again as an expression (forgetting what the first attempt recorded).
    this.pos = start;
    this.references.length = marks.references;
    this.problems.length = marks.problems;
    return this.parseExpression();
  }

  private parseExpression(): BicepExpr {
    const first = this.peek() as Token;
    const refs: string[] = [];
    const calls: string[] = [];
    const parts: BicepExpr[] = [];
    const lambdaScope = new Set<string>();
    this.locals.push(lambdaScope);
    let last: Token | undefined;
    try {
      while (!this.atValueEnd()) {
        const t = this.peek() as Token;
        if (this.is(t, '{')) {
          parts.push(this.parseObject());
        } else if (this.is(t, '[')) {
          parts.push(this.parseArrayOrFor());
        } else if (this.is(t, '(')) {
          const params = this.lambdaParams();
          if (params) {
            params.forEach((p) => lambdaScope.add(p));
            while (!this.is(this.peek(), '=>')) this.pos++;
          } else {
            this.scanArguments(refs, calls, parts);
          }
        } else if (t.kind === 'ident') {
          const prev = this.tokens[this.pos - 1];
          const afterDot = prev !== undefined && prev.kind === 'punct' && ['.', '.?', '::', '@'].includes(prev.value);
          const nextToken = this.peek(1);
          if (this.is(nextToken, '=>')) {
            lambdaScope.add(t.value);
          } else if (!afterDot && !KEYWORDS.has(t.value)) {
            if (NAMESPACES.has(t.value) && this.is(nextToken, '.')) {
              // az.resourceGroup() / sys.concat(): the function after the dot is checked as a call.
            } else if (this.is(nextToken, '(')) {
              this.reference(t, true);
              calls.push(t.value);
            } else {
              if (!this.isLocal(t.value)) refs.push(t.value);
              this.reference(t, false);
            }
          } else if (afterDot && prev?.value === '.' && this.is(nextToken, '(')) {
            const owner = this.tokens[this.pos - 2];
            if (owner?.kind === 'ident' && NAMESPACES.has(owner.value)) {
              this.reference(t, true);
              calls.push(t.value);
            }
          }
          this.pos++;
        } else if (t.kind === 'string') {
          for (const inner of t.interpolations ?? []) this.scanInterpolation(inner, refs, calls);
          this.pos++;
        } else {
          this.pos++;
        }
        last = this.tokens[this.pos - 1];
      }
    } finally {
      this.locals.pop();
    }
    const end = last ?? first;
    return {
      kind: 'expr',
      line: first.line,
      text: this.text.slice(first.start, end.end),
      refs,
      calls,
      parts,
    };
  }

  /** `(a, b) =>`: returns the parameter names when the parenthesis starts a lambda. */
  private lambdaParams(): string[] | undefined {
    const names: string[] = [];
    let j = this.pos + 1;
    for (;;) {
      const t = this.tokens[j];
      if (t?.kind !== 'ident') return undefined;
      names.push(t.value);
      const sep = this.tokens[j + 1];
      if (this.is(sep, ',')) {
        j += 2;
        continue;
      }
      if (this.is(sep, ')') && this.is(this.tokens[j + 2], '=>')) return names;
      return undefined;
    }
  }

  /** `( arg, arg, ... )` where arguments may span lines. */
  private scanArguments(refs: string[], calls: string[], parts: BicepExpr[]) {
    this.expect('(', '');
    this.skipNewlines();
    while (!this.is(this.peek(), ')')) {
      if (!this.peek()) this.fail("unterminated '('");
      const arg = this.parseValue();
      // Arguments are part of this expression: hoist their references and literal parts.
      if (arg.kind === 'expr') {
        refs.push(...arg.refs);
        calls.push(...arg.calls);
        parts.push(...arg.parts);
      } else if (arg.kind === 'object' || arg.kind === 'array' || arg.kind === 'for') {
        parts.push(arg);
      }
      this.skipNewlines();
      if (this.is(this.peek(), ',')) this.pos++;
      this.skipNewlines();
    }
    this.pos++;
  }

  private scanInterpolation(tokens: Token[], refs: string[], calls: string[]) {
    const sub = new Parser(tokens, this.text, this.file, this.problems);
    sub.locals.push(...this.locals);
    if (tokens.length === 0) {
      this.problems.push({ file: this.file, line: this.line(), message: 'empty interpolation ${}' });
      return;
    }
    try {
      const value = sub.parseValue();
      if (sub.peek()) sub.fail(`unexpected ${describe(sub.peek())} in interpolation`);
      if (value.kind === 'expr') {
        refs.push(...value.refs);
        calls.push(...value.calls);
      }
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      this.problems.push({ file: this.file, line: err.line, message: err.message });
    }
    this.references.push(...sub.references);
  }

  parseObject(): BicepExpr {
    const open = this.expect('{', 'to open an object');
    const props: BicepProperty[] = [];
    const seen = new Set<string>();
    for (;;) {
      this.skipNewlines();
      if (this.is(this.peek(), '}')) break;
      const keyToken = this.next();
      if (!keyToken) this.fail('unterminated object', open.line);
      if (keyToken.kind !== 'ident' && keyToken.kind !== 'string') {
        this.fail(`expected a property name, found ${describe(keyToken)}`, keyToken.line);
      }
      if (keyToken.kind === 'ident' && keyToken.value === 'resource' && this.peek()?.kind === 'ident') {
        this.fail('nested resource declarations are not supported by this structure parser', keyToken.line);
      }
      if (keyToken.kind === 'string') {
        for (const inner of keyToken.interpolations ?? []) this.scanInterpolation(inner, [], []);
      }
      this.expect(':', `after property '${keyToken.value}'`);
      const key = keyToken.value;
      if (seen.has(key.toLowerCase()) && !keyToken.interpolations) {
        this.fail(`duplicate property '${key}'`, keyToken.line);
      }
      seen.add(key.toLowerCase());
      const value = this.parseValue();
      props.push({ key, value, line: keyToken.line });
      if (this.is(this.peek(), ',')) this.pos++;
      else if (!this.atValueEnd()) this.fail(`unexpected ${describe(this.peek())} after property '${key}'`);
    }
    this.pos++;
    return { kind: 'object', line: open.line, props };
  }

  parseArrayOrFor(): BicepExpr {
    const open = this.expect('[', 'to open an array');
    this.skipNewlines();
    if (this.is(this.peek(), 'for')) {
      this.pos++;
      const vars: string[] = [];
      if (this.is(this.peek(), '(')) {
        this.pos++;
        vars.push(this.expectIdent('a loop variable').value);
        this.expect(',', 'between loop variables');
        vars.push(this.expectIdent('a loop index').value);
        this.expect(')', 'after loop variables');
      } else {
        vars.push(this.expectIdent('a loop variable').value);
      }
      this.expect('in', 'after the loop variables');
      const source = this.parseLoopSource();
      this.expect(':', 'after the loop source');
      this.locals.push(new Set(vars));
      try {
        let condition: BicepExpr | undefined;
        if (this.is(this.peek(), 'if')) {
          this.pos++;
          condition = this.parseParenthesized('if');
        }
        const body = this.parseValue();
        this.skipNewlines();
        this.expect(']', 'to close the for-expression');
        const loop: BicepExpr = { kind: 'for', line: open.line, vars, source, body };
        if (condition) loop.condition = condition;
        return loop;
      } finally {
        this.locals.pop();
      }
    }
    const items: BicepExpr[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.is(this.peek(), ']')) break;
      if (!this.peek()) this.fail('unterminated array', open.line);
      items.push(this.parseValue());
      if (this.is(this.peek(), ',')) this.pos++;
    }
    this.pos++;
    return { kind: 'array', line: open.line, items };
  }

  /** The loop source ends at the ':' that starts the body. */
  private parseLoopSource(): BicepExpr {
    const start = this.pos;
    let depth = 0;
    let j = this.pos;
    for (; j < this.tokens.length; j++) {
      const t = this.tokens[j] as Token;
      if (t.kind === 'punct' && t.value in OPENERS) depth++;
      else if (t.kind === 'punct' && [')', ']', '}'].includes(t.value)) depth--;
      else if (depth === 0 && this.is(t, ':')) break;
    }
    const sub = new Parser(this.tokens.slice(start, j), this.text, this.file, this.problems);
    sub.locals.push(...this.locals);
    const source = sub.parseValue();
    this.references.push(...sub.references);
    this.pos = j;
    return source;
  }
}

class ParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

function describe(t: Token | undefined): string {
  if (!t) return 'end of file';
  if (t.kind === 'newline') return 'end of line';
  if (t.kind === 'string') return `string '${t.value}'`;
  return `'${t.value}'`;
}

/** Parses Bicep source. Syntax problems are in `problems`; nothing throws. */
export function parseBicep(text: string, path = '<inline>'): BicepFile {
  const problems: BicepProblem[] = [];
  const tokens = tokenize(text, path, problems);
  const file: BicepFile = { path, text, targetScope: 'resourceGroup', declarations: [], references: [], problems };
  if (problems.length > 0 || !checkBalance(tokens, path, problems)) return file;
  const parser = new Parser(tokens, text, path, problems);
  const { declarations, targetScope } = parser.parseFile();
  file.declarations = declarations;
  file.targetScope = targetScope;
  file.references = parser.references;
  return file;
}

const fileCache = new Map<string, BicepFile>();

/** Reads and parses a .bicep file (cached by absolute path). */
export function loadBicep(path: string): BicepFile {
  const abs = resolve(path);
  let file = fileCache.get(abs);
  if (!file) {
    file = parseBicep(readFileSync(abs, 'utf8'), abs);
    fileCache.set(abs, file);
  }
  return file;
}

/** Every .bicep file under a directory, sorted. */
export function listBicepFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...listBicepFiles(full));
    else if (entry.endsWith('.bicep')) out.push(full);
  }
  return out.sort();
}

// ------------------------------------------------------------------------------------------------------------------
// Queries
// ------------------------------------------------------------------------------------------------------------------

export function declaration<K extends BicepDeclaration['kind']>(
  file: BicepFile,
  kind: K,
  name: string,
): Extract<BicepDeclaration, { kind: K }> | undefined {
  return file.declarations.find((d) => d.kind === kind && d.name === name) as
    Extract<BicepDeclaration, { kind: K }> | undefined;
}

export function declarationsOf<K extends BicepDeclaration['kind']>(
  file: BicepFile,
  kind: K,
): Extract<BicepDeclaration, { kind: K }>[] {
  return file.declarations.filter((d) => d.kind === kind) as Extract<BicepDeclaration, { kind: K }>[];
}

/** The value of a property of an object literal. */
export function property(expr: BicepExpr | undefined, key: string): BicepExpr | undefined {
  return expr?.kind === 'object' ? expr.props.find((p) => p.key === key)?.value : undefined;
}

/** Resolves a `var` (local or imported) to its declaring file and value. */
export function resolveVar(file: BicepFile, name: string): { file: BicepFile; value: BicepExpr } | undefined {
  const local = declaration(file, 'var', name);
  if (local) return { file, value: local.value };
  for (const imp of declarationsOf(file, 'import')) {
    const entry = imp.names.find((n) => n.alias === name);
    if (!entry) continue;
    const target = resolve(dirname(file.path), imp.path);
    if (!existsSync(target)) return undefined;
    return resolveVar(loadBicep(target), entry.name);
  }
  return undefined;
}

/**
 * The JSON value of a literal expression: objects, arrays, strings, numbers, booleans, null, and a bare reference to
 * a variable whose value is itself literal. Anything computed gives undefined.
 */
export function evaluateLiteral(file: BicepFile, expr: BicepExpr | undefined): unknown {
  if (!expr) return undefined;
  switch (expr.kind) {
    case 'string':
    case 'number':
    case 'bool':
      return expr.value;
    case 'null':
      return null;
    case 'array': {
      const items = expr.items.map((i) => evaluateLiteral(file, i));
      return items.some((i) => i === undefined) ? undefined : items;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const p of expr.props) {
        const v = evaluateLiteral(file, p.value);
        if (v === undefined) return undefined;
        out[p.key] = v;
      }
      return out;
    }
    case 'expr': {
      if (expr.refs.length === 1 && expr.text === expr.refs[0]) {
        const target = resolveVar(file, expr.text);
        return target ? evaluateLiteral(target.file, target.value) : undefined;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Every key an object-valued expression can have: object literals, variables holding them, and anything built from
 * them with union(), ternaries or indexing (both branches count). Used to list the app settings a template sets.
 */
export function objectKeysOf(file: BicepFile, expr: BicepExpr, seen = new Set<string>()): Map<string, BicepExpr> {
  const keys = new Map<string, BicepExpr>();
  const add = (more: Map<string, BicepExpr>) => more.forEach((v, k) => keys.has(k) || keys.set(k, v));
  if (expr.kind === 'object') {
    for (const p of expr.props) keys.set(p.key, p.value);
  } else if (expr.kind === 'expr') {
    for (const part of expr.parts) if (part.kind === 'object') add(objectKeysOf(file, part, seen));
    for (const ref of expr.refs) {
      if (seen.has(ref)) continue;
      seen.add(ref);
      const target = resolveVar(file, ref);
      if (target) add(objectKeysOf(target.file, target.value, seen));
    }
  }
  return keys;
}

// ------------------------------------------------------------------------------------------------------------------
// Structure checks
// ------------------------------------------------------------------------------------------------------------------

const RESOURCE_TYPE = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+(\/[A-Za-z][A-Za-z0-9]*)+$/;
const API_VERSION = /^\d{4}-\d{2}-\d{2}(-(preview|privatepreview|alpha|beta))?$/;

function literalType(value: unknown): string | undefined {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'int';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'array';
  if (value !== null && typeof value === 'object') return 'object';
  return undefined;
}

/** Checks one parsed file; `load` resolves module and import paths (absolute) to parsed files. */
export function checkBicepFile(file: BicepFile, load: (path: string) => BicepFile = loadBicep): BicepProblem[] {
  const problems: BicepProblem[] = [...file.problems];
  const add = (line: number, message: string) => problems.push({ file: file.path, line, message });
  if (file.problems.length > 0) return problems;

  // Names: params, vars, resources, modules and imports share one namespace; outputs have their own.
  const symbols = new Map<string, BicepDeclaration>();
  const outputs = new Set<string>();
  for (const d of file.declarations) {
    if (d.kind === 'metadata') continue;
    if (d.kind === 'output') {
      if (outputs.has(d.name)) add(d.line, `duplicate output '${d.name}'`);
      outputs.add(d.name);
      continue;
    }
    const names = d.kind === 'import' ? d.names.map((n) => n.alias) : [d.name];
    for (const name of names) {
      const previous = symbols.get(name);
      if (previous) add(d.line, `duplicate symbol '${name}' (also declared at line ${previous.line})`);
      else symbols.set(name, d);
      if (BICEP_FUNCTIONS.has(name) && d.kind !== 'import') add(d.line, `symbol '${name}' shadows a function`);
    }
  }

  // References resolve; functions exist.
  const used = new Set<string>();
  for (const ref of file.references) {
    if (ref.call) {
      if (!BICEP_FUNCTIONS.has(ref.name) && !/^list[A-Z]?/.test(ref.name)) {
        add(ref.line, `unknown function '${ref.name}'`);
      }
      continue;
    }
    used.add(ref.name);
    if (!symbols.has(ref.name)) add(ref.line, `unknown symbol '${ref.name}'`);
  }

  for (const d of file.declarations) {
    switch (d.kind) {
      case 'param': {
        if (!used.has(d.name)) add(d.line, `parameter '${d.name}' is never used`);
        const fallback = evaluateLiteral(file, d.defaultValue);
        const actual = literalType(fallback);
        if (actual !== undefined && d.type !== 'any' && actual !== d.type) {
          add(d.line, `default of parameter '${d.name}' is ${actual}, declared ${d.type}`);
        }
        for (const dec of d.decorators) {
          const arg = evaluateLiteral(file, dec.args[0]);
          if (dec.name === 'allowed' && Array.isArray(arg) && fallback !== undefined && !arg.includes(fallback)) {
            add(dec.line, `default of parameter '${d.name}' is not in @allowed`);
          }
          if (dec.name === 'minValue' && typeof arg === 'number' && typeof fallback === 'number' && fallback < arg) {
            add(dec.line, `default of parameter '${d.name}' is below @minValue`);
          }
          if (dec.name === 'maxValue' && typeof arg === 'number' && typeof fallback === 'number' && fallback > arg) {
            add(dec.line, `default of parameter '${d.name}' is above @maxValue`);
          }
        }
        break;
      }
      case 'var': {
        const exported = d.decorators.some((x) => x.name === 'export');
        if (!exported && !used.has(d.name)) add(d.line, `variable '${d.name}' is never used`);
        break;
      }
      case 'resource': {
        if (!RESOURCE_TYPE.test(d.type)) add(d.line, `resource '${d.name}': malformed type '${d.type}'`);
        if (!API_VERSION.test(d.apiVersion)) {
          add(d.line, `resource '${d.name}': type '${d.type}' needs '@<api-version>' (found '${d.apiVersion}')`);
        }
        if (!property(d.body, 'name')) add(d.line, `resource '${d.name}' has no name`);
        break;
      }
      case 'module':
        problems.push(...checkModule(file, d, load));
        break;
      case 'import': {
        const target = resolve(dirname(file.path), d.path);
        if (!existsSync(target)) {
          add(d.line, `import path '${d.path}' does not exist`);
          break;
        }
        const imported = load(target);
        for (const { name } of d.names) {
          const v = declaration(imported, 'var', name);
          if (!v || !v.decorators.some((x) => x.name === 'export')) {
            add(d.line, `'${name}' is not an @export() variable of '${d.path}'`);
          }
        }
        break;
      }
      case 'output':
        if (d.type === 'any') add(d.line, `output '${d.name}' needs a concrete type`);
        break;
      default:
        break;
    }
  }
  return problems;
}

function checkModule(
  file: BicepFile,
  d: Extract<BicepDeclaration, { kind: 'module' }>,
  load: (path: string) => BicepFile,
): BicepProblem[] {
  const problems: BicepProblem[] = [];
  const add = (message: string, line = d.line) => problems.push({ file: file.path, line, message });
  if (/^(br|ts)[:/]/.test(d.path)) {
    add(`module '${d.name}': registry module '${d.path}' cannot be checked here`);
    return problems;
  }
  const target = resolve(dirname(file.path), d.path);
  if (!existsSync(target)) {
    add(`module '${d.name}': path '${d.path}' does not exist`);
    return problems;
  }
  const callee = load(target);
  if (callee.problems.length > 0) return problems;
  const params = property(d.body, 'params');
  const given = new Map<string, number>();
  if (params?.kind === 'object') params.props.forEach((p) => given.set(p.key, p.line));
  else if (params) add(`module '${d.name}': params must be an object literal`);
  const declared = declarationsOf(callee, 'param');
  for (const [name, line] of given) {
    if (!declared.some((p) => p.name === name)) {
      add(`module '${d.name}': '${relative(dirname(file.path), target)}' has no parameter '${name}'`, line);
    }
  }
  for (const p of declared) {
    if (p.defaultValue === undefined && !p.nullable && !given.has(p.name)) {
      add(`module '${d.name}': required parameter '${p.name}' is not passed`);
    }
  }
  // The module's target scope must match the scope it is deployed to.
  const scope = property(d.body, 'scope');
  const scopeText = scope?.kind === 'expr' ? scope.text : '';
  const expected: Record<BicepFile['targetScope'], string> = {
    resourceGroup: 'resourceGroup(',
    subscription: 'subscription(',
    managementGroup: 'managementGroup(',
    tenant: 'tenant(',
  };
  if (scope) {
    if (!scopeText.startsWith(expected[callee.targetScope])) {
      add(`module '${d.name}': targets ${callee.targetScope} but is deployed to scope '${scopeText}'`);
    }
  } else if (callee.targetScope !== file.targetScope) {
    add(`module '${d.name}': targets ${callee.targetScope} but has no scope (caller is ${file.targetScope})`);
  }
  if (!property(d.body, 'name')) add(`module '${d.name}' has no deployment name`);
  return problems;
}

/**
 * Checks every .bicep file under `infraDir`, and that every file is reachable from a root template through module
 * or import references (an unreferenced module is dead code that would never be checked by a deployment).
 */
export function checkBicepTree(infraDir: string, roots: string[] = ['main.bicep', 'events.bicep']): BicepProblem[] {
  const files = listBicepFiles(infraDir);
  const problems = files.flatMap((f) => checkBicepFile(loadBicep(f)));
  const reached = new Set<string>();
  const visit = (path: string) => {
    const abs = resolve(path);
    if (reached.has(abs) || !existsSync(abs)) return;
    reached.add(abs);
    for (const d of loadBicep(abs).declarations) {
      if (d.kind === 'module' || d.kind === 'import') visit(resolve(dirname(abs), d.path));
    }
  };
  roots.forEach((r) => visit(join(infraDir, r)));
  for (const f of files) {
    if (!reached.has(resolve(f))) problems.push({ file: f, line: 1, message: 'not referenced from any root template' });
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------------------------
// The role model (infra/shared/roles.bicep)
// ------------------------------------------------------------------------------------------------------------------

export type RoleScopeKind =
  | 'managedScope'
  | 'watchedRegistry'
  | 'watchedVault'
  | 'rotationRegistry'
  | 'rotationVault'
  | 'storage'
  | 'topic'
  | 'scheduler'
  | 'deadLetterContainer';

export type RoleSwitch = 'always' | 'autoRemediate' | 'azureStorageBackend' | 'durableTaskScheduler';

export interface RoleAssignmentSpec {
  /** Built-in role GUID, or the GUID given to a custom role (see CustomRoleSpec.id). */
  roleDefinitionId: string;
  roleName: string;
  builtIn: boolean;
  /** Custom roles: the key in customRoleDefinitions. */
  customRoleKey?: string;
  scopeKind: RoleScopeKind;
  /** Who holds it: the app identity, or each Event Grid system topic's identity. */
  principal: 'app' | 'systemTopic';
  when: RoleSwitch;
  condition?: string;
  conditionVersion?: '2.0';
  why: string;
}

export interface CustomRoleSpec {
  key: string;
  /** Base role name (deployments append "(environment, token)" because role names are unique per tenant). */
  roleName: string;
  /** armGuid(subscriptionId, resourceGroupId, environmentName, 'acr-cascade-role', key), as main.bicep computes. */
  id: string;
  description: string;
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface AccessPolicySpec {
  scopeKind: 'accessPolicyVault' | 'rotationAccessPolicyVault';
  secrets: string[];
  why: string;
}

export interface RoleModel {
  assignments: RoleAssignmentSpec[];
  customRoles: CustomRoleSpec[];
  accessPolicies: AccessPolicySpec[];
}

export interface RoleModelDeployment {
  subscriptionId: string;
  resourceGroup: string;
  environmentName: string;
}

/**
 * ARM's guid(): a name-based (SHA-1, version 5) UUID in namespace 11fb06fb-712d-4ddd-98c7-e71bbd588830 over the
 * arguments joined with '-'. Used to give custom roles the GUIDs a deployment would give them.
 */
export function armGuid(...parts: string[]): string {
  const namespace = Buffer.from('11fb06fb712d4ddd98c7e71bbd588830', 'hex');
  const hash = createHash('sha1')
    .update(namespace)
    .update(Buffer.from(parts.join('-'), 'utf8'))
    .digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] as number) & 0x0f) | 0x50;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function literalVar<T>(file: BicepFile, name: string): T {
  const target = resolveVar(file, name);
  const value = target ? evaluateLiteral(target.file, target.value) : undefined;
  if (value === undefined) throw new Error(`${file.path}: '${name}' is not a literal variable`);
  return value as T;
}

interface RoleTableEntry {
  role: string;
  scope: RoleScopeKind;
  when: RoleSwitch;
  condition: string;
  why: string;
}

/**
 * The role model the templates deploy, read from infra/shared/roles.bicep: every assignment (built-in GUID or custom
 * role, scope kind, principal, switch, ABAC condition), the custom role definitions and the Key Vault access
 * policies. Pass `deployment` to get the custom role GUIDs a real deployment would use.
 */
export function deriveRoleModel(
  infraDir: string = resolve('infra'),
  deployment: RoleModelDeployment = {
    subscriptionId: '00000000-0000-0000-0000-000000000000',
    resourceGroup: 'rg',
    environmentName: 'env',
  },
): RoleModel {
  const file = loadBicep(join(infraDir, 'shared', 'roles.bicep'));
  const builtIns = literalVar<Record<string, { id: string; name: string }>>(file, 'builtInRoles');
  const definitions = literalVar<Record<string, Omit<CustomRoleSpec, 'key' | 'id'>>>(file, 'customRoleDefinitions');
  const subscriptionId = `/subscriptions/${deployment.subscriptionId}`;
  const resourceGroupId = `${subscriptionId}/resourceGroups/${deployment.resourceGroup}`;
  const customRoles: CustomRoleSpec[] = Object.entries(definitions).map(([key, d]) => ({
    key,
    id: armGuid(subscriptionId, resourceGroupId, deployment.environmentName, 'acr-cascade-role', key),
    roleName: d.roleName,
    description: d.description,
    actions: d.actions,
    notActions: d.notActions,
    dataActions: d.dataActions,
    notDataActions: d.notDataActions,
  }));
  const toSpec = (principal: RoleAssignmentSpec['principal']) => (entry: RoleTableEntry) => {
    const builtIn = builtIns[entry.role];
    const custom = customRoles.find((c) => c.key === entry.role);
    if (!builtIn && !custom) throw new Error(`roles.bicep: role '${entry.role}' is neither built-in nor custom`);
    const spec: RoleAssignmentSpec = {
      roleDefinitionId: builtIn ? builtIn.id : (custom as CustomRoleSpec).id,
      roleName: builtIn ? builtIn.name : (custom as CustomRoleSpec).roleName,
      builtIn: Boolean(builtIn),
      scopeKind: entry.scope,
      principal,
      when: entry.when,
      why: entry.why,
    };
    if (custom) spec.customRoleKey = custom.key;
    if (entry.condition) {
      spec.condition = entry.condition;
      spec.conditionVersion = '2.0';
    }
    return spec;
  };
  const assignments = [
    ...literalVar<RoleTableEntry[]>(file, 'appRoleAssignments').map(toSpec('app')),
    ...literalVar<RoleTableEntry[]>(file, 'systemTopicRoleAssignments').map(toSpec('systemTopic')),
  ];
  const accessPolicies = literalVar<{ scope: AccessPolicySpec['scopeKind']; secrets: string[]; why: string }[]>(
    file,
    'appAccessPolicies',
  ).map((p) => ({ scopeKind: p.scope, secrets: p.secrets, why: p.why }));
  return { assignments, customRoles, accessPolicies };
}

/** The assignments a deployment with these switches creates (by default only the app identity's). */
export function activeAssignments(
  model: RoleModel,
  options: {
    autoRemediate: boolean;
    durableBackend: 'AzureStorage' | 'DurableTaskScheduler';
    principal?: 'app' | 'systemTopic';
  },
): RoleAssignmentSpec[] {
  const on: Record<RoleSwitch, boolean> = {
    always: true,
    autoRemediate: options.autoRemediate,
    azureStorageBackend: options.durableBackend === 'AzureStorage',
    durableTaskScheduler: options.durableBackend === 'DurableTaskScheduler',
  };
  return model.assignments.filter((a) => a.principal === (options.principal ?? 'app') && on[a.when]);
}
