import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/runner/describe-error.js';

describe('describeError', () => {
  it('joins an error with its causes and their codes', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(describeError(new Error('request to http://x/ failed', { cause: socket }))).toBe(
      'request to http://x/ failed: connect ECONNREFUSED 127.0.0.1:1',
    );
    const bare = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(describeError(bare)).toBe('socket hang up (ECONNRESET)');
  });

  it('does not repeat a cause the message already quotes', () => {
    const cause = new Error('getaddrinfo ENOTFOUND example.org');
    expect(describeError(new Error('network error requesting https://example.org/: getaddrinfo ENOTFOUND example.org', { cause }))).toBe(
      'network error requesting https://example.org/: getaddrinfo ENOTFOUND example.org',
    );
  });

  it('describes non-errors', () => {
    expect(describeError('plain text')).toBe('plain text');
  });
});
