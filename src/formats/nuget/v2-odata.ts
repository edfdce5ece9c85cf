// The subset of OData v2 query options the NuGet v2 feed answers: $filter (a small strict grammar, parsed into
// an expression tree and interpreted; never compiled or eval'd), $orderby, $top, $skip, and the function
// parameters' string literals ('it''s'). Anything outside the grammar is Invalid (400 in OData's XML error).
//   filter  := or ; or := and ('or' and)* ; and := unary ('and' unary)* ; unary := 'not' unary | cmp
//   cmp     := term (('eq'|'ne'|'gt'|'ge'|'lt'|'le') term)?
//   term    := '(' or ')' | literal | Property | fn '(' or (',' or)* ')'
//   literal := 'string' | integer | true | false | null ;  fn := tolower toupper trim length substringof startswith endswith indexof
import { invalid } from '../../core/errors.ts';
import { compareVersions } from './versions.ts';

export type Value = string | number | boolean | null;
/** The values of one feed entry the query options may name. */
export type Row = Record<string, Value>;
type Type = 'string' | 'number' | 'boolean' | 'null';

export const PROPERTIES: Record<string, Type> = {
  Id: 'string', Version: 'string', NormalizedVersion: 'string', Title: 'string', Description: 'string', Summary: 'string',
  Tags: 'string', Authors: 'string', Published: 'string', Created: 'string', LastUpdated: 'string',
  IsLatestVersion: 'boolean', IsAbsoluteLatestVersion: 'boolean', IsPrerelease: 'boolean', Listed: 'boolean', RequireLicenseAcceptance: 'boolean',
  DownloadCount: 'number', VersionDownloadCount: 'number', PackageSize: 'number',
};

const FUNCTIONS: Record<string, { args: Type[]; returns: Type; call: (...a: never[]) => Value }> = {
  tolower: { args: ['string'], returns: 'string', call: (s: string) => s.toLowerCase() },
  toupper: { args: ['string'], returns: 'string', call: (s: string) => s.toUpperCase() },
  trim: { args: ['string'], returns: 'string', call: (s: string) => s.trim() },
  length: { args: ['string'], returns: 'number', call: (s: string) => s.length },
  substringof: { args: ['string', 'string'], returns: 'boolean', call: (needle: string, hay: string) => hay.includes(needle) },
  startswith: { args: ['string', 'string'], returns: 'boolean', call: (s: string, p: string) => s.startsWith(p) },
  endswith: { args: ['string', 'string'], returns: 'boolean', call: (s: string, p: string) => s.endsWith(p) },
  indexof: { args: ['string', 'string'], returns: 'number', call: (s: string, p: string) => s.indexOf(p) },
};

const COMPARISONS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const;
type Comparison = (typeof COMPARISONS)[number];

export type Expr =
  | { k: 'lit'; v: Value }
  | { k: 'prop'; name: string }
  | { k: 'call'; fn: string; args: Expr[] }
  | { k: 'cmp'; op: Comparison; l: Expr; r: Expr }
  | { k: 'and' | 'or'; l: Expr; r: Expr }
  | { k: 'not'; e: Expr };

type Token = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'word'; v: string } | { t: 'punct'; v: '(' | ')' | ',' };

const MAX_FILTER = 2048;
const MAX_DEPTH = 32;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t') i++;
    else if (c === '(' || c === ')' || c === ',') (out.push({ t: 'punct', v: c }), i++);
    else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw invalid('unterminated string literal in $filter');
        if (src[i] === "'") {
          if (src[i + 1] === "'") (s += "'", (i += 2));
          else break;
        } else s += src[i++];
      }
      i++;
      out.push({ t: 'str', v: s });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?\d{1,15}/.exec(src.slice(i));
      if (!m) throw invalid(`unexpected "${c}" in $filter`);
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    } else throw invalid(`unexpected "${c}" in $filter`);
  }
  return out;
}

/** Parses a $filter expression; throws Invalid (with the reason) on anything outside the grammar or mistyped. */
export function parseFilter(src: string): Expr {
  if (src.length > MAX_FILTER) throw invalid('$filter is too long');
  const toks = tokenize(src);
  let pos = 0;
  const peek = () => toks[pos];
  const word = (w: string) => peek()?.t === 'word' && (peek() as { v: string }).v === w;
  const expect = (p: string) => {
    const t = toks[pos++];
    if (!t || t.t !== 'punct' || t.v !== p) throw invalid(`$filter: expected "${p}"`);
  };
  const or = (d: number): Expr => {
    if (d > MAX_DEPTH) throw invalid('$filter is nested too deeply');
    let l = and(d);
    while (word('or')) (pos++, (l = { k: 'or', l, r: and(d) }));
    return l;
  };
  const and = (d: number): Expr => {
    let l = unary(d);
    while (word('and')) (pos++, (l = { k: 'and', l, r: unary(d) }));
    return l;
  };
  const unary = (d: number): Expr => {
    if (word('not')) return (pos++, { k: 'not', e: unary(d + 1) });
    const l = term(d);
    const t = peek();
    if (t?.t === 'word' && (COMPARISONS as readonly string[]).includes(t.v)) {
      pos++;
      return { k: 'cmp', op: t.v as Comparison, l, r: term(d) };
    }
    return l;
  };
  const term = (d: number): Expr => {
    const t = toks[pos++];
    if (!t) throw invalid('$filter ends too early');
    if (t.t === 'punct' && t.v === '(') {
      const e = or(d + 1);
      expect(')');
      return e;
    }
    if (t.t === 'str' || t.t === 'num') return { k: 'lit', v: t.v };
    if (t.t !== 'word') throw invalid(`$filter: unexpected "${t.v}"`);
    if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
    if (t.v === 'null') return { k: 'lit', v: null };
    if (Object.hasOwn(FUNCTIONS, t.v) && peek()?.t === 'punct' && (peek() as { v: string }).v === '(') {
      pos++;
      const args = [or(d + 1)];
      while (peek()?.t === 'punct' && (peek() as { v: string }).v === ',') (pos++, args.push(or(d + 1)));
      expect(')');
      return { k: 'call', fn: t.v, args };
    }
    if (Object.hasOwn(PROPERTIES, t.v)) return { k: 'prop', name: t.v };
    throw invalid(`$filter: unknown property or function "${t.v.slice(0, 60)}"`);
  };
  const e = or(0);
  if (pos < toks.length) throw invalid(`$filter: unexpected "${String(toks[pos].v).slice(0, 60)}"`);
  if (typeOf(e) !== 'boolean') throw invalid('$filter must be a boolean expression');
  return e;
}

function typeOf(e: Expr): Type {
  switch (e.k) {
    case 'lit':
      return e.v === null ? 'null' : (typeof e.v as Type);
    case 'prop':
      return PROPERTIES[e.name];
    case 'call': {
      const f = FUNCTIONS[e.fn];
      if (e.args.length !== f.args.length) throw invalid(`$filter: ${e.fn} takes ${f.args.length} argument(s)`);
      e.args.forEach((a, i) => {
        if (typeOf(a) !== f.args[i]) throw invalid(`$filter: argument ${i + 1} of ${e.fn} must be a ${f.args[i]}`);
      });
      return f.returns;
    }
    case 'cmp': {
      const [l, r] = [typeOf(e.l), typeOf(e.r)];
      if (l !== r && l !== 'null' && r !== 'null') throw invalid(`$filter: cannot compare a ${l} with a ${r}`);
      if (e.op !== 'eq' && e.op !== 'ne' && (l === 'boolean' || l === 'null' || r === 'null')) throw invalid(`$filter: ${e.op} needs numbers or strings`);
      return 'boolean';
    }
    case 'and':
    case 'or':
      if (typeOf(e.l) !== 'boolean' || typeOf(e.r) !== 'boolean') throw invalid(`$filter: ${e.k} needs boolean operands`);
      return 'boolean';
    case 'not':
      if (typeOf(e.e) !== 'boolean') throw invalid('$filter: not needs a boolean operand');
      return 'boolean';
  }
}

function compare(a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Evaluates a parsed $filter against one entry (null propagates as false, as OData's does). */
export function evaluate(e: Expr, row: Row): Value {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'prop':
      return row[e.name] ?? null;
    case 'call': {
      const args = e.args.map((a) => evaluate(a, row));
      if (args.some((a) => a === null)) return null;
      return (FUNCTIONS[e.fn].call as (...a: Value[]) => Value)(...args);
    }
    case 'cmp': {
      const [l, r] = [evaluate(e.l, row), evaluate(e.r, row)];
      if (e.op === 'eq') return l === r;
      if (e.op === 'ne') return l !== r;
      if (l === null || r === null) return false;
      const c = compare(l, r);
      return e.op === 'gt' ? c > 0 : e.op === 'ge' ? c >= 0 : e.op === 'lt' ? c < 0 : c <= 0;
    }
    case 'and':
      return evaluate(e.l, row) === true && evaluate(e.r, row) === true;
    case 'or':
      return evaluate(e.l, row) === true || evaluate(e.r, row) === true;
    case 'not': {
      const v = evaluate(e.e, row);
      return v === null ? null : !v;
    }
  }
}

export interface OrderBy {
  prop: string;
  desc: boolean;
}

const ORDERABLE = ['Id', 'Version', 'NormalizedVersion', 'Title', 'Published', 'Created', 'LastUpdated', 'DownloadCount', 'VersionDownloadCount', 'PackageSize'];

/** Parses `$orderby` (`Prop [asc|desc], ...`); versions order as NuGet versions, ids case-insensitively. */
export function parseOrderBy(src: string): OrderBy[] {
  if (src.length > 256) throw invalid('$orderby is too long');
  return src.split(',').map((part) => {
    const m = /^\s*([A-Za-z]+)(?:\s+(asc|desc))?\s*$/.exec(part);
    if (!m || !ORDERABLE.includes(m[1])) throw invalid(`$orderby: cannot order by "${part.trim().slice(0, 60)}"`);
    return { prop: m[1], desc: m[2] === 'desc' };
  });
}

/** A comparator over rows for `order`. */
export function comparator(order: OrderBy[]): (a: Row, b: Row) => number {
  return (a, b) => {
    for (const o of order) {
      const [x, y] = [a[o.prop], b[o.prop]];
      let c: number;
      if (o.prop === 'Version' || o.prop === 'NormalizedVersion') c = compareVersions(String(x), String(y));
      else if (o.prop === 'Id' || o.prop === 'Title') c = String(x ?? '').toLowerCase().localeCompare(String(y ?? '').toLowerCase());
      else c = compare(x, y);
      if (c) return o.desc ? -c : c;
    }
    return 0;
  };
}

/** A non-negative integer query option ($top, $skip), or undefined when absent. */
export function parseCount(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,9}$/.test(v.trim())) throw invalid(`${name} must be a non-negative integer`);
  return Number(v.trim());
}

/** A function parameter: an OData string literal ('x', quotes doubled inside), or a bare word as some clients send. */
export function stringParam(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (s.length >= 2 && s.startsWith("'") && s.endsWith("'")) {
    const inner = s.slice(1, -1);
    if (inner.replace(/''/g, '').includes("'")) throw invalid(`bad string literal ${s.slice(0, 60)}`);
    return inner.replace(/''/g, "'");
  }
  if (s.includes("'")) throw invalid(`bad string literal ${s.slice(0, 60)}`);
  return s;
}

/** A boolean function parameter (`true`/`false`), default `dflt`. */
export function boolParam(name: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined || v === '') return dflt;
  if (v === 'true' || v === 'false') return v === 'true';
  throw invalid(`${name} must be true or false`);
}
