import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { displayValue, isSecretKey, redactText, SecretScrubber, secretsIn } from '../../../lib/core/secrets.js';

describe('secrets', () => {
  it('knows the keys that hold secrets, and leaves the others', () => {
    for (const k of ['keystorePassword', 'keystore-password', 'kafka.producer.ssl.truststore.password', 'kafka.consumer.sasl.jaas.config', 'ssl.key.password', 'apiToken', 'client_secret', 'api-key', 'credentials'])
      expect(isSecretKey(k), k).toBe(true);
    for (const k of ['keystore', 'capacity', 'spoolDir', 'kafka.topic', 'hostname', 'passive', 'compass']) expect(isSecretKey(k), k).toBe(false);
  });

  it('masks JAAS passwords, URI user info and key=value secrets by their shape', () => {
    const jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="p@ss w0rd;";';
    expect(redactText(jaas)).toBe('org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="***";');
    expect(redactText('fetch https://bob:hunter2@conf.example/agent.properties failed')).toBe('fetch https://bob:***@conf.example/agent.properties failed');
    expect(redactText('token=abc123 next')).toBe('token=*** next');
    expect(redactText(JSON.stringify({ jaas }))).not.toContain('p@ss w0rd');
    expect(displayValue('keystorePassword', 'whatever')).toBe('***');
    expect(displayValue('kafka.topic', 'logs')).toBe('logs');
  });

  it('collects the literal secrets of a value: whole for a secret key, embedded ones otherwise', () => {
    expect(secretsIn('keystorePassword', 'Secret123')).toEqual(['Secret123']);
    expect(secretsIn('sasl.jaas.config', 'M required username="u" password="pw12";')).toEqual(['M required username="u" password="pw12";', 'pw12']);
    expect(secretsIn('uri', 'https://u:s3cr3t@h/x')).toEqual(['s3cr3t']);
    expect(secretsIn('kafka.topic', 'logs')).toEqual([]);
  });

  it('a scrubber removes every known secret from any text, however it is quoted', () => {
    const s = new SecretScrubber(['Pl4nted"Secret', 'ab']);
    expect(s.scrub('value Pl4nted"Secret here')).toBe('value *** here');
    expect(s.scrub(JSON.stringify({ v: 'x Pl4nted"Secret y' }))).toBe('{"v":"x *** y"}');
    // Too short to mask as a literal (it would mask ordinary words): masked by key and shape instead.
    expect(s.scrub('about')).toBe('about');
  });

  it('never leaves a planted secret of 4+ characters in any text around it (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4, maxLength: 30 }).filter((v) => v.trim().length >= 4), fc.string(), fc.string(), (secret, before, after) => {
        const s = new SecretScrubber([secret]);
        expect(s.scrub(`${before}${secret}${after}`).includes(secret)).toBe(false);
      }),
    );
  });
});
