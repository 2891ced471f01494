/** `rxflume/jms`: Flume's JMS source, speaking AMQP 1.0 to the broker (ActiveMQ, Artemis, Qpid…). */
export { jmsSource, type JmsSourceOptions } from '../sources/jmsSource.js';
