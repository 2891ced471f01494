/** `rxflume/syslog`: the syslog sources (TCP, UDP, multiport) and the parser they share. */
export { syslogTcpSource, type SyslogTcpSourceOptions } from '../sources/syslog/syslogTcpSource.js';
export { syslogUdpSource, type SyslogUdpSourceOptions } from '../sources/syslog/syslogUdpSource.js';
export { multiportSyslogTcpSource, type MultiportSyslogTcpSourceOptions } from '../sources/syslog/multiportSyslogTcpSource.js';
export { parseSyslog } from '../sources/syslog/syslogParser.js';
