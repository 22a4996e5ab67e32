/**
 * What `streamwave topics` shows: topics with their partitions and end offsets, and the lag of
 * every consumer group (committed offset vs end offset, per partition), read through the EventLog
 * port only, so it is the same for the embedded log and Kafka.
 */
import type { EventLog } from './event-log.port.ts';
import { parseTpKey, tpKey, type GroupOverview, type GroupPartitionLag, type LogOverview, type TopicOverview } from './event-log.port.ts';

export type { GroupOverview, GroupPartitionLag, LogOverview, TopicOverview } from './event-log.port.ts';


/**
 * Reads topics, end offsets and consumer-group lag. A group's committed offsets for topics that
 * no longer exist are skipped.
 */
export async function describeLog(log: EventLog): Promise<LogOverview> {
  const topics: TopicOverview[] = [];
  const ends = new Map<string, number>();
  for (const t of (await log.listTopics()).sort((a, b) => a.name.localeCompare(b.name))) {
    const endOffsets = await log.endOffsets(t.name);
    const begin = await log.beginningOffsets(t.name);
    endOffsets.forEach((e, p) => ends.set(tpKey(t.name, p), e));
    topics.push({
      name: t.name, partitions: t.partitions, compacted: t.compacted, endOffsets,
      records: endOffsets.reduce((sum, e, p) => sum + Math.max(0, e - (begin[p] ?? 0)), 0),
    });
  }
  const groups: GroupOverview[] = [];
  for (const groupId of await log.listGroups()) {
    const partitions: GroupPartitionLag[] = [];
    for (const [k, committed] of await log.committedOffsets(groupId)) {
      const end = ends.get(k);
      if (end === undefined) continue;
      partitions.push({ ...parseTpKey(k), committed, end, lag: Math.max(0, end - committed) });
    }
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    groups.push({ groupId, lag: partitions.reduce((s, p) => s + p.lag, 0), partitions });
  }
  return { topics, groups };
}

/** Renders an overview as two plain-text tables (topics, then groups with per-topic lag). */
export function formatLogOverview(o: LogOverview): string {
  const lines: string[] = [];
  lines.push(...table(
    ['TOPIC', 'PARTITIONS', 'RECORDS', 'END OFFSETS (per partition)'],
    o.topics.map((t) => [t.name + (t.compacted ? ' (compacted)' : ''), String(t.partitions), String(t.records), t.endOffsets.join(' ')]),
  ));
  lines.push('');
  const rows: string[][] = [];
  for (const g of o.groups) {
    const byTopic = new Map<string, GroupPartitionLag[]>();
    for (const p of g.partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p]);
    if (!byTopic.size) rows.push([g.groupId, '-', '0', '']);
    for (const [topic, ps] of byTopic) {
      rows.push([g.groupId, topic, String(ps.reduce((s, p) => s + p.lag, 0)), ps.map((p) => `${p.partition}:${p.lag}`).join(' ')]);
    }
  }
  lines.push(...table(['CONSUMER GROUP', 'TOPIC', 'LAG', 'LAG PER PARTITION (p:lag)'], rows));
  return lines.join('\n');
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(header), ...(rows.length ? rows.map(fmt) : ['(none)'])];
}
