import { describe, expect, it } from 'vitest';
import { colors, useColors } from '../../../lib/agent/colors.js';

const tty = { isTTY: true };
const pipe = { isTTY: false };

describe('useColors', () => {
  it('colours a terminal only', () => {
    expect(useColors(tty, {})).toBe(true);
    expect(useColors(pipe, {})).toBe(false);
    expect(useColors({}, {})).toBe(false);
  });

  it('NO_COLOR with any non-empty value turns them off; empty is as unset (no-color.org); TERM=dumb too', () => {
    expect(useColors(tty, { NO_COLOR: '1' })).toBe(false);
    expect(useColors(tty, { NO_COLOR: 'false' })).toBe(false);
    expect(useColors(tty, { NO_COLOR: '' })).toBe(true);
    expect(useColors(tty, { TERM: 'dumb' })).toBe(false);
  });

  it("FORCE_COLOR forces either way, as Node's own tty.hasColors reads it", () => {
    for (const on of ['1', '2', '3', 'true', '']) expect(useColors(pipe, { FORCE_COLOR: on }), on).toBe(true);
    for (const off of ['0', 'false']) expect(useColors(tty, { FORCE_COLOR: off }), off).toBe(false);
    expect(useColors(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(true);
    // A value Node does not know leaves the decision to the rest.
    expect(useColors(pipe, { FORCE_COLOR: 'yes' })).toBe(false);
  });
});

describe('colors', () => {
  it('wraps in ANSI codes when enabled, returns the text as is otherwise', () => {
    expect(colors(true).red('x')).toBe('\x1b[31mx\x1b[39m');
    expect(colors(true).dim('x')).toBe('\x1b[2mx\x1b[22m');
    expect(colors(false).red('x')).toBe('x');
  });
});
