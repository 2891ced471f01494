/** `rxflume/irc`: Flume's IRC sink. */
export { ircSink, type IrcSinkOptions } from '../sinks/ircSink.js';
