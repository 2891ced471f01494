/** `rxflume/netcat`: the netcat sources, TCP and UDP. */
export { netcatSource, type NetcatSourceOptions } from '../sources/netcatSource.js';
export { netcatUdpSource, type NetcatUdpSourceOptions } from '../sources/netcatUdpSource.js';
