/**
 * A minimal ISO-BMFF (ISO/IEC 14496-12) reader for fMP4 media segments: the decode time each
 * track fragment starts at. Used to check that chunked segments continue the single run's
 * timeline. Pure; no I/O.
 */

/** Boxes whose payload is a list of boxes on the path to `tfhd`/`tfdt`. */
const CONTAINERS = new Set(['moof', 'traf']);

/**
 * The `tfdt` baseMediaDecodeTime (§8.8.12, track timescale units) of every track fragment of
 * an fMP4 segment, by track_ID (`tfhd`, §8.8.7); the first fragment of a track wins when a
 * segment holds several.
 * @param data the segment's bytes (`styp`/`sidx`/`moof`/`mdat`…).
 * @throws RangeError when a box size runs past the end of the data or is smaller than its header.
 */
export function fragmentDecodeTimes(data: Buffer): Map<number, number> {
  const out = new Map<number, number>();
  const walk = (start: number, end: number): void => {
    let trackId: number | null = null;
    for (let off = start; off + 8 <= end; ) {
      let size = data.readUInt32BE(off);
      const type = data.toString('latin1', off + 4, off + 8);
      let header = 8;
      if (size === 1) {
        size = Number(data.readBigUInt64BE(off + 8));
        header = 16;
      } else if (size === 0) {
        size = end - off;
      }
      if (size < header || off + size > end) throw new RangeError(`bad ${type} box size ${size} at ${off}`);
      const body = off + header;
      if (CONTAINERS.has(type)) walk(body, off + size);
      else if (type === 'tfhd') trackId = data.readUInt32BE(body + 4);
      else if (type === 'tfdt' && trackId !== null && !out.has(trackId)) {
        out.set(trackId, data[body] === 1 ? Number(data.readBigUInt64BE(body + 4)) : data.readUInt32BE(body + 4));
      }
      off += size;
    }
  };
  walk(0, data.length);
  return out;
}
