/**
 * Where an `hdfs.path` points: how the sink talks to HDFS, the address, and the path template inside
 * HDFS. Flume opens any Hadoop file system URI:
 *
 * - `hdfs://namenode[:rpcPort]/dir` → Hadoop's own protocols (RPC to the NameNode on `rpcPort`, 8020 by
 *   default, and DataTransferProtocol to the DataNodes), as Flume writes — unless `webHdfsUrl` is given,
 *   the gateway is HttpFS, or `transport: 'webhdfs'`: then WebHDFS at `webHdfsUrl`, else
 *   `http://namenode:9870` (the NameNode's default HTTP port; the RPC port says nothing about it);
 * - `webhdfs://host:port/dir`, `swebhdfs://…`, `http(s)://host:port/dir` → WebHDFS at that address;
 * - `/dir` (Hadoop's default file system) → WebHDFS at `webHdfsUrl`, else `http://localhost:9870`;
 * - `dir` (relative) → `/user/<user>/dir`, Hadoop's working directory.
 *
 * `webHdfsUrl`, when given, is where every request goes. Escapes belong in the path, not in the address.
 */
import { DEFAULT_RPC_PORT } from '../../hdfs/native/nativeHdfsClient.js';

export const DEFAULT_WEBHDFS_PORT = 9870;

/** auto (native for an hdfs:// path without webHdfsUrl or HttpFS, else webhdfs), webhdfs, or native (an hdfs:// path only, no webHdfsUrl). */
export type HdfsTransport = 'auto' | 'webhdfs' | 'native';

export type HdfsLocation =
  | {
      transport: 'webhdfs';
      /** `http(s)://host:port` of the NameNode's HTTP server (or HttpFS). */
      url: string;
      /** The absolute path template in HDFS, escapes not yet replaced, without a trailing slash. */
      pathTemplate: string;
    }
  | {
      transport: 'native';
      /** `hdfs://host:port` of the NameNode's RPC server. */
      url: string;
      host: string;
      port: number;
      pathTemplate: string;
    };

/** Throws a RangeError naming what is wrong with the path. */
export function hdfsLocation(
  path: string,
  options: { webHdfsUrl?: string | undefined; user: string; transport?: HdfsTransport | undefined; gateway?: 'namenode' | 'httpfs' | undefined },
): HdfsLocation {
  const uri = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/]*)(.*)$/.exec(path.trim());
  let url: string | undefined = options.webHdfsUrl;
  // auto: an hdfs:// path is what Flume writes over Hadoop's protocols; asking for a WebHDFS address or an
  // HttpFS gateway says the NameNode's RPC port is not the way in.
  const requested = options.transport ?? 'auto';
  const transport = requested !== 'auto' ? requested : uri?.[1]?.toLowerCase() === 'hdfs' && url === undefined && options.gateway !== 'httpfs' ? 'native' : 'webhdfs';
  let template: string;
  if (transport === 'native' && (uri?.[1]?.toLowerCase() !== 'hdfs' || url !== undefined)) {
    throw new RangeError('transport native needs an hdfs://namenode[:port]/… path and no webHdfsUrl');
  }
  if (uri) {
    const scheme = uri[1]!.toLowerCase();
    const authority = uri[2]!;
    template = uri[3] || '/';
    if (authority.includes('%')) throw new RangeError(`escapes in the NameNode address (${authority}) are not supported; put them in the path`);
    if (authority === '' && url === undefined) throw new RangeError(`${path} names no NameNode; give hdfs://host/… or set webHdfsUrl`);
    if (scheme === 'hdfs' && transport === 'native') {
      const host = hostOf(authority);
      const portText = authority.slice(authority.lastIndexOf('@') + 1 + host.length).replace(/^:/, '');
      const port = portText === '' ? DEFAULT_RPC_PORT : Number(portText);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`${authority} has no valid NameNode RPC port`);
      const bare = host.replace(/^\[|\]$/g, '');
      return { transport: 'native', url: `hdfs://${host}:${port}`, host: bare, port, pathTemplate: normalize(template) };
    }
    if (scheme === 'hdfs') url ??= `http://${hostOf(authority)}:${DEFAULT_WEBHDFS_PORT}`;
    else if (scheme === 'webhdfs' || scheme === 'http') url ??= `http://${authority}`;
    else if (scheme === 'swebhdfs' || scheme === 'https') url ??= `https://${authority}`;
    else throw new RangeError(`${scheme}:// is not a file system rxflume writes to; it writes to HDFS (hdfs://, webhdfs://, swebhdfs://, http(s)://)`);
  } else {
    template = path.trim();
    if (template === '') throw new RangeError('the path is empty');
    if (!template.startsWith('/')) template = `/user/${options.user}/${template}`;
    url ??= `http://localhost:${DEFAULT_WEBHDFS_PORT}`;
  }
  try {
    const parsed = new URL(url.replace(/^webhdfs:/i, 'http:').replace(/^swebhdfs:/i, 'https:'));
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(parsed.protocol);
  } catch {
    throw new RangeError(`${url} is not a WebHDFS address (http(s)://host:port)`);
  }
  return { transport: 'webhdfs', url, pathTemplate: normalize(template) };
}

function hostOf(authority: string): string {
  const at = authority.lastIndexOf('@');
  const hostPort = authority.slice(at + 1);
  if (hostPort.startsWith('[')) return hostPort.slice(0, hostPort.indexOf(']') + 1);
  const colon = hostPort.lastIndexOf(':');
  return colon >= 0 ? hostPort.slice(0, colon) : hostPort;
}

/** Hadoop's Path: repeated slashes collapse, no trailing slash (the root stays "/"). */
export function normalize(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 && collapsed.endsWith('/') ? collapsed.slice(0, -1) : collapsed;
}

/** Why a path cannot be an HDFS file name, or undefined: absolute, no "." or ".." segment, no ":" or NUL (DFSUtil.isValidName). */
export function invalidHdfsPath(path: string): string | undefined {
  if (!path.startsWith('/')) return 'it is not absolute';
  for (const segment of path.split('/')) {
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
    if (segment.includes(':')) return 'it has a ":"';
    if (segment.includes('\u0000')) return 'it has a NUL character';
  }
  return undefined;
}
