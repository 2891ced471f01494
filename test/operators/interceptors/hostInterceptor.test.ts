import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { hostInterceptor } from '../../../operators/interceptors/hostInterceptor.js';
import { through } from './support.js';

function expectedIPv4(): string {
  const all = Object.values(os.networkInterfaces()).flatMap((a) => a ?? []);
  return all.find((a) => a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';
}

describe('hostInterceptor', () => {
  it('sets host to the first external IPv4 address by default, overwriting', () => {
    const out = through(hostInterceptor(), [event('a', { host: 'elsewhere' }), event('b')]);
    expect(out.map((e) => e.headers['host'])).toEqual([expectedIPv4(), expectedIPv4()]);
    expect(out[0]!.headers['host']).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it('uses the host name with useIP false, its header option and preserveExisting', () => {
    const op = hostInterceptor({ useIP: false, hostHeader: 'hostname', preserveExisting: true });
    const out = through(op, [event('a', { hostname: 'kept' }), event('b')]);
    expect(out.map((e) => e.headers['hostname'])).toEqual(['kept', os.hostname()]);
  });

  it('validates its options', () => {
    expect(() => hostInterceptor({ useIP: 'yes' } as never)).toThrow(ConfigError);
    expect(() => hostInterceptor({ useIP: 'yes' } as never)).toThrow('hostInterceptor.useIP: expected boolean, received "yes"');
    expect(hostInterceptor.spec.flumeTypes).toEqual(['host', 'org.apache.flume.interceptor.HostInterceptor$Builder']);
  });
});
