import type { JsonValue } from '../../core/json.js';

/**
 * The part of ODSQL the simulator understands: `where` filters (comparisons, `in`, `is null`,
 * `and`/`or`/`not`, parentheses, a bare string as a full-text search), `select` lists of fields
 * with aliases, and `order_by`. Anything else is refused the way a portal refuses a malformed
 * query: a 400 ODSQLError naming the clause.
 */

export class OdsqlError extends Error {
  constructor(
    readonly detail: string,
    readonly clause: 'select' | 'where' | 'order_by' | 'group_by',
  ) {
    super(`ODSQL query is malformed: ${detail}. Clause(s) containing the error(s): ${clause}.`);
    this.name = 'OdsqlError';
  }
}

type Literal = string | number | boolean | null | { readonly date: number };

type Expr =
  | { readonly kind: 'and' | 'or'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'not'; readonly operand: Expr }
  | { readonly kind: 'compare'; readonly field: string; readonly op: '=' | '!=' | '<' | '<=' | '>' | '>='; readonly value: Literal }
  | { readonly kind: 'in'; readonly field: string; readonly values: readonly Literal[]; readonly negated: boolean }
  | { readonly kind: 'null'; readonly field: string; readonly negated: boolean }
  | { readonly kind: 'search'; readonly text: string };

/** What a filter reads from one row: a field's value (undefined: no such field), and its searchable text. */
export interface FilterRow {
  value(field: string): JsonValue | undefined;
  searchText(): string;
}

export type Filter = (row: FilterRow) => boolean;

type Token =
  | { readonly type: 'word'; readonly text: string }
  | { readonly type: 'field'; readonly text: string }
  | { readonly type: 'string'; readonly text: string }
  | { readonly type: 'date'; readonly text: string }
  | { readonly type: 'number'; readonly value: number }
  | { readonly type: 'op'; readonly text: string };

function tokenize(text: string, clause: OdsqlError['clause']): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const quoted = (quote: string): string => {
    let out = '';
    for (i += 1; i < text.length; i += 1) {
      const char = text[i] as string;
      if (char === '\\' && i + 1 < text.length) {
        i += 1;
        out += text[i];
      } else if (char === quote) {
        i += 1;
        return out;
      } else {
        out += char;
      }
    }
    throw new OdsqlError(`unterminated ${quote === '`' ? 'field name' : 'string'}`, clause);
  };
  while (i < text.length) {
    const char = text[i] as string;
    if (/\s/.test(char)) {
      i += 1;
    } else if (char === '"' || char === "'") {
      tokens.push({ type: 'string', text: quoted(char) });
    } else if (char === '`') {
      tokens.push({ type: 'field', text: quoted('`') });
    } else if (/[0-9-]/.test(char) && /^-?\d/.test(text.slice(i))) {
      const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ type: 'number', value: Number(match[0]) });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(char)) {
      const match = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(text.slice(i)) as RegExpExecArray;
      i += match[0].length;
      if (match[0].toLowerCase() === 'date' && (text[i] === "'" || text[i] === '"')) {
        tokens.push({ type: 'date', text: quoted(text[i] as string) });
      } else {
        tokens.push({ type: 'word', text: match[0] });
      }
    } else {
      const match = /^(<=|>=|!=|<>|=|<|>|\(|\)|,|\*)/.exec(text.slice(i));
      if (!match) throw new OdsqlError(`unexpected character ${JSON.stringify(char)}`, clause);
      tokens.push({ type: 'op', text: match[0] === '<>' ? '!=' : match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'true', 'false', 'as', 'asc', 'desc']);

class Parser {
  private position = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly knownField: (name: string) => boolean,
  ) {}

  parse(): Expr {
    const expr = this.or();
    if (this.position < this.tokens.length) throw new OdsqlError(`unexpected ${describe(this.peek())}`, 'where');
    return expr;
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private isWord(text: string): boolean {
    const token = this.peek();
    return token?.type === 'word' && token.text.toLowerCase() === text;
  }

  private isOp(text: string): boolean {
    const token = this.peek();
    return token?.type === 'op' && token.text === text;
  }

  private or(): Expr {
    let left = this.and();
    while (this.isWord('or')) {
      this.position += 1;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isWord('and')) {
      this.position += 1;
      left = { kind: 'and', left, right: this.not() };
    }
    return left;
  }

  private not(): Expr {
    if (this.isWord('not')) {
      this.position += 1;
      return { kind: 'not', operand: this.not() };
    }
    return this.primary();
  }

  private primary(): Expr {
    const token = this.peek();
    if (token === undefined) throw new OdsqlError('unexpected end of the expression', 'where');
    if (token.type === 'op' && token.text === '(') {
      this.position += 1;
      const inner = this.or();
      if (!this.isOp(')')) throw new OdsqlError('missing )', 'where');
      this.position += 1;
      return inner;
    }
    if (token.type === 'string') {
      this.position += 1;
      return { kind: 'search', text: token.text };
    }
    const field = this.field();
    if (this.isWord('is')) {
      this.position += 1;
      const negated = this.isWord('not');
      if (negated) this.position += 1;
      if (!this.isWord('null')) throw new OdsqlError(`expected null after "is"`, 'where');
      this.position += 1;
      return { kind: 'null', field, negated };
    }
    const negatedIn = this.isWord('not');
    if (negatedIn) this.position += 1;
    if (this.isWord('in')) {
      this.position += 1;
      if (!this.isOp('(')) throw new OdsqlError('expected ( after "in"', 'where');
      this.position += 1;
      const values: Literal[] = [this.literal()];
      while (this.isOp(',')) {
        this.position += 1;
        values.push(this.literal());
      }
      if (!this.isOp(')')) throw new OdsqlError('missing ) after the values of "in"', 'where');
      this.position += 1;
      return { kind: 'in', field, values, negated: negatedIn };
    }
    if (negatedIn) throw new OdsqlError('expected "in" after "not"', 'where');
    const op = this.peek();
    if (op?.type !== 'op' || !['=', '!=', '<', '<=', '>', '>='].includes(op.text)) {
      throw new OdsqlError(`expected a comparison after ${field}`, 'where');
    }
    this.position += 1;
    return { kind: 'compare', field, op: op.text as '=' | '!=' | '<' | '<=' | '>' | '>=', value: this.literal() };
  }

  private field(): string {
    const token = this.peek();
    if (token?.type === 'field' || (token?.type === 'word' && !KEYWORDS.has(token.text.toLowerCase()))) {
      this.position += 1;
      if (!this.knownField(token.text)) throw new OdsqlError(`Unknown field: ${token.text}`, 'where');
      return token.text;
    }
    throw new OdsqlError(`expected a field, found ${describe(token)}`, 'where');
  }

  private literal(): Literal {
    const token = this.peek();
    this.position += 1;
    if (token?.type === 'string') return token.text;
    if (token?.type === 'number') return token.value;
    if (token?.type === 'date') {
      const time = Date.parse(token.text);
      if (Number.isNaN(time)) throw new OdsqlError(`invalid date ${JSON.stringify(token.text)}`, 'where');
      return { date: time };
    }
    if (token?.type === 'word') {
      const word = token.text.toLowerCase();
      if (word === 'true') return true;
      if (word === 'false') return false;
      if (word === 'null') return null;
    }
    throw new OdsqlError(`expected a value, found ${describe(token)}`, 'where');
  }
}

function describe(token: Token | undefined): string {
  if (token === undefined) return 'the end of the expression';
  if (token.type === 'number') return String(token.value);
  return JSON.stringify(token.text);
}

/** The filter of one `where` clause; `knownField` says which names the rows have. */
export function parseWhere(text: string, knownField: (name: string) => boolean): Filter {
  const expr = new Parser(tokenize(text, 'where'), knownField).parse();
  return (row) => evaluate(expr, row);
}

function evaluate(expr: Expr, row: FilterRow): boolean {
  switch (expr.kind) {
    case 'and':
      return evaluate(expr.left, row) && evaluate(expr.right, row);
    case 'or':
      return evaluate(expr.left, row) || evaluate(expr.right, row);
    case 'not':
      return !evaluate(expr.operand, row);
    case 'search':
      return row.searchText().toLowerCase().includes(expr.text.toLowerCase());
    case 'null': {
      const value = row.value(expr.field) ?? null;
      const isNull = value === null || (Array.isArray(value) && value.length === 0);
      return expr.negated ? !isNull : isNull;
    }
    case 'in': {
      const found = expr.values.some((literal) => anyValue(row.value(expr.field), (value) => compare(value, literal) === 0));
      return expr.negated ? !found : found;
    }
    case 'compare': {
      const { op, value: literal } = expr;
      // A multivalued field (keywords, themes, features) matches when one of its values does.
      const test = (value: JsonValue): boolean => {
        const order = compare(value, literal);
        if (order === undefined) return op === '!=';
        switch (op) {
          case '=':
            return order === 0;
          case '!=':
            return order !== 0;
          case '<':
            return order < 0;
          case '<=':
            return order <= 0;
          case '>':
            return order > 0;
          case '>=':
            return order >= 0;
        }
      };
      return anyValue(row.value(expr.field), test);
    }
  }
}

function anyValue(value: JsonValue | undefined, test: (value: JsonValue) => boolean): boolean {
  if (value === undefined) return false;
  return Array.isArray(value) ? value.some(test) : test(value);
}

/** Order of a stored value against a literal; undefined when they cannot be compared (null, other types). */
function compare(value: JsonValue, literal: Literal): number | undefined {
  if (value === null || literal === null) return value === literal ? 0 : undefined;
  if (typeof literal === 'object') {
    if (typeof value !== 'string') return undefined;
    const time = Date.parse(value);
    return Number.isNaN(time) ? undefined : Math.sign(time - literal.date);
  }
  if (typeof value === 'number' && typeof literal === 'number') return Math.sign(value - literal);
  if (typeof value === 'boolean' && typeof literal === 'boolean') return value === literal ? 0 : value ? 1 : -1;
  if (typeof value === 'string' && typeof literal === 'string') return value < literal ? -1 : value > literal ? 1 : 0;
  if (typeof value === 'string' && typeof literal === 'number') return Math.sign(Number(value) - literal);
  return undefined;
}

/** One item of a `select`: `*`, or a field with the key it is written under. */
export type SelectItem = { readonly kind: 'all' } | { readonly kind: 'field'; readonly field: string; readonly as: string };

/** A `select` list: `*`, fields and `field as alias`, comma-separated; aggregations are not understood. */
export function parseSelect(text: string, knownField: (name: string) => boolean): SelectItem[] {
  const tokens = tokenize(text, 'select');
  const items: SelectItem[] = [];
  let i = 0;
  const field = (token: Token | undefined): string => {
    if (token?.type === 'field' || (token?.type === 'word' && !KEYWORDS.has(token.text.toLowerCase()))) return token.text;
    throw new OdsqlError(`expected a field, found ${describe(token)}`, 'select');
  };
  while (i < tokens.length) {
    const token = tokens[i];
    if (token?.type === 'op' && token.text === '*') {
      items.push({ kind: 'all' });
      i += 1;
    } else {
      const name = field(token);
      if (tokens[i + 1]?.type === 'op' && (tokens[i + 1] as { text: string }).text === '(') {
        throw new OdsqlError(`the simulator does not implement the function ${name}()`, 'select');
      }
      if (!knownField(name)) throw new OdsqlError(`Unknown field: ${name}`, 'select');
      i += 1;
      let as = name;
      const next = tokens[i];
      if (next?.type === 'word' && next.text.toLowerCase() === 'as') {
        as = field(tokens[i + 1]);
        i += 2;
      }
      items.push({ kind: 'field', field: name, as });
    }
    if (i < tokens.length) {
      const separator = tokens[i];
      if (separator?.type !== 'op' || separator.text !== ',') throw new OdsqlError(`unexpected ${describe(separator)}`, 'select');
      i += 1;
    }
  }
  if (items.length === 0) throw new OdsqlError('empty select', 'select');
  return items;
}

export interface OrderItem {
  readonly field: string;
  readonly descending: boolean;
}

/** An `order_by` list: `field [asc|desc]`, comma-separated. */
export function parseOrderBy(text: string, knownField: (name: string) => boolean): OrderItem[] {
  const items: OrderItem[] = [];
  for (const part of text.split(',')) {
    const words = part.trim().split(/\s+/);
    const [name, direction, extra] = words;
    if (name === undefined || name === '' || extra !== undefined) throw new OdsqlError(`cannot read ${JSON.stringify(part.trim())}`, 'order_by');
    const field = name.replace(/^`(.*)`$/, '$1');
    if (!knownField(field)) throw new OdsqlError(`Unknown field: ${field}`, 'order_by');
    const lower = direction?.toLowerCase();
    if (lower !== undefined && lower !== 'asc' && lower !== 'desc') throw new OdsqlError(`unknown direction ${JSON.stringify(direction)}`, 'order_by');
    items.push({ field, descending: lower === 'desc' });
  }
  return items;
}

/** Compares two rows by an order_by list; nulls come last whatever the direction, as ODS sorts. */
export function compareBy<T>(order: readonly OrderItem[], value: (row: T, field: string) => JsonValue | undefined): (a: T, b: T) => number {
  return (a, b) => {
    for (const { field, descending } of order) {
      const x = value(a, field) ?? null;
      const y = value(b, field) ?? null;
      if (x === null || y === null) {
        if (x !== y) return x === null ? 1 : -1;
        continue;
      }
      const sx = typeof x === 'object' ? JSON.stringify(x) : x;
      const sy = typeof y === 'object' ? JSON.stringify(y) : y;
      const order = sx < sy ? -1 : sx > sy ? 1 : 0;
      if (order !== 0) return descending ? -order : order;
    }
    return 0;
  };
}
