import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { removeHeaderInterceptor } from '../../../operators/interceptors/removeHeaderInterceptor.js';
import { through } from './support.js';

const headers = { a: '1', b: '2', c: '3', 'tmp.x': '4', 'tmp.y': '5', keep_tmp: '6' };

describe('removeHeaderInterceptor', () => {
  it('removes withName, the fromList names and the whole-name matches of matching', () => {
    const op = removeHeaderInterceptor({ withName: 'a', fromList: 'b ,  c,,nothere', matching: 'tmp\\..*' });
    const [e] = through(op, [event('x', { ...headers })]);
    expect(e!.headers).toEqual({ keep_tmp: '6' });
  });

  it('matches whole names only (Java matches()), not anywhere', () => {
    const [e] = through(removeHeaderInterceptor({ matching: 'tmp' }), [event('x', { ...headers, tmp: '0' })]);
    expect(Object.keys(e!.headers)).toEqual(['a', 'b', 'c', 'tmp.x', 'tmp.y', 'keep_tmp']);
  });

  it('splits fromList on a custom separator regex, ignoring its groups', () => {
    const [e] = through(removeHeaderInterceptor({ fromList: 'a(;)b|c', fromListSeparator: '\\(;\\)|(\\|)' }), [event('x', { ...headers })]);
    expect(Object.keys(e!.headers)).toEqual(['tmp.x', 'tmp.y', 'keep_tmp']);
  });

  it('changes nothing with no option set', () => {
    const [e] = through(removeHeaderInterceptor(), [event('x', { ...headers })]);
    expect(e!.headers).toEqual(headers);
  });

  it('rejects an invalid regex, naming the option', () => {
    expect(() => removeHeaderInterceptor({ matching: 'tmp(' })).toThrow(ConfigError);
    expect(() => removeHeaderInterceptor({ matching: 'tmp(' })).toThrow(
      'removeHeaderInterceptor.matching: expected a Java regular expression rxflume can run (unclosed group at index 4), received "tmp("',
    );
    expect(() => removeHeaderInterceptor({ fromListSeparator: '[' })).toThrow(/removeHeaderInterceptor\.fromListSeparator/);
  });
});
