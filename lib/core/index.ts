export * from './event.js';
export * from './batch.js';
export * from './errors.js';
export * from './metrics.js';
export * from './config.js';
export * from './sink.js';
export * from './pipe.js';
export * from './pollSource.js';
