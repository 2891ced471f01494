// An agent process for the lock tests: opens a fileChannel on <work>/checkpoint and <work>/data.
//
//   node lockChild.mjs <buildDir> <work> hold|exit|open
//   node lockChild.mjs <buildDir> <work> reuse hold|exit      (as PID 1 of a fresh PID namespace)
//
// hold: stores one event, prints "ready <pid>", and lives until killed. With a fourth argument
//       `child` it first starts a long-lived child process (as an exec source would), printing "child <pid>".
// exit: stores one event, prints "ready <pid>", and exits at once without closing the channel (as an
//       agent whose drain timed out), leaving in_use.lock behind.
// open: stores one event and drains the channel; prints "opened <events delivered>" and exits 0, or
//       "refused <code> <message>" and exits 3 when the channel cannot open.
// reuse: runs `hold` (killed with SIGKILL once ready) or `exit` as a child, then makes the next PID
//       of the namespace the dead agent's (ns_last_pid) and starts `sleep` on it, then runs `open`;
//       prints "reused <pid>" and the open's output, exits with its status.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [buildDir, work, mode, sub] = process.argv.slice(2);
const load = (rel) => import(pathToFileURL(path.join(buildDir, rel)).href);

if (mode === 'reuse') {
  const self = fileURLToPath(import.meta.url);
  const run = (m) => {
    const child = spawn(process.execPath, [self, buildDir, work, m], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise((resolve) => child.stdout.on('data', (d) => (out += d) && out.includes('ready') && resolve()));
    const closed = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    return { child, ready, closed, out: () => out };
  };
  const agent = run(sub);
  await agent.ready;
  if (sub === 'hold') agent.child.kill('SIGKILL');
  await agent.closed;
  const dead = agent.child.pid;
  writeFileSync('/proc/sys/kernel/ns_last_pid', String(dead - 1));
  const sleeper = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
  console.log(`reused ${dead} ${sleeper.pid}`);
  const opener = run('open');
  const code = await opener.closed;
  process.stdout.write(opener.out());
  sleeper.kill('SIGKILL');
  process.exit(code);
}

const { fileChannel } = await load('operators/channels/fileChannel.js');
const { createBatch } = await load('lib/core/batch.js');
const { Observable } = await import('rxjs');

const channel = fileChannel({
  checkpointDir: path.join(work, 'checkpoint'),
  dataDirs: [path.join(work, 'data')],
  minimumRequiredSpace: 0,
  logger: (level, message) => process.stderr.write(`[${process.pid}] ${level} ${message}\n`),
});
const upstream = new Observable((subscriber) => {
  subscriber.next(
    createBatch([{ headers: {}, body: Buffer.from(mode) }], {
      onAck: () => {
        if (mode === 'open') return subscriber.complete();
        console.log(`ready ${process.pid}`);
        if (mode === 'exit') process.exit(0);
      },
      onNack: (error) => console.log(`nacked ${error.message}`),
    }),
  );
});
let delivered = 0;
upstream.pipe(channel).subscribe({
  next: (batch) => {
    delivered += batch.events.length;
    batch.ack();
  },
  error: (error) => {
    console.log(`refused ${error.code} ${error.message}`);
    process.exit(3);
  },
  complete: () => {
    console.log(`opened ${delivered}`);
    process.exit(0);
  },
});
if (mode === 'hold') {
  setInterval(() => undefined, 60_000);
  if (sub === 'child') {
    // Started once the channel is open, so it could inherit the lock's descriptor if it leaked.
    const started = setInterval(() => {
      if (delivered === 0) return;
      clearInterval(started);
      const child = spawn('/bin/sleep', ['60'], { stdio: 'ignore', detached: true });
      child.unref();
      console.log(`child ${child.pid}`);
    }, 10);
  }
}
