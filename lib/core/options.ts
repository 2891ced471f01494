import { z } from 'zod';

/**
 * Option fragments every component of a kind declares the same way: spread them into a schema
 * (`z.strictObject({ ...nameOption('memoryChannel'), capacity: … })`) instead of writing them again, so
 * a meaning has one name, one default rule and one sentence in the docs.
 */
export function nameOption(defaultName: string) {
  return { name: z.string().min(1).default(defaultName).describe('Component name in metrics and logs.') };
}

/** How many batches a source (or a channel towards its sink) may have emitted and not yet settled. */
export function maxInFlightOption(whatPauses: string, defaultValue = 1) {
  return {
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .default(defaultValue)
      .describe(`Batches emitted and not yet settled, at most; ${whatPauses}.`),
  };
}

const BIND_TEXT = 'Address to listen on, e.g. 127.0.0.1 (one interface) or 0.0.0.0 (all)';

/** The address a server listens on: Flume's `bind` (its syslog sources say `host`; mapped to this). Required, or with Flume's default. */
export function bindOption(): { bind: z.ZodString };
export function bindOption(defaultAddress: string): { bind: z.ZodDefault<z.ZodString> };
export function bindOption(defaultAddress?: string): { bind: z.ZodString | z.ZodDefault<z.ZodString> } {
  const address = z.string().min(1);
  return {
    bind: defaultAddress === undefined ? address.describe(`${BIND_TEXT}.`) : address.default(defaultAddress).describe(`${BIND_TEXT}; ${defaultAddress} by default, as Flume.`),
  };
}

/** A listening TCP or UDP port. */
export const portOption = {
  port: z.number().int().min(0).max(65535).describe('Port to listen on; 0 picks a free one (see onListening).'),
};

/** The batch size a sink expects, which only sorts its batches into BatchCompleteCount and BatchUnderflowCount (Flume's sink counters). */
export function expectedBatchSizeOption(flumeKey?: string) {
  return {
    batchSize: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe(`Expected batch size: smaller batches count as BatchUnderflowCount, others as BatchCompleteCount${flumeKey ? ` (Flume ${flumeKey})` : ''}.`),
  };
}
