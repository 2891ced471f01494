import { expect } from 'vitest';
import { WebHdfsError } from '../../lib/hdfs/webHdfsError.js';

/** The WebHdfsError a promise rejects with (fails the test when it resolves or rejects with anything else). */
export async function refusal(promise: Promise<unknown>): Promise<WebHdfsError> {
  const error = await promise.then(
    () => expect.unreachable('expected a WebHdfsError'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebHdfsError);
  return error as WebHdfsError;
}
