/**
 * Where an `hdfs.path` points: the WebHDFS address its requests go to and the path template inside
 * HDFS. Flume opens any Hadoop file system URI; over WebHDFS that is
 *
 * - `hdfs://namenode[:rpcPort]/dir` → `http://namenode:9870` (the NameNode's default HTTP port; the RPC
 *   port says nothing about it), unless `webHdfsUrl` says where the NameNode's HTTP server is;
 * - `webhdfs://host:port/dir`, `swebhdfs://…`, `http(s)://host:port/dir` → that address;
 * - `/dir` (Hadoop's default file system) → `webHdfsUrl`, else `http://localhost:9870`;
 * - `dir` (relative) → `/user/<user>/dir`, Hadoop's working directory.
 *
 * `webHdfsUrl`, when given, is where every request goes. Escapes belong in the path, not in the address.
 */

export const DEFAULT_WEBHDFS_PORT = 9870;

export interface HdfsLocation {
  /** `http(s)://host:port` of the NameNode's HTTP server (or HttpFS). */
  url: string;
  /** The absolute path template in HDFS, escapes not yet replaced, without a trailing slash. */
  pathTemplate: string;
}

/** Throws a RangeError naming what is wrong with the path. */
export function hdfsLocation(path: string, options: { webHdfsUrl?: string | undefined; user: string }): HdfsLocation {
  const uri = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/]*)(.*)$/.exec(path.trim());
  let url: string | undefined = options.webHdfsUrl;
  let template: string;
  if (uri) {
    const scheme = uri[1]!.toLowerCase();
    const authority = uri[2]!;
    template = uri[3] || '/';
    if (authority.includes('%')) throw new RangeError(`escapes in the NameNode address (${authority}) are not supported; put them in the path`);
    if (authority === '' && url === undefined) throw new RangeError(`${path} names no NameNode; give hdfs://host/… or set webHdfsUrl`);
    if (scheme === 'hdfs') url ??= `http://${hostOf(authority)}:${DEFAULT_WEBHDFS_PORT}`;
    else if (scheme === 'webhdfs' || scheme === 'http') url ??= `http://${authority}`;
    else if (scheme === 'swebhdfs' || scheme === 'https') url ??= `https://${authority}`;
    else throw new RangeError(`${scheme}:// is not a file system rxflume writes to; it writes to HDFS over WebHDFS (hdfs://, webhdfs://, swebhdfs://, http(s)://)`);
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
  return { url, pathTemplate: normalize(template) };
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
