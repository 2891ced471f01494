import { describe, expect, it } from 'vitest';
import { encodeText, javaString, toFlumeEvent } from '../../../lib/sources/jms/jmsMessage.js';

describe("jmsSource's converter (Flume's DefaultJMSMessageConverter over AMQP)", () => {
  it('prints properties as Java does, skipping what JMS has no property type for', () => {
    expect([true, false, 42, -7, 2.5, 1e10, 1.5e-7, 1e-7, 0.001, 1234567.5, 10n].map(javaString)).toEqual([
      'true',
      'false',
      '42',
      '-7',
      '2.5',
      // rhea decodes an integral double to the same number as a long: it prints as the long would (Java: 1.0E10).
      '10000000000',
      '1.5E-7',
      '1.0E-7',
      '0.001',
      '1234567.5',
      '10',
    ]);
    // A long rhea could not make a safe number of arrives as 8 big-endian bytes.
    const long = Buffer.alloc(8);
    long.writeBigInt64BE(-(2n ** 62n));
    expect(javaString(long)).toBe(String(-(2n ** 62n)));
    expect([null, undefined, { a: 1 }, [1], Buffer.from('abc')].map(javaString)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it("writes text in converter.charset as Java's String.getBytes does", () => {
    expect(encodeText('aé€', 'UTF-8')).toEqual(Buffer.from('aé€', 'utf8'));
    // What the charset cannot hold becomes '?'.
    expect(encodeText('aé€', 'ISO-8859-1')).toEqual(Buffer.from([0x61, 0xe9, 0x3f]));
    expect(encodeText('aé€', 'US-ASCII')).toEqual(Buffer.from([0x61, 0x3f, 0x3f]));
    expect(encodeText('a€', 'UTF-16BE')).toEqual(Buffer.from([0x00, 0x61, 0x20, 0xac]));
    expect(encodeText('a€', 'UTF-16LE')).toEqual(Buffer.from([0x61, 0x00, 0xac, 0x20]));
    expect(encodeText('a', 'UTF-16')).toEqual(Buffer.from([0xfe, 0xff, 0x00, 0x61]));
  });

  it('takes bodies from text, bytes in one or several data sections; map, list and no body give an empty body', () => {
    const data = (content: Buffer | Buffer[]) => ({ typecode: 0x75, content });
    expect(toFlumeEvent({ body: 'héllo' }, 'ISO-8859-1').body).toEqual(Buffer.from([0x68, 0xe9, 0x6c, 0x6c, 0x6f]));
    expect(toFlumeEvent({ body: data(Buffer.from([1, 2])) }, 'UTF-8').body).toEqual(Buffer.from([1, 2]));
    expect(toFlumeEvent({ body: data([Buffer.from([1]), Buffer.from([2, 3])]) }, 'UTF-8').body).toEqual(Buffer.from([1, 2, 3]));
    expect(toFlumeEvent({ body: Buffer.from([9]) }, 'UTF-8').body).toEqual(Buffer.from([9]));
    for (const body of [{ k: 'v' }, [1, 2], undefined, null, { typecode: 0x76, content: [[1]] }]) expect(toFlumeEvent({ body }, 'UTF-8').body.length).toBe(0);
  });

  it('adds the JMSX properties the ActiveMQ client lists: the delivery count only when redelivered, group and user', () => {
    expect(toFlumeEvent({ body: 'x', application_properties: { a: 'b' }, delivery_count: 0 }, 'UTF-8').headers).toEqual({ a: 'b' });
    expect(
      toFlumeEvent({ body: 'x', delivery_count: 2, group_id: 'g', group_sequence: 3, user_id: Buffer.from('alice') }, 'UTF-8').headers,
    ).toEqual({ JMSXDeliveryCount: '3', JMSXGroupID: 'g', JMSXGroupSeq: '3', JMSXUserID: 'alice' });
  });
});
