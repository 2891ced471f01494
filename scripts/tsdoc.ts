/**
 * What the docs generator reads from the sources rather than from the specs: the TSDoc block above a
 * component's factory (split into its description, `Delivery:`, `Errors:` and `Counters:` parts and
 * its `@example`s), and the counters and error codes the component's own files use. Syntax only
 * (`ts.createSourceFile`, no type checker), so it runs in well under a second.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** A factory's TSDoc, split. Every part is Markdown as written in the comment. */
export interface FactoryDoc {
  /** Repository-relative path of the file declaring the factory, with `/` separators. */
  file: string;
  /** The comment without its labelled parts and tags; '' when there is no comment. */
  description: string;
  delivery: string | undefined;
  errors: string | undefined;
  counters: string | undefined;
  examples: string[];
}

/** What a component's files (its own, its folder's helpers, protocol modules) count and raise. */
export interface SourceFacts {
  /** `ComponentCounters` types created (`SOURCE`, `SINK`, …). */
  counterTypes: string[];
  /** Counter names incremented or set with a literal name, sorted. */
  counters: string[];
  /** Error codes raised (`new XError('FLUME_…'`, the classes that carry a code, `…Code: 'FLUME_…'`), sorted. */
  errorCodes: string[];
}

/** Folders whose files the component-file scan never enters: the core mechanism and the composition root. */
const SHARED = ['lib/core/', 'lib/agent/'];
/** `lib/<folder>/` that hold components, not protocols (a protocol folder's helpers belong to whoever imports them). */
const COMPONENT_FOLDERS = new Set(['core', 'agent', 'sources', 'sinks', 'serializers']);

const LABELS = ['Delivery', 'Errors', 'Counters', 'Metrics'] as const;
type Label = (typeof LABELS)[number];
// A label opens a paragraph or a sentence: "Delivery: …", "Counters beside Flume's: …", "Metrics (`SINK`): …".
const LABEL = /(?<=^|[.)]\s+)(Delivery|Errors|Counters|Metrics)\b[^.:\n]{0,30}:\s+/g;

export class SourceIndex {
  private readonly files = new Map<string, ts.SourceFile>();
  private errorClassCodes: Map<string, string> | undefined;

  /** Indexes every `.ts` file under `dirs` (repository-relative) of the repository at `root`. */
  constructor(
    readonly root: string,
    dirs: readonly string[] = ['lib', 'operators'],
  ) {
    for (const dir of dirs) for (const file of walk(path.join(root, dir))) this.load(file);
  }

  private load(abs: string): ts.SourceFile {
    const rel = toRel(this.root, abs);
    let sf = this.files.get(rel);
    if (!sf) {
      sf = ts.createSourceFile(rel, readFileSync(abs, 'utf8'), ts.ScriptTarget.ES2022, true);
      this.files.set(rel, sf);
    }
    return sf;
  }

  /**
   * The file exporting the factory `name` and its TSDoc. When several files export that name, the one
   * declaring the spec (`name: '<name>'`) wins. Throws when no file exports it.
   */
  factoryDoc(name: string): FactoryDoc {
    const found: { file: string; comment: string | undefined }[] = [];
    for (const [file, sf] of this.files) {
      const decl = exportedDeclaration(sf, name);
      if (decl) found.push({ file, comment: decl.comment });
    }
    const declaring = found.length > 1 ? found.filter((f) => this.files.get(f.file)!.text.includes(`name: '${name}'`)) : found;
    const hit = declaring[0] ?? found[0];
    if (!hit) throw new Error(`no file under lib/ or operators/ exports the factory ${name}`);
    return { file: hit.file, ...splitDoc(hit.comment ?? '') };
  }

  /** The counters and error codes used by `file` and the files it imports from its own folder and protocol folders. */
  facts(file: string): SourceFacts {
    const types = new Set<string>();
    const counters = new Set<string>();
    const codes = new Set<string>();
    const classes = this.errorClasses();
    for (const rel of this.closure(file)) {
      const sf = this.files.get(rel)!;
      const visit = (node: ts.Node): void => {
        if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
          const callee = node.expression.text;
          const first = node.arguments?.[0];
          if (callee === 'ComponentCounters' && first && ts.isStringLiteral(first)) types.add(first.text);
          else if (first && ts.isStringLiteral(first) && /^FLUME_[A-Z_]+$/.test(first.text) && callee.endsWith('Error')) codes.add(first.text);
          else if (classes.has(callee)) codes.add(classes.get(callee)!);
        } else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
          const method = node.expression.name.text;
          const target = node.expression.expression.getText(sf);
          const first = node.arguments[0];
          if ((method === 'inc' || method === 'set') && /(^|\.)(metrics|counters)$/.test(target) && first && ts.isStringLiteral(first) && /^[A-Z]\w+$/.test(first.text))
            counters.add(first.text);
        } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) {
          // Core helpers that make the counters themselves when given none (a guess, marked '?').
          if (node.expression.text === 'createSink') types.add('SINK?');
          if (node.expression.text === 'pollSource') types.add('SOURCE?');
        } else if (ts.isPropertyAssignment(node) && /Code$/.test(node.name.getText(sf)) && ts.isStringLiteral(node.initializer) && /^FLUME_[A-Z_]+$/.test(node.initializer.text)) {
          codes.add(node.initializer.text);
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
    // A guessed type counts only when no file made its counters explicitly.
    const explicit = [...types].filter((t) => !t.endsWith('?'));
    const counterTypes = explicit.length > 0 ? explicit : [...types].map((t) => t.slice(0, -1));
    return { counterTypes: [...new Set(counterTypes)].sort(), counters: [...counters].sort(), errorCodes: [...codes].sort() };
  }

  /** Error classes of lib/core/errors.ts that fix their code (`super('FLUME_…'`), by class name. */
  errorClasses(): Map<string, string> {
    if (this.errorClassCodes) return this.errorClassCodes;
    const out = new Map<string, string>();
    const sf = this.files.get('lib/core/errors.ts');
    const visit = (node: ts.Node, cls: string | undefined): void => {
      if (ts.isClassDeclaration(node) && node.name) cls = node.name.text;
      if (cls && ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword) {
        const first = node.arguments[0];
        if (first && ts.isStringLiteral(first)) out.set(cls, first.text);
      }
      ts.forEachChild(node, (child) => visit(child, cls));
    };
    if (sf) visit(sf, undefined);
    this.errorClassCodes = out;
    return out;
  }

  /** `file` and what it imports, transitively, within its own folder (and below) and protocol folders. */
  closure(file: string): string[] {
    const home = path.posix.dirname(file) + '/';
    const seen = new Set<string>([file]);
    const queue = [file];
    while (queue.length > 0) {
      const sf = this.files.get(queue.shift()!);
      if (!sf) continue;
      for (const st of sf.statements) {
        const spec = (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? st.moduleSpecifier.text : undefined;
        if (!spec?.startsWith('.')) continue;
        if (ts.isImportDeclaration(st) && st.importClause?.isTypeOnly) continue;
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(sf.fileName), spec.replace(/\.js$/, '.ts')));
        if (seen.has(target) || !this.files.has(target)) continue;
        if (SHARED.some((s) => target.startsWith(s))) continue;
        const protocol = /^lib\/([^/]+)\//.exec(target);
        if (!target.startsWith(home) && !(protocol && !COMPONENT_FOLDERS.has(protocol[1]!))) continue;
        seen.add(target);
        queue.push(target);
      }
    }
    return [...seen];
  }

  /** The indexed files under a repository-relative folder (ending in `/`), sorted. */
  filesUnder(dir: string): string[] {
    return [...this.files.keys()].filter((f) => f.startsWith(dir)).sort();
  }

  /** Names `lib/index.ts` exports, the package's public face. */
  publicExports(): Set<string> {
    const out = new Set<string>();
    const sf = this.files.get('lib/index.ts');
    for (const st of sf?.statements ?? []) {
      if (ts.isExportDeclaration(st) && st.exportClause && ts.isNamedExports(st.exportClause) && !st.isTypeOnly) {
        for (const el of st.exportClause.elements) if (!el.isTypeOnly) out.add(el.name.text);
      }
    }
    return out;
  }
}

function exportedDeclaration(sf: ts.SourceFile, name: string): { comment: string | undefined } | undefined {
  for (const st of sf.statements) {
    const exported = ts.canHaveModifiers(st) && ts.getModifiers(st)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    const names = ts.isFunctionDeclaration(st)
      ? [st.name?.text]
      : ts.isVariableStatement(st)
        ? st.declarationList.declarations.map((d) => (ts.isIdentifier(d.name) ? d.name.text : undefined))
        : [];
    // The first declaration (an overloaded function's first signature) carries the comment.
    if (names.includes(name)) return { comment: docComment(sf, st) };
  }
  return undefined;
}

/** The last `/** … *\/` block right before `node`, without its delimiters and leading `*`s. */
function docComment(sf: ts.SourceFile, node: ts.Node): string | undefined {
  const ranges = ts.getLeadingCommentRanges(sf.text, node.pos) ?? [];
  const doc = ranges.filter((r) => sf.text.startsWith('/**', r.pos)).at(-1);
  if (!doc) return undefined;
  return sf.text
    .slice(doc.pos + 3, doc.end - 2)
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, '').replace(/\s+$/, ''))
    .join('\n')
    .trim();
}

/** Splits a comment into its description, labelled parts and `@example`s. Exported for tests. */
export function splitDoc(comment: string): Omit<FactoryDoc, 'file'> {
  const [body, examples] = splitTags(comment);
  const parts: Partial<Record<Label, string[]>> = {};
  const kept: string[] = [];
  for (const paragraph of paragraphs(body)) {
    const matches = [...paragraph.matchAll(LABEL)];
    if (matches.length === 0) {
      kept.push(paragraph);
      continue;
    }
    let rest = paragraph.slice(0, matches[0]!.index).trimEnd();
    matches.forEach((m, i) => {
      const label = m[1] as Label;
      const end = i + 1 < matches.length ? matches[i + 1]!.index : paragraph.length;
      let text = paragraph.slice(m.index + m[0].length, end).trim();
      if (label === 'Counters' || label === 'Metrics') {
        // A counter list is one sentence; what follows it in the paragraph is about something else.
        const stop = /\.\s+(?=[A-Z])/.exec(text);
        if (stop) {
          rest = join(rest, text.slice(stop.index + 1).trim());
          text = text.slice(0, stop.index + 1);
        }
        // The label is part of the sentence ("Counters beside Flume's: …"), kept for its meaning.
        text = `${m[0].trim()} ${text}`;
      }
      const key = label === 'Metrics' ? 'Counters' : label;
      (parts[key] ??= []).push(text);
    });
    if (rest.trim()) kept.push(rest.trim());
  }
  return {
    description: kept.join('\n\n'),
    delivery: parts.Delivery?.join('\n\n'),
    errors: parts.Errors?.join('\n\n'),
    counters: parts.Counters?.join('\n\n'),
    examples,
  };
}

function join(a: string, b: string): string {
  return a && b ? `${a} ${b}` : a || b;
}

/** The comment's text before its first tag, and the bodies of its `@example` tags. */
function splitTags(comment: string): [string, string[]] {
  const lines = comment.split('\n');
  const body: string[] = [];
  const examples: string[] = [];
  let current: string[] | undefined;
  let inFence = false;
  for (const line of lines) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const tag = inFence ? null : /^@(\w+)\s?(.*)$/.exec(line);
    if (tag) {
      current = tag[1] === 'example' ? [] : undefined;
      if (current) {
        examples.push('');
        if (tag[2]) current.push(tag[2]);
      }
    } else if (current) current.push(line);
    else if (examples.length === 0) body.push(line);
    if (current && examples.length > 0) examples[examples.length - 1] = current.join('\n').trim();
  }
  return [body.join('\n').trim(), examples.filter((e) => e.length > 0)];
}

/** Paragraphs separated by blank lines; a fenced block stays whole. */
function paragraphs(text: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let inFence = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (!inFence && line.trim() === '') {
      if (current.length) out.push(current.join('\n'));
      current = [];
    } else current.push(line);
  }
  if (current.length) out.push(current.join('\n'));
  return out;
}

function walk(dir: string, out: string[] = []): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function toRel(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join('/');
}
