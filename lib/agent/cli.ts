#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pipe } from '../core/pipe.js';
import { FlumeError } from '../core/errors.js';
import { sequenceSource } from '../sources/sequenceSource.js';
import { loggerSink } from '../sinks/loggerSink.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { timestampInterceptor } from '../../operators/interceptors/timestampInterceptor.js';
import { hostInterceptor } from '../../operators/interceptors/hostInterceptor.js';
import { staticInterceptor } from '../../operators/interceptors/staticInterceptor.js';
import { components } from './components.js';

const HELP = `rxflume — Apache Flume's model on RxJS

Usage:
  rxflume demo [--events N] [--batch N]   run the embedded example pipeline (no external service)
  rxflume components                      list every component with its Flume type names
  rxflume --version | --help

Examples:
  rxflume demo
  rxflume demo --events 1000 --batch 100

Exit codes: 0 clean stop, 2 usage or configuration error, 1 runtime failure.
`;

async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { events: { type: 'string', default: '20' }, batch: { type: 'string', default: '5' } },
  });
  const totalEvents = Number(values.events);
  const batchSize = Number(values.batch);
  console.log(`rxflume demo: sequence(${totalEvents}) → timestamp → host → static → memory channel → logger\n`);
  const pipeline = pipe(
    sequenceSource({ name: 'r1', totalEvents, batchSize }),
    timestampInterceptor(),
    hostInterceptor(),
    staticInterceptor({ key: 'pipeline', value: 'demo' }),
    memoryChannel({ name: 'c1', capacity: 1000, transactionCapacity: Math.max(100, batchSize) }),
    loggerSink({ name: 'k1' }),
  );
  const stop = () => void pipeline.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await pipeline.done;
  console.log('\nfinal counters:');
  for (const [component, counters] of Object.entries(pipeline.metrics())) {
    const shown = Object.entries(counters).filter(([k, v]) => v !== 0 && k !== 'StartTime' && k !== 'StopTime');
    console.log(`  ${component}: ${shown.map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(1)}`).join(' ')}`);
  }
  return 0;
}

function listComponents(): number {
  for (const c of components) {
    const types = c.spec.flumeTypes.length ? c.spec.flumeTypes.join(', ') : '(library only)';
    console.log(`${c.spec.kind.padEnd(12)} ${c.spec.name.padEnd(28)} ${types}`);
    console.log(`${''.padEnd(12)} ${c.spec.summary}`);
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo':
      return demo(rest);
    case 'components':
      return listComponents();
    case '--version':
    case '-v': {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
      console.log(pkg.version);
      return 0;
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(HELP);
      return command === undefined ? 2 : 0;
    default:
      console.error(`rxflume: unknown command '${command}'\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof FlumeError ? `rxflume: ${error.message}` : error);
    process.exitCode = error instanceof FlumeError && error.code === 'FLUME_CONFIG' ? 2 : 1;
  },
);
