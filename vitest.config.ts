import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Test files at once (vitest's default is cores - 1); .ci/run sets 3, the tests mostly wait on servers.
    ...(process.env['RXFLUME_TEST_WORKERS'] ? { maxWorkers: Number(process.env['RXFLUME_TEST_WORKERS']) } : {}),
    // A real Kafka broker for the Kafka tests, a real HDFS for the HDFS tests, a real ActiveMQ for the JMS tests (each started only when the run includes one).
    globalSetup: ['test/support/kafkaGlobalSetup.ts', 'test/support/hdfsGlobalSetup.ts', 'test/support/activemqGlobalSetup.ts'],
  },
});
