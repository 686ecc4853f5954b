// The subset of Azure ABAC condition syntax (conditionVersion 2.0) that role assignments on registries and vaults
// use: ActionMatches, string comparisons on @Request attributes, AND/OR/NOT and grouping. Anything else is reported
// as unsupported, and an unsupported condition never grants (fail closed).

import { matchesOperation } from './operationMatch.js';

export type ConditionOperator =
  | 'StringEquals'
  | 'StringEqualsIgnoreCase'
  | 'StringNotEquals'
  | 'StringNotEqualsIgnoreCase'
  | 'StringStartsWith'
  | 'StringStartsWithIgnoreCase'
  | 'StringNotStartsWith'
  | 'StringNotStartsWithIgnoreCase';

const OPERATORS = new Set<string>([
  'StringEquals',
  'StringEqualsIgnoreCase',
  'StringNotEquals',
  'StringNotEqualsIgnoreCase',
  'StringStartsWith',
  'StringStartsWithIgnoreCase',
  'StringNotStartsWith',
  'StringNotStartsWithIgnoreCase',
]);

export type Condition =
  | { op: 'or' | 'and'; items: Condition[] }
  | { op: 'not'; item: Condition }
  | { op: 'actionMatches'; pattern: string }
  | { op: 'compare'; source: 'Request'; attribute: string; operator: ConditionOperator; values: string[] };

export class ConditionError extends Error {
  constructor(
    readonly position: number,
    detail: string,
  ) {
    super(`condition not understood at ${position}: ${detail}`);
    this.name = 'ConditionError';
  }
}

/** Request attributes a comparison may read. Values are looked up case-insensitively by attribute name. */
export type ConditionAttributes = Record<string, string | undefined>;

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Condition {
    const c = this.or();
    this.ws();
    if (this.i < this.s.length) throw new ConditionError(this.i, `unexpected '${this.s.slice(this.i, this.i + 20)}'`);
    return c;
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i] as string)) this.i++;
  }

  private peekWord(): string {
    this.ws();
    const m = /^[A-Za-z]+/.exec(this.s.slice(this.i));
    return m ? m[0] : '';
  }

  private eat(token: string): boolean {
    this.ws();
    if (this.s.startsWith(token, this.i)) {
      this.i += token.length;
      return true;
    }
    return false;
  }

  private eatKeyword(...words: string[]): boolean {
    const w = this.peekWord();
    if (words.some((k) => k.toLowerCase() === w.toLowerCase())) {
      this.i += w.length;
      return true;
    }
    return false;
  }

  private expect(token: string): void {
    if (!this.eat(token)) throw new ConditionError(this.i, `expected '${token}'`);
  }

  private or(): Condition {
    const items = [this.and()];
    while (this.eat('||') || this.eatKeyword('OR')) items.push(this.and());
    return items.length === 1 ? (items[0] as Condition) : { op: 'or', items };
  }

  private and(): Condition {
    const items = [this.unary()];
    while (this.eat('&&') || this.eatKeyword('AND')) items.push(this.unary());
    return items.length === 1 ? (items[0] as Condition) : { op: 'and', items };
  }

  private unary(): Condition {
    if (this.eat('!') || this.eatKeyword('NOT')) return { op: 'not', item: this.unary() };
    if (this.eat('(')) {
      const c = this.or();
      this.expect(')');
      return c;
    }
    if (this.eat('@')) return this.compare();
    const start = this.i;
    const word = this.peekWord();
    if (word === 'ActionMatches') {
      this.i += word.length;
      this.expect('{');
      const pattern = this.string();
      this.expect('}');
      return { op: 'actionMatches', pattern };
    }
    if (word === '') throw new ConditionError(start, `unexpected '${this.s.slice(start, start + 20)}'`);
    throw new ConditionError(start, `'${word}' is not supported`);
  }

  private compare(): Condition {
    const start = this.i;
    const source = this.peekWord();
    this.i += source.length;
    if (source !== 'Request') throw new ConditionError(start, `attribute source '@${source}' is not supported`);
    this.expect('[');
    const close = this.s.indexOf(']', this.i);
    if (close < 0) throw new ConditionError(this.i, "expected ']'");
    const attribute = this.s.slice(this.i, close).trim();
    this.i = close + 1;
    const opAt = this.i;
    const operator = this.peekWord();
    if (!OPERATORS.has(operator)) throw new ConditionError(opAt, `operator '${operator}' is not supported`);
    this.i += operator.length;
    const values: string[] = [];
    if (this.eat('{')) {
      do values.push(this.string());
      while (this.eat(','));
      this.expect('}');
    } else {
      values.push(this.string());
    }
    return { op: 'compare', source: 'Request', attribute, operator: operator as ConditionOperator, values };
  }

  private string(): string {
    this.ws();
    if (this.s[this.i] !== "'") throw new ConditionError(this.i, 'expected a quoted string');
    let out = '';
    this.i++;
    while (this.i < this.s.length) {
      const ch = this.s[this.i++] as string;
      if (ch === '\\' && this.i < this.s.length) out += this.s[this.i++];
      else if (ch === "'") return out;
      else out += ch;
    }
    throw new ConditionError(this.i, 'unterminated string');
  }
}

/** Parses a condition; throws ConditionError naming the position and what is not understood. */
export function parseCondition(text: string): Condition {
  return new Parser(text).parse();
}

function compareOne(operator: ConditionOperator, actual: string, expected: string): boolean {
  const ci = operator.endsWith('IgnoreCase');
  const a = ci ? actual.toLowerCase() : actual;
  const e = ci ? expected.toLowerCase() : expected;
  switch (operator) {
    case 'StringEquals':
    case 'StringEqualsIgnoreCase':
      return a === e;
    case 'StringNotEquals':
    case 'StringNotEqualsIgnoreCase':
      return a !== e;
    case 'StringStartsWith':
    case 'StringStartsWithIgnoreCase':
      return a.startsWith(e);
    case 'StringNotStartsWith':
    case 'StringNotStartsWithIgnoreCase':
      return !a.startsWith(e);
  }
}

export interface ConditionResult {
  value: boolean;
  /** Why the result may be conservative (an attribute the caller did not provide). */
  notes: string[];
}

/**
 * Evaluates a parsed condition for one requested operation. A comparison on an attribute the caller did not supply
 * evaluates false (the request cannot be shown to satisfy it).
 */
export function evaluateCondition(c: Condition, operation: string, attributes: ConditionAttributes): ConditionResult {
  const notes: string[] = [];
  const lookup = new Map(Object.entries(attributes).map(([k, v]) => [k.toLowerCase(), v]));
  const walk = (n: Condition): boolean => {
    switch (n.op) {
      case 'or':
        return n.items.map(walk).some(Boolean);
      case 'and':
        return n.items.map(walk).every(Boolean);
      case 'not':
        return !walk(n.item);
      case 'actionMatches':
        return matchesOperation(n.pattern, operation);
      case 'compare': {
        const actual = lookup.get(n.attribute.toLowerCase());
        if (actual === undefined) {
          notes.push(`condition reads @Request[${n.attribute}], which is not known for this request`);
          return false;
        }
        // A value list means "any of them"; for the negated operators, "none of them".
        const test = (v: string): boolean => compareOne(n.operator, actual, v);
        return n.operator.includes('Not') ? n.values.every(test) : n.values.some(test);
      }
    }
  };
  return { value: walk(c), notes: [...new Set(notes)] };
}
