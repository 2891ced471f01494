/**
 * ANSI colours for what the CLI prints to a person: the pretty log, the status line. One decision for
 * the whole process, as Node's own `tty.hasColors` makes it: `FORCE_COLOR` forces (`0` or `false` turns
 * colours off, `1`, `2`, `3`, `true` or empty turns them on), then `NO_COLOR` with any non-empty value
 * (no-color.org) and `TERM=dumb` turn them off; otherwise only a terminal gets them.
 */
export function useColors(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined) {
    if (force === '0' || force === 'false') return false;
    if (['', '1', '2', '3', 'true'].includes(force)) return true;
  }
  if ((env['NO_COLOR'] ?? '') !== '' || env['TERM'] === 'dumb') return false;
  return stream.isTTY === true;
}

export type Paint = (text: string) => string;

export interface Colors {
  red: Paint;
  yellow: Paint;
  green: Paint;
  blue: Paint;
  magenta: Paint;
  cyan: Paint;
  dim: Paint;
  bold: Paint;
}

const CODES: Record<keyof Colors, [open: number, close: number]> = {
  red: [31, 39],
  yellow: [33, 39],
  green: [32, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
};

/** Painters that colour when `enabled`, and return the text unchanged otherwise. */
export function colors(enabled: boolean): Colors {
  const paint = ([open, close]: [number, number]): Paint => (enabled ? (text) => `\x1b[${open}m${text}\x1b[${close}m` : (text) => text);
  return Object.fromEntries(Object.entries(CODES).map(([name, codes]) => [name, paint(codes)])) as unknown as Colors;
}
