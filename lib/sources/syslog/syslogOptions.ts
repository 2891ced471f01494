import { z } from 'zod';
import { backoffFlumeKeys, backoffOptions } from '../../core/backoff.js';
import type { FlumeKeyMapping } from '../../core/config.js';
import { bindOption } from '../../core/options.js';
import { maxConnectionsOption, onListeningOption } from '../../net/listen.js';
import { keepFieldsFromFlume } from './syslogParser.js';

const FIELD = z.enum(['priority', 'version', 'timestamp', 'hostname']);

/** What Flume's syslogudp takes of a datagram, whatever its `eventSize` says. */
const UDP_EVENT_SIZE = 65_536;

/** The options every syslog source declares, spread into its schema. */
export function syslogOptions(transport: 'tcp' | 'udp') {
  return {
    ...bindOption(),
    eventSize: z
      .number()
      .int()
      .min(1)
      .default(transport === 'tcp' ? 2500 : UDP_EVENT_SIZE)
      .describe(
        transport === 'tcp'
          ? 'Largest message in bytes (at least 10); longer ones are cut and flagged Incomplete.'
          : "Largest message in bytes (at least 10); longer ones are cut and flagged Incomplete. Flume's syslogudp always takes 65536 and ignores its eventSize key, and so does a Flume configuration here.",
      ),
    keepFields: z
      .union([z.enum(['none', 'all']), z.array(FIELD)])
      .default('none')
      .describe("'all' keeps the raw message as body; a list prepends those header fields to the body."),
    clientIPHeader: z.string().min(1).optional().describe("Header receiving the sender's IP address."),
    clientHostnameHeader: z
      .string()
      .min(1)
      .optional()
      .describe(`Header receiving the sender's host name (reverse DNS, ${transport === 'tcp' ? 'once per connection' : 'cached per IP'}).`),
    batchSize: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe(transport === 'tcp' ? "Messages per batch at most (≤ the channel's transactionCapacity)." : 'Datagrams per batch at most.'),
    ...onListeningOption,
  };
}

/**
 * The TCP sources' options beside `syslogOptions('tcp')`: connections and the back-off before
 * re-sending a nacked batch.
 */
export const syslogTcpOptions = {
  ...syslogOptions('tcp'),
  ...maxConnectionsOption(' (per port)'),
  ...backoffOptions('a nack, before the same batch is sent again'),
};

/** Flume calls the listen address `host`. */
export const syslogFlumeKeys: Readonly<Record<string, FlumeKeyMapping>> = {
  host: 'bind',
  keepFields: { option: 'keepFields', convert: keepFieldsFromFlume },
};

/** Flume's syslogudp reads no `eventSize`: the key is taken and ignored, as Flume does. */
export const syslogUdpFlumeKeys: Readonly<Record<string, FlumeKeyMapping>> = {
  ...syslogFlumeKeys,
  eventSize: { option: 'eventSize', convert: () => UDP_EVENT_SIZE },
};

export const syslogTcpFlumeKeys: Readonly<Record<string, FlumeKeyMapping>> = { ...syslogFlumeKeys, ...backoffFlumeKeys };
