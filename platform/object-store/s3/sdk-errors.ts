/** Reading @aws-sdk/client-s3 service errors (S3 error code, HTTP status) without depending on their classes. */

/** The S3 error code of an SDK error (`Code` from the XML body, else the exception's name), if any. */
export function errorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { name?: string; Code?: string };
  return e.Code ?? e.name;
}

/** The HTTP status of the response that raised an SDK error, if there was a response. */
export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}
