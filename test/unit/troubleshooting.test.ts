// Every message a user can meet is listed in docs/troubleshooting.md, and the doc lists none the
// code no longer has.
//
// What counts as a message (the extractor below, kept small on purpose):
// - TypeScript (lib/, hook/): every string or template literal that starts with `gpumem: ` (or
//   `gpumem <word>: `, as `gpumem exporter: `), joined with what `+` adds after it; and the message
//   (last argument, when it is a literal) of every `log().info|warn|error|debug(...)` call.
// - C (native/src/**/*.c, not the fakes or tests): every literal that starts with `gpumem: ` or
//   `gpumem-runtime: `, and every literal handed to a call that writes an error: one whose first
//   argument is an error buffer (`err`, `msg`, `why`, `what`: snprintf, nvml_fail, bad_args, ...),
//   gpumem_say (the interposer's stderr line), the shim's fail and refuse, fprintf(stderr, ...).
//   Adjacent literals are joined and string macros (`#define X "..."`, from .c and .h) expanded
//   first. Most native messages go into an `err` buffer without the `gpumem: ` prefix and the
//   caller adds it (TypeScript, or gpumem_say in the interposer): the fixed text is what is
//   checked, so the doc may show it with its prefix.
// - install.sh: the text of every `die "..."` (printed after `install.sh: `) and every
//   `echo "... warning: ..." >&2`.
// A message assembled from parts (`${what}: ${why}`, `fail(err, errlen, text, "too large")`) is
// checked part by part: each literal that carries words must be in the doc; one that is only holes
// and punctuation (`%s=%s %s`, `gpumem: ${e.message}`) is glue, not a message.
//
// Matching: a template hole `${...}` (whatever it holds, nested literals too), a printf conversion
// (`%s`, `%d`, `%llu`, ...) or a shell expansion (`$X`, `${X}`, `$(...)`) is a hole; adjacent
// holes, and holes joined by `-` alone (a UUID printed byte by byte), are one. Holes at a message's
// ends are dropped (the doc may show what fills them); an inner hole is written `…` or one
// `<name>` in the doc. The doc's entries are the code spans of its lines that start with "- `"; a
// code message is listed when some entry contains it (fixed text in order, holes between). An
// entry that contains no code message is stale (one that merely extends a message is not caught).
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');
const DOC = 'docs/troubleshooting.md';

/** A message as found: where, and its text as a list of fixed parts with a hole between each two. */
interface Found {
  where: string;
  parts: string[];
}

const HOLE = '\u0000';
const PREFIX = /^(gpumem(?: [a-z]+)?|gpumem-runtime|install\.sh): /;

/** The parts of a text whose holes are marked HOLE; undefined for glue (no letter outside holes and prefix). */
function shape(where: string, text: string): Found | undefined {
  // Holes joined by '-' alone are one: a UUID printed byte by byte.
  const trimmed = text.replace(/\n+$/, '').replace(new RegExp(`${HOLE}(?:-${HOLE})+`, 'g'), HOLE);
  if (!/[A-Za-z]/.test(trimmed.replace(PREFIX, '').split(HOLE).join(''))) return undefined;
  const parts = trimmed.split(new RegExp(`${HOLE}+`));
  while (parts.length > 1 && parts[0] === '') parts.shift();
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return { where, parts };
}

const walk = (dir: string, ext: RegExp): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name), ext) : ext.test(e.name) ? [join(dir, e.name)] : [],
  );

// --- TypeScript ---------------------------------------------------------------------------------

const LEVELS = new Set(['info', 'warn', 'error', 'debug']);

export function fromTypeScript(file: string, source: string): Found[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true);
  const out: Found[] = [];
  const at = (n: ts.Node): string => `${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
  const text = (n: ts.Node): string | undefined => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
    if (ts.isTemplateExpression(n)) return n.head.text + n.templateSpans.map((s) => HOLE + s.literal.text).join('');
    return undefined;
  };
  const logged = new Set<ts.Node>();
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && LEVELS.has(n.expression.name.text)) {
      const target = n.expression.expression;
      const last = n.arguments[n.arguments.length - 1];
      if (ts.isCallExpression(target) && target.expression.getText(sf) === 'log' && last && text(last) !== undefined) {
        logged.add(last);
        const f = shape(at(last), text(last)!);
        if (f) out.push(f);
      }
    }
    const s = text(n);
    if (s !== undefined && PREFIX.test(s) && !logged.has(n)) {
      // 'gpumem: ... ' + x + ')': the chain it starts, x a hole.
      let top: ts.Node = n;
      while (ts.isBinaryExpression(top.parent) && top.parent.operatorToken.kind === ts.SyntaxKind.PlusToken && top.parent.left === top) top = top.parent;
      const flat = (e: ts.Node): string =>
        ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken ? flat(e.left) + flat(e.right) : text(e) ?? HOLE;
      const f = shape(at(n), flat(top));
      if (f) out.push(f);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

// --- C ------------------------------------------------------------------------------------------

const C_SINKS = new Set(['gpumem_say', 'fail', 'refuse']);
const C_BUFFERS = new Set(['err', 'msg', 'why', 'what']);

interface Token {
  kind: 'str' | 'id' | 'punct';
  text: string;
  line: number;
}

const unescapeC = (s: string): string =>
  s.replace(/\\(x[0-9a-fA-F]+|[0-7]{1,3}|.)/g, (_, e: string) =>
    e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : /^[0-7]/.test(e) ? String.fromCharCode(parseInt(e, 8)) : ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[e] ?? e,
  );

/** Tokens of C source without comments and preprocessor lines; the #defines whose body is a string. */
function tokenizeC(source: string): { tokens: Token[]; defines: Map<string, Token[]> } {
  const tokens: Token[] = [];
  const defines = new Map<string, Token[]>();
  const re = /(\/\*[\s\S]*?\*\/|\/\/[^\n]*)|"((?:[^"\\\n]|\\.)*)"|'(?:[^'\\\n]|\\.)*'|([A-Za-z_]\w*)|(\n)|([^\s\w])|\s+|\d\w*/g;
  let line = 1;
  let m: RegExpExecArray | null;
  let lineStart = true;
  let directive: Token[] | undefined;
  let continued = false;
  while ((m = re.exec(source))) {
    const [all, comment, str, id, nl, punct] = m;
    if (nl) {
      line++;
      if (directive && !continued) {
        const [hash, kw, name, ...body] = directive;
        if (hash?.text === '#' && kw?.text === 'define' && name && body.length && body.every((x) => x.kind !== 'punct'))
          defines.set(name.text, body);
        directive = undefined;
      }
      continued = false;
      lineStart = true;
      continue;
    }
    if (comment) {
      line += all.split('\n').length - 1;
      continue;
    }
    if (all.trim() === '') continue;
    continued = punct === '\\';
    if (continued) continue;
    const tok: Token = str !== undefined ? { kind: 'str', text: unescapeC(str), line } : id ? { kind: 'id', text: id, line } : { kind: 'punct', text: punct ?? all, line };
    if (lineStart && tok.text === '#') directive = [];
    lineStart = false;
    if (directive) directive.push(tok);
    else tokens.push(tok);
  }
  return { tokens, defines };
}

const PRINTF = /%[-+#0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|z|j|t|L)?[diouxXcspfeEgG]/g;

export function fromC(file: string, source: string, macros: Map<string, Token[]>): Found[] {
  const { tokens } = tokenizeC(source);
  const expand = (tok: Token): string | undefined => {
    if (tok.kind === 'str') return tok.text;
    const body = tok.kind === 'id' ? macros.get(tok.text) : undefined;
    if (!body) return undefined;
    const parts = body.map(expand);
    return parts.every((p) => p !== undefined) ? parts.join('') : undefined;
  };
  const out = new Map<string, Found>();
  const add = (line: number, s: string): void => {
    const f = shape(`${file}:${line}`, s.replace(/%%/g, '%').replace(PRINTF, HOLE));
    if (f) out.set(`${line} ${f.parts.join(HOLE)}`, f);
  };
  // Runs of adjacent literals (and string macros) in tokens[from, to).
  const runs = (from: number, to: number, all: boolean): void => {
    for (let i = from; i < to; i++) {
      if (expand(tokens[i]!) === undefined || (tokens[i]!.kind === 'id' && tokens[i + 1]?.text === '(')) continue;
      const line = tokens[i]!.line;
      let s = '';
      let j = i;
      for (; j < to && expand(tokens[j]!) !== undefined && !(tokens[j]!.kind === 'id' && tokens[j + 1]?.text === '('); j++) s += expand(tokens[j]!);
      if (all || PREFIX.test(s)) add(line, s);
      i = j - 1;
    }
  };
  runs(0, tokens.length, false);
  for (let i = 0; i < tokens.length; i++) {
    const name = tokens[i]!.text;
    if (tokens[i]!.kind !== 'id' || tokens[i + 1]?.text !== '(') continue;
    const first = tokens[i + 2]?.text ?? '';
    const sink = C_BUFFERS.has(first) || (C_SINKS.has(name) && tokens[i - 1]?.text !== 'int') || (name === 'fprintf' && first === 'stderr');
    if (!sink) continue;
    let depth = 0;
    let end = i + 1;
    for (; end < tokens.length; end++) {
      if (tokens[end]!.text === '(') depth++;
      if (tokens[end]!.text === ')' && --depth === 0) break;
    }
    runs(i + 2, end, true);
  }
  return [...out.values()];
}

function cMacros(files: string[]): Map<string, Token[]> {
  const all = new Map<string, Token[]>();
  for (const f of files) for (const [k, v] of tokenizeC(readFileSync(join(ROOT, f), 'utf8')).defines) all.set(k, v);
  return all;
}

// --- install.sh ---------------------------------------------------------------------------------

export function fromShell(file: string, source: string): Found[] {
  const out: Found[] = [];
  // $(...) first: it may hold quotes of its own ("$NODE" --version).
  const command = /\$\((?:[^()]|\([^()]*\))*\)/g;
  const holes = (s: string): string => s.replace(/\$\{[^}]*\}|\$\w+|\$[*@#?]/g, HOLE).replace(/\\(.)/g, '$1');
  source.split('\n').forEach((raw, i) => {
    const line = raw.replace(command, HOLE);
    const said = [...line.matchAll(/\bdie "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    const w = line.match(/\becho "\s*(warning: (?:[^"\\]|\\.)*)" >&2/);
    for (const text of [...said, ...(w ? [w[1]!] : [])]) {
      const f = shape(`${file}:${i + 1}`, holes(text));
      if (f) out.push(f);
    }
  });
  return out;
}

// --- the doc ------------------------------------------------------------------------------------

interface Entry {
  line: number;
  text: string;
}

/** The code spans of the doc's lines that start with "- `". */
export function entries(doc: string): Entry[] {
  const out: Entry[] = [];
  doc.split('\n').forEach((line, i) => {
    if (!line.startsWith('- `')) return;
    for (const m of line.matchAll(/(`+)(?!`)([\s\S]*?[^`])\1(?!`)/g)) out.push({ line: i + 1, text: m[2]!.trim() });
  });
  return out;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const patternOf = (f: Found): RegExp => new RegExp(f.parts.map(escape).join('(?:…|<[^<>`]+>)'));

/** The messages no entry lists, and the entries no message matches. */
export function compare(found: Found[], doc: string): { missing: Found[]; stale: Entry[] } {
  const es = entries(doc);
  const patterns = found.map((f) => ({ f, re: patternOf(f) }));
  return {
    missing: patterns.filter((p) => !es.some((e) => p.re.test(e.text))).map((p) => p.f),
    stale: es.filter((e) => !patterns.some((p) => p.re.test(e.text))),
  };
}

const shown = (f: Found): string => f.parts.join('…');

function allMessages(): Found[] {
  const tsFiles = [...walk('lib', /\.ts$/), ...walk('hook', /\.ts$/)];
  const cFiles = walk('native/src', /\.[ch]$/);
  const macros = cMacros([...cFiles, ...walk('native/include', /\.h$/)]);
  const read = (f: string): string => readFileSync(join(ROOT, f), 'utf8');
  return [
    ...tsFiles.flatMap((f) => fromTypeScript(f, read(f))),
    ...cFiles.filter((f) => f.endsWith('.c')).flatMap((f) => fromC(f, read(f), macros)),
    ...fromShell('install.sh', read('install.sh')),
  ].map((f) => ({ ...f, where: relative(ROOT, join(ROOT, f.where)) }));
}

t.test('every message in the code is listed in docs/troubleshooting.md, and the doc lists no message the code lost', async (t) => {
  const found = allMessages();
  t.ok(found.length > 100, `found ${found.length} messages (the extractor still finds them)`);
  const { missing, stale } = compare(found, readFileSync(join(ROOT, DOC), 'utf8'));
  // One failure a message, naming where it is and the line to add: tap's diff would wrap them.
  for (const f of missing) t.fail(`${f.where}: not in ${DOC}; add the line: - \`${shown(f)}\` (holes as … or <name>), then its cause and fix`);
  for (const e of stale) t.fail(`${DOC}:${e.line}: \`${e.text}\` is no message of the code any more; remove it, or correct it to the code's text`);
  if (!missing.length && !stale.length) t.pass(`each of the ${found.length} messages is listed, and every entry is one of them`);
});

t.test('a message added to the code and not to the doc is reported with its file and line; a doc entry the code lost is stale', async (t) => {
  const doc = '- `gpumem: the widget <name> is broken; fix it`\n- `gpumem: a message the code lost`\n';
  const code = 'const w = 1;\nthrow new Error(`gpumem: the widget ${w} is broken; fix it`);\nthrow new Error(`gpumem: a new message ${w}`);\n';
  const { missing, stale } = compare(fromTypeScript('lib/x.ts', code), doc);
  t.same(missing.map((f) => `${f.where}: ${shown(f)}`), ['lib/x.ts:3: gpumem: a new message ']);
  t.same(stale.map((e) => e.line), [2]);

  const c = '#define HELP "use 8g"\nint f(char *err, int errlen) {\n  return fail(err, errlen, "", "too large");\n  snprintf(err, (size_t)errlen, "%s is not a size; " HELP, q);\n  snprintf(path, 9, "%s/x", d);\n}\n';
  const macros = tokenizeC(c).defines;
  t.same(fromC('native/src/x.c', c, macros).map(shown), ['too large', ' is not a size; use 8g'], 'parts, macros expanded, paths not messages');
  t.same(
    fromShell('install.sh', 'die "node >= 20 is required; $NODE is $("$NODE" --version)"\n  echo "      warning: no $X here" >&2\n').map(shown),
    ['node >= 20 is required; … is ', 'warning: no … here'],
  );
});
