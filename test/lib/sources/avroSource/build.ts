/**
 * lib/ and operators/ transpiled to JavaScript in a temporary directory (no type check), with the
 * given test scripts copied in at their own relative paths, so a child `node` runs them without a
 * TypeScript loader (whose compiler would weigh on the child's RSS).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

export async function buildForChild(scripts: readonly string[]): Promise<string> {
  const ts = (await import('typescript')).default;
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'rxflume-avro-child-'));
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await fs.readdir(path.join(ROOT, rel), { withFileTypes: true })) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const source = await fs.readFile(path.join(ROOT, child), 'utf8');
        const { outputText } = ts.transpileModule(source, { fileName: entry.name, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
        await fs.mkdir(path.join(out, rel), { recursive: true });
        await fs.writeFile(path.join(out, child.replace(/\.ts$/, '.js')), outputText);
      }
    }
  };
  for (const dir of ['lib', 'operators']) await walk(dir);
  for (const script of scripts) {
    await fs.mkdir(path.join(out, path.dirname(script)), { recursive: true });
    await fs.copyFile(path.join(ROOT, script), path.join(out, script));
  }
  await fs.writeFile(path.join(out, 'package.json'), '{"type":"module"}\n');
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  return out;
}
