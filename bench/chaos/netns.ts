/**
 * A private network of Linux network namespaces for the chaos scenario: one bridge on this host (its
 * gateway address is how the host reaches every namespace), and per "host" a namespace joined to it by a
 * veth pair. Faults are applied inside a namespace, so they touch only its traffic:
 *
 * - `cut(from, toAddress)`: nftables drops every packet between them (both ways), as a dead link or a
 *   firewall would — silently, so TCP notices only by its timeouts; `restore` removes it;
 * - `degrade(name, …)`: latency and loss on its interface (tc netem; where the kernel has no netem, a tbf
 *   rate limit whose queue delays packets and an nftables random drop, said in `how`);
 * - `linkDown(name)` / `linkUp(name)`: its whole interface.
 *
 * For a server that binds only 127.0.0.1 and names 127.0.0.1 as its own address to clients (Hadoop's
 * MiniDFSCluster does both): `serveLoopback(name)` delivers what arrives at that host's address to its
 * loopback, and `loopbackTo(client, server)` sends the client's TCP to 127.0.0.1 to the server's address.
 *
 * Needs root, `ip` (iproute2), `tc` and `nft` (nftables). Every name starts with the prefix; `teardown`
 * removes what was created, and `createNetwork` first removes leftovers of a run that died.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export interface NetworkOptions {
  /** Prefix of every namespace and link name (≤ 4 characters: link names are at most 15). Default `rxc`. */
  prefix?: string;
  /** The /24 used, as its first three octets (default `10.77.0`); `.1` is the bridge (the host's side). */
  subnet?: string;
}

export interface Host {
  readonly name: string;
  /** The namespace, for `ip netns exec`. */
  readonly netns: string;
  readonly address: string;
}

export interface Degradation {
  delayMs: number;
  lossPercent: number;
}

export interface Network {
  readonly gateway: string;
  add(name: string, lastOctet: number): Host;
  host(name: string): Host;
  /** `ip netns exec <ns>` before a command: runs it in that host's namespace. */
  launcher(name: string): string[];
  cut(from: string, toAddress: string): void;
  restore(from: string, toAddress: string): void;
  /** Returns how it was done (netem, or the tbf + nft fallback). */
  degrade(name: string, how: Degradation): string;
  clearDegradation(name: string): void;
  linkDown(name: string): void;
  linkUp(name: string): void;
  /** Connections to `name`'s address reach its loopback (route_localnet and a DNAT to 127.0.0.1). */
  serveLoopback(name: string): void;
  /** `client`'s TCP to 127.0.0.1 goes to `server`'s address instead (nothing of its own listens there). */
  loopbackTo(client: string, server: string): void;
  teardown(): void;
}

function run(command: string, args: readonly string[], input?: string): void {
  execFileSync(command, args, { stdio: ['pipe', 'ignore', 'pipe'], ...(input !== undefined ? { input } : {}) });
}

/** Runs and reports success, for removals of what may not exist. */
function attempt(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** Throws, naming what to install, unless ip, tc and nft run (and we are root). */
export function checkNetworkTools(): void {
  const missing = [
    ['ip', ['-V'], 'iproute2'],
    ['tc', ['-V'], 'iproute2'],
    ['nft', ['--version'], 'nftables'],
  ].filter(([command, args]) => spawnSync(command as string, args as string[], { stdio: 'ignore' }).status !== 0);
  if (missing.length) throw new Error(`the chaos scenario needs ${missing.map(([c, , p]) => `${c} (apt-get install ${p})`).join(', ')}`);
  if (process.getuid?.() !== 0) throw new Error('the chaos scenario creates network namespaces: it must run as root');
}

/** Removes every namespace and link whose name starts with `prefix-` (what a run that died left). */
export function removeLeftovers(prefix: string): void {
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of namespaces.split('\n')) {
    const ns = line.split(' ')[0];
    if (ns?.startsWith(`${prefix}-`)) attempt('ip', ['netns', 'del', ns]);
  }
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of links.matchAll(/^\d+: ([^:@\s]+)/gm)) if (m[1]!.startsWith(`${prefix}-`)) attempt('ip', ['link', 'del', m[1]!]);
}

export function createNetwork(options: NetworkOptions = {}): Network {
  checkNetworkTools();
  const prefix = options.prefix ?? 'rxc';
  const subnet = options.subnet ?? '10.77.0';
  const bridge = `${prefix}-br`;
  const gateway = `${subnet}.1`;
  const hosts = new Map<string, Host>();
  removeLeftovers(prefix);
  run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  run('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
  run('ip', ['link', 'set', bridge, 'up']);

  const host = (name: string): Host => {
    const h = hosts.get(name);
    if (!h) throw new Error(`no host ${name} in the chaos network`);
    return h;
  };
  const nsRun = (name: string, command: string, args: readonly string[], input?: string) => run('ip', ['netns', 'exec', host(name).netns, command, ...args], input);
  const nftTable = (name: string) => {
    // One table per namespace, created on first use: output and input chains of filter type.
    nsRun(name, 'nft', ['-f', '-'], `table inet chaos {\n chain out { type filter hook output priority 0; }\n chain in { type filter hook input priority 0; }\n}\n`);
  };
  const nftDelete = (name: string, match: (rule: string) => boolean) => {
    const listing = spawnSync('ip', ['netns', 'exec', host(name).netns, 'nft', '-a', 'list', 'table', 'inet', 'chaos'], { encoding: 'utf8' }).stdout ?? '';
    let chain = '';
    for (const line of listing.split('\n')) {
      const c = /chain (\w+)/.exec(line);
      if (c) chain = c[1]!;
      const h = /^\s*(.*) # handle (\d+)$/.exec(line);
      if (h && match(h[1]!)) nsRun(name, 'nft', ['delete', 'rule', 'inet', 'chaos', chain, 'handle', h[2]!]);
    }
  };

  return {
    gateway,
    add(name, lastOctet) {
      const netns = `${prefix}-${name}`;
      const veth = `${prefix}-${name}`;
      if (veth.length > 15) throw new Error(`host name ${name} too long for a link name (${veth})`);
      const address = `${subnet}.${lastOctet}`;
      run('ip', ['netns', 'add', netns]);
      const h: Host = { name, netns, address };
      hosts.set(name, h);
      run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      run('ip', ['link', 'set', veth, 'master', bridge, 'up']);
      run('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      nftTable(name);
      return h;
    },
    host,
    launcher: (name) => ['ip', 'netns', 'exec', host(name).netns],
    cut(from, toAddress) {
      nsRun(from, 'nft', ['add', 'rule', 'inet', 'chaos', 'out', 'ip', 'daddr', toAddress, 'drop']);
      nsRun(from, 'nft', ['add', 'rule', 'inet', 'chaos', 'in', 'ip', 'saddr', toAddress, 'drop']);
    },
    restore(from, toAddress) {
      nftDelete(from, (rule) => rule.includes(` ${toAddress} drop`));
    },
    degrade(name, { delayMs, lossPercent }) {
      if (attempt('ip', ['netns', 'exec', host(name).netns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${delayMs}ms`, 'loss', `${lossPercent}%`])) {
        return `netem delay ${delayMs} ms, loss ${lossPercent}%`;
      }
      // No netem in this kernel: a slow link (tbf: packets queue up to delayMs) and a random drop.
      nsRun(name, 'tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '2mbit', 'burst', '16kb', 'latency', `${delayMs}ms`]);
      nsRun(name, 'nft', ['add', 'rule', 'inet', 'chaos', 'out', 'numgen', 'random', 'mod', '100', '<', String(lossPercent), 'drop']);
      return `tbf 2 Mbit/s queueing up to ${delayMs} ms + nftables random drop ${lossPercent}% (no netem in this kernel)`;
    },
    clearDegradation(name) {
      attempt('ip', ['netns', 'exec', host(name).netns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
      nftDelete(name, (rule) => rule.includes('numgen random'));
    },
    linkDown: (name) => run('ip', ['link', 'set', `${prefix}-${name}`, 'down']),
    linkUp: (name) => run('ip', ['link', 'set', `${prefix}-${name}`, 'up']),
    serveLoopback(name) {
      // Without route_localnet the kernel drops packets routed from eth0 to 127.0.0.1 as martians.
      nsRun(name, 'sysctl', ['-qw', 'net.ipv4.conf.eth0.route_localnet=1']);
      nsRun(name, 'nft', ['-f', '-'], `table ip chaosnat {\n chain pre { type nat hook prerouting priority -100; iifname "eth0" ip daddr ${host(name).address} dnat to 127.0.0.1; }\n}\n`);
    },
    loopbackTo(client, server) {
      // The source stays 127.0.0.1 after the output DNAT: route_localnet lets it leave by eth0, the masquerade gives it the client's address.
      nsRun(client, 'sysctl', ['-qw', 'net.ipv4.conf.eth0.route_localnet=1']);
      nsRun(
        client,
        'nft',
        ['-f', '-'],
        `table ip chaosnat {\n chain out { type nat hook output priority -100; ip daddr 127.0.0.1 meta l4proto tcp dnat to ${host(server).address}; }\n chain post { type nat hook postrouting priority 100; oifname "eth0" ip saddr 127.0.0.0/8 masquerade; }\n}\n`,
      );
    },
    teardown() {
      for (const h of hosts.values()) {
        attempt('ip', ['link', 'del', `${prefix}-${h.name}`]);
        attempt('ip', ['netns', 'del', h.netns]);
      }
      hosts.clear();
      attempt('ip', ['link', 'del', bridge]);
    },
  };
}
