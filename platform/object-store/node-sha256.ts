import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

/** Bytes as the AWS SDK hands them to a hash: a string (UTF-8 unless told), an ArrayBuffer or a view. */
export type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData, encoding?: BufferEncoding): Buffer {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * SHA-256 (or HMAC-SHA-256 when constructed with a secret) on node:crypto, shaped as the
 * `ChecksumConstructor` that `@smithy/signature-v4` / `@aws-sdk/s3-request-presigner` expect for
 * their `sha256` option. The SDK's own implementation (@smithy/core/serde `Hash`) is internal and
 * not a declared dependency, so this 20-line adapter keeps us on public APIs only.
 */
export class NodeSha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  update(data: SourceData, encoding?: 'utf8' | 'ascii' | 'latin1'): void {
    this.hash.update(toBuffer(data, encoding));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}
