/**
 * The LogQL subset the lab's Loki answers, parsed from tokens: a stream
 * selector (`{service="gpuaas-api", host_role=~"app_.*"}`), then a pipeline of
 * line filters (`|= "text"`, `!= "text"`, `|~ "re"`, `!~ "re"`), the `json`
 * parser (`| json`) and label filters (`| correlation_id="c-1"`, `!=`, `=~`,
 * `!~`). Anything else (metric queries, other parsers, formatters) is a
 * syntax error with its column, as Loki reports one.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
  /** Compiled once for =~ and !~; anchored on both ends, as Loki's label regexes are. */
  regex?: RegExp;
}

export type PipelineStage =
  { kind: 'line_filter'; op: '|=' | '!=' | '|~' | '!~'; text: string; regex?: RegExp } | { kind: 'json' } | { kind: 'label_filter'; matcher: LabelMatcher };

export interface LogQuery {
  selector: LabelMatcher[];
  pipeline: PipelineStage[];
}

export class LogQlSyntaxError extends Error {
  constructor(
    readonly detail: string,
    readonly col: number,
  ) {
    super(`parse error at line 1, col ${col}: ${detail}`);
    this.name = 'LogQlSyntaxError';
  }
}

type TokenKind = '{' | '}' | ',' | 'ident' | 'string' | 'op' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  /** 1-based column of the token's first character. */
  col: number;
}

const OPERATORS = ['|=', '|~', '!=', '!~', '=~', '=', '|'] as const;

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const col = i + 1;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '{' || c === '}' || c === ',') {
      tokens.push({ kind: c, text: c, col });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      tokens.push({ kind: 'ident', text: src.slice(i, j), col });
      i = j;
    } else if (c === '"') {
      const [text, end] = readQuoted(src, i);
      tokens.push({ kind: 'string', text, col });
      i = end;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) throw new LogQlSyntaxError('unterminated raw string', col);
      tokens.push({ kind: 'string', text: src.slice(i + 1, end), col });
      i = end + 1;
    } else {
      const op = OPERATORS.find((o) => src.startsWith(o, i));
      if (!op) throw new LogQlSyntaxError(`unexpected character ${JSON.stringify(c)}`, col);
      tokens.push({ kind: 'op', text: op, col });
      i += op.length;
    }
  }
  tokens.push({ kind: 'eof', text: '', col: src.length + 1 });
  return tokens;
}

/** A double-quoted string with Go's escapes (\" \\ \n \t); returns its value and the index after the closing quote. */
function readQuoted(src: string, start: number): [string, number] {
  let out = '';
  let i = start + 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"') return [out, i + 1];
    if (c === '\\') {
      const next = src[i + 1];
      const escapes: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r' };
      if (next === undefined || !(next in escapes)) throw new LogQlSyntaxError(`invalid escape \\${next ?? ''} in string`, i + 1);
      out += escapes[next];
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  throw new LogQlSyntaxError('unterminated string', start + 1);
}

function compile(pattern: string, anchored: boolean, col: number): RegExp {
  try {
    return new RegExp(anchored ? `^(?:${pattern})$` : pattern);
  } catch (err) {
    throw new LogQlSyntaxError(`invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`, col);
  }
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): LogQuery {
    const selector = this.selector();
    const pipeline: PipelineStage[] = [];
    while (this.peek().kind !== 'eof') pipeline.push(this.stage());
    return { selector, pipeline };
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  private expect(kind: TokenKind, what: string): Token {
    const t = this.next();
    if (t.kind !== kind) throw new LogQlSyntaxError(`expected ${what}, got ${describe(t)}`, t.col);
    return t;
  }

  private selector(): LabelMatcher[] {
    const open = this.peek();
    if (open.kind !== '{') throw new LogQlSyntaxError(`a log query starts with a stream selector {...}, got ${describe(open)}`, open.col);
    this.next();
    const matchers: LabelMatcher[] = [this.matcher()];
    while (this.peek().kind === ',') {
      this.next();
      matchers.push(this.matcher());
    }
    this.expect('}', '"," or "}"');
    // Loki refuses a selector that would match every stream.
    if (matchers.every((m) => (m.regex ? m.regex.test('') : m.op === '=' ? m.value === '' : true))) {
      throw new LogQlSyntaxError('queries require at least one regexp or equality matcher that does not have an empty-compatible value', open.col);
    }
    return matchers;
  }

  private matcher(): LabelMatcher {
    const name = this.expect('ident', 'a label name');
    const op = this.next();
    if (op.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(op.text)) throw new LogQlSyntaxError(`expected =, !=, =~ or !~, got ${describe(op)}`, op.col);
    const value = this.expect('string', 'a quoted label value');
    const matchOp = op.text as MatchOp;
    const regex = matchOp === '=~' || matchOp === '!~' ? compile(value.text, true, value.col) : undefined;
    return { name: name.text, op: matchOp, value: value.text, regex };
  }

  private stage(): PipelineStage {
    const t = this.next();
    if (t.kind === 'op' && ['|=', '!=', '|~', '!~'].includes(t.text)) {
      const text = this.expect('string', 'a quoted filter text');
      const op = t.text as '|=' | '!=' | '|~' | '!~';
      return { kind: 'line_filter', op, text: text.text, regex: op === '|~' || op === '!~' ? compile(text.text, false, text.col) : undefined };
    }
    if (t.kind !== 'op' || t.text !== '|') throw new LogQlSyntaxError(`expected a pipeline stage (|, |=, !=, |~, !~), got ${describe(t)}`, t.col);
    const word = this.expect('ident', 'json or a label filter after |');
    const after = this.peek();
    if (after.kind === 'op' && ['=', '!=', '=~', '!~'].includes(after.text)) {
      this.pos--;
      return { kind: 'label_filter', matcher: this.matcher() };
    }
    if (word.text !== 'json')
      throw new LogQlSyntaxError(`unsupported pipeline stage ${JSON.stringify(word.text)} (the lab knows json and label filters)`, word.col);
    if (after.kind !== 'eof' && after.kind !== 'op') throw new LogQlSyntaxError(`json takes no parameters here, got ${describe(after)}`, after.col);
    return { kind: 'json' };
  }
}

function describe(t: Token): string {
  return t.kind === 'eof' ? 'end of query' : t.kind === 'string' ? `string ${JSON.stringify(t.text)}` : JSON.stringify(t.text);
}

export function parseLogQuery(src: string): LogQuery {
  if (!src.trim()) throw new LogQlSyntaxError('empty query', 1);
  return new Parser(tokenize(src)).parse();
}

export function matches(m: LabelMatcher, value: string | undefined): boolean {
  const v = value ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return m.regex!.test(v);
    case '!~':
      return !m.regex!.test(v);
  }
}
