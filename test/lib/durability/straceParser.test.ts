/** The strace harness's parser (test/support/strace.ts) on lines recorded from strace 6.1 (`-f -tt -yy -xx`). */
import { describe, expect, it } from 'vitest';
import { decode, parseStrace, splitArgs } from '../../support/strace.js';

// A Node process: a client writes "EV1\n", the server writes it to /tmp/seg-1 (after 'A"\\\n'), syncs,
// closes, renames the file to /tmp/seg-2 and answers OK; one call split by another thread's line.
const RECORDED = String.raw`11397 00:01:03.423906 write(20<TCP:[127.0.0.1:57238->127.0.0.1:36649]>, "\x45\x56\x31\x0a", 4) = 4
11397 00:01:03.429404 read(21<TCP:[127.0.0.1:36649->127.0.0.1:57238]>, "\x45\x56\x31\x0a", 65536) = 4
11405 00:01:03.435811 openat(AT_FDCWD<\x2f\x74\x6d\x70>, "\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x31", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 22<\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x31>
11406 00:01:03.436848 pwritev(22<\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x31>, [{iov_base="\x41\x22\x5c\x0a", iov_len=4}, {iov_base="\x45\x56\x31\x0a", iov_len=4}], 2, 0) = 8
11404 00:01:03.437480 fdatasync(22<\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x31> <unfinished ...>
11397 00:01:03.437600 read(21<TCP:[127.0.0.1:36649->127.0.0.1:57238]>, "", 65536) = -1 EAGAIN (Resource temporarily unavailable)
11404 00:01:03.439013 <... fdatasync resumed>) = 0
11407 00:01:03.447031 close(22<\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x31>) = 0
11405 00:01:03.447562 rename("\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x31", "\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x32") = 0
11397 00:01:03.447913 write(21<TCP:[127.0.0.1:36649->127.0.0.1:57238]>, "\x4f\x4b\x0a", 3) = 3
11405 00:01:03.448000 openat(AT_FDCWD<\x2f\x74\x6d\x70>, "\x2f\x74\x6d\x70\x2f\x6e\x6f\x6e\x65", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
11405 00:01:03.448100 openat(AT_FDCWD<\x2f\x74\x6d\x70>, "\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x32", O_RDONLY|O_CLOEXEC) = 22<\x2f\x74\x6d\x70\x2f\x73\x65\x67\x2d\x32>
11397 00:01:03.449000 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=11390, si_uid=1000} ---
11397 00:01:03.452298 +++ exited with 0 +++
`;

describe('parseStrace', () => {
  const { calls, signals } = parseStrace(RECORDED);
  const byName = (name: string) => calls.filter((c) => c.name === name);

  it('reads each call: descriptor, path (hex and socket forms), result, bytes', () => {
    expect(calls.map((c) => c.name)).toEqual(['write', 'read', 'openat', 'pwritev', 'read', 'fdatasync', 'close', 'rename', 'write', 'openat', 'openat']);
    const [clientWrite, serverRead] = calls;
    expect(clientWrite).toMatchObject({ pid: 11397, fd: 20, path: 'TCP:[127.0.0.1:57238->127.0.0.1:36649]', result: 4, time: '00:01:03.423906' });
    expect(clientWrite!.data!.toString()).toBe('EV1\n');
    expect(serverRead).toMatchObject({ fd: 21, path: 'TCP:[127.0.0.1:36649->127.0.0.1:57238]', result: 4 });
    expect(byName('openat')[0]).toMatchObject({ fd: 22, path: '/tmp/seg-1', result: 22 });
    const [pw] = byName('pwritev');
    expect(pw).toMatchObject({ fd: 22, path: '/tmp/seg-1', result: 8 });
    expect(pw!.data).toEqual(Buffer.from('A"\\\nEV1\n'));
    expect(pw!.truncated).toBeUndefined();
    expect(byName('rename')[0]).toMatchObject({ from: '/tmp/seg-1', to: '/tmp/seg-2', result: 0 });
    expect(byName('write')[1]!.data!.toString()).toBe('OK\n');
  });

  it('joins a call split by another thread: it starts at its first line and ends at its result', () => {
    const [sync] = byName('fdatasync');
    expect(sync).toMatchObject({ pid: 11404, fd: 22, path: '/tmp/seg-1', result: 0, start: 4, end: 6, time: '00:01:03.437480' });
    // The read in between ran while the sync was under way.
    expect(calls[4]).toMatchObject({ name: 'read', start: 5, end: 5, result: -1, errno: 'EAGAIN' });
  });

  it('numbers file instances per open: the write, the sync and the close of one open share it; a new open does not', () => {
    const seg1 = calls.filter((c) => c.path === '/tmp/seg-1');
    expect(new Set(seg1.map((c) => c.file)).size).toBe(1);
    const reopened = byName('openat')[2]!;
    expect(reopened).toMatchObject({ fd: 22, path: '/tmp/seg-2' });
    expect(reopened.file).not.toBe(seg1[0]!.file);
    // A failed open makes no instance.
    const failed = byName('openat')[1]!;
    expect(failed).toMatchObject({ result: -1, errno: 'ENOENT', path: '/tmp/none' });
    expect([failed.fd, failed.file]).toEqual([undefined, undefined]);
    // The two sockets are different files.
    expect(calls[0]!.file).not.toBe(calls[1]!.file);
  });

  it('reads signals and skips exits', () => {
    expect(signals).toEqual([{ pid: 11397, index: 12, signal: 'SIGTERM' }]);
  });
});

describe('decode and splitArgs', () => {
  it('decodes hex, octal, C escapes and marks strings cut at -s', () => {
    expect(decode('"\\x41\\x0a"')).toEqual({ data: Buffer.from('A\n'), truncated: false });
    expect(decode('"a\\0b\\1773\\n\\t\\"\\\\"')).toEqual({ data: Buffer.from([0x61, 0, 0x62, 0o177, 0x33, 10, 9, 34, 92]), truncated: false });
    expect(decode('"\\x41\\x42"...')).toEqual({ data: Buffer.from('AB'), truncated: true });
  });

  it('splits at top-level commas only (strings, arrays, structs and a socket path with "->")', () => {
    expect(splitArgs('3<TCP:[1.2.3.4:5->6.7.8.9:10]>, "a,b", [{iov_base="x,", iov_len=2}], 2, 0')).toEqual([
      '3<TCP:[1.2.3.4:5->6.7.8.9:10]>',
      '"a,b"',
      '[{iov_base="x,", iov_len=2}]',
      '2',
      '0',
    ]);
  });

  it('marks a write whose bytes strace cut', () => {
    const { calls } = parseStrace('1 00:00:00.000001 write(5</x>, "\\x41\\x42"..., 100) = 100\n');
    expect(calls[0]).toMatchObject({ name: 'write', fd: 5, path: '/x', truncated: true });
    expect(calls[0]!.data).toEqual(Buffer.from('AB'));
  });
});
