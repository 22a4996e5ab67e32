/**
 * Multipart upload planning. S3 limits (Amazon S3 User Guide, "Multipart upload limits"):
 * at most 10,000 parts, every part but the last ≥ 5 MiB, at most 5 GiB per part.
 */
export const MAX_PARTS = 10_000;
const MiB = 1024 * 1024;

export interface PartPlanLimits {
  /** Bytes. */
  minPartSizeBytes: number;
  /** Bytes. */
  maxPartSizeBytes: number;
}

export interface PartPlan {
  /** Bytes; every part but the last has exactly this size. */
  partSizeBytes: number;
  /** Number of parts, ≥ 1. */
  partCount: number;
}

/**
 * Part size = ceil(size / 10,000) rounded up to a whole MiB, clamped to [min, max]; part count =
 * ceil(size / part size). Pure: GET /uploads/{id} recomputes the plan from the declared size.
 * Returns undefined when even the largest parts would exceed 10,000 parts (caller answers 413).
 * @param sizeBytes declared size, bytes (≥ 1)
 */
export function planParts(sizeBytes: number, limits: PartPlanLimits): PartPlan | undefined {
  const wanted = Math.ceil(Math.ceil(sizeBytes / MAX_PARTS) / MiB) * MiB;
  const partSizeBytes = Math.min(Math.max(wanted, limits.minPartSizeBytes), limits.maxPartSizeBytes);
  const partCount = Math.max(1, Math.ceil(sizeBytes / partSizeBytes));
  if (partCount > MAX_PARTS) return undefined;
  return { partSizeBytes, partCount };
}

/** Object key of an upload's raw source (the transcoder reads it from here). */
export function sourceObjectKey(videoId: string): string {
  return `uploads/${videoId}/source`;
}

/**
 * Declared content types we accept: any video/* or audio/* (the transcoder probes the actual
 * streams and fails the video with a reason if there is nothing to play), or the generic
 * application/octet-stream browsers send for unknown extensions (e.g. .mkv on some systems).
 */
export function isAcceptedContentType(contentType: string): boolean {
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(essence)) return false;
  const [type, subtype] = essence.split('/') as [string, string];
  if (type === 'video' || type === 'audio') return true;
  // Containers registered under application/ (RealMedia, MXF, Ogg, Matroska, ASF, MP4, …): the
  // declared type is only the client's guess from the file name; the transcoder's probe decides.
  return type === 'application' && CONTAINER_SUBTYPES.has(subtype);
}

/** application/* media types of video containers (IANA registry and common extensions). */
const CONTAINER_SUBTYPES = new Set([
  'octet-stream', 'vnd.rn-realmedia', 'vnd.rn-realmedia-vbr', 'mxf', 'ogg', 'x-matroska', 'mp4',
  'vnd.ms-asf', 'x-mpegurl', 'mp2t', 'x-troff-msvideo', 'x-shockwave-flash', 'x-flv', 'mpeg4-generic',
]);

/**
 * Size of part `partNumber` (1..partCount) in the plan of an upload of `sizeBytes` bytes: the
 * plan's part size, the last part the remainder. Presigned part URLs sign it as Content-Length,
 * so a part of any other length is refused (issue 8: an upload cannot exceed its declaration).
 */
export function plannedPartSize(plan: PartPlan, sizeBytes: number, partNumber: number): number {
  return partNumber < plan.partCount ? plan.partSizeBytes : sizeBytes - (plan.partCount - 1) * plan.partSizeBytes;
}

/**
 * Checks, before CompleteMultipartUpload, that the parts to assemble follow the plan and add up to
 * the declared size (issue 8). Parts not stored are left to the store (S3 answers InvalidPart).
 * @param declaredBytes size declared at StartUpload, bytes
 * @param requested part numbers the client asks to assemble, in order
 * @param stored parts the store holds (ListParts): number and size in bytes
 * @returns a reason (no server paths, fit for `/status`) when the sizes do not match, else undefined
 */
export function sizeMismatch(
  declaredBytes: number,
  plan: PartPlan,
  requested: readonly number[],
  stored: readonly { partNumber: number; size: number }[],
): string | undefined {
  const sizes = new Map(stored.map((p) => [p.partNumber, p.size]));
  if (requested.some((n) => !sizes.has(n))) return undefined;
  let total = 0;
  for (const n of requested) {
    const size = sizes.get(n)!;
    if (n > plan.partCount) return `part ${n} is outside the plan of ${plan.partCount} parts`;
    const planned = plannedPartSize(plan, declaredBytes, n);
    if (size !== planned) return `part ${n} is ${size} bytes; the plan says ${planned} bytes`;
    total += size;
  }
  if (total !== declaredBytes) return `the parts add up to ${total} bytes; ${declaredBytes} bytes were declared`;
  return undefined;
}
