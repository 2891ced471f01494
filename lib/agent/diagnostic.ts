import { printable } from '../core/errors.js';

/** A problem of a configuration, at the file, line and key it concerns. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  file: string;
  line: number;
  /** The full property key concerned (`a1.channels.c1.capacity`), or '' for file-level problems. */
  key: string;
  message: string;
}

/** One line per problem: `file:line: error: key: message`, control characters from the configuration escaped. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}` : d.file;
  return printable(`${where}: ${d.severity}: ${d.key ? `${d.key}: ` : ''}${d.message}`);
}

/** Reports a problem at a property (`at`: its key and line, and its file when not the configuration's first). */
export type Report = (severity: Diagnostic['severity'], at: { key: string; line: number; file?: string | undefined }, message: string) => void;

/** A `Report` collecting into `diagnostics`, for properties of `file` unless they say otherwise. */
export function reporter(file: string, diagnostics: Diagnostic[]): Report {
  return (severity, at, message) => void diagnostics.push({ severity, file: at.file ?? file, line: at.line, key: at.key, message });
}
