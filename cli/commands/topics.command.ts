/**
 * `streamwave topics`: topics with partitions and end offsets, and consumer-group lag
 * (committed offset vs end offset). Against a running standalone server via `GET /admin/topics`,
 * or with `--brokers host:port,…` directly against Kafka through the EventLog port.
 */
import type { Command } from 'commander';
import type { EventLog } from '../../processors/log/event-log.port.ts';
import { formatLogOverview, type LogOverview } from '../../projections/replay/log-overview.ts';
import { createAdminClient, resolveAdminToken } from './admin-client.ts';

/**
 * Opens the Kafka EventLog adapter (`processors/log/kafka-event-log.adapter.ts`, imported at
 * runtime so the CLI works without it).
 * @throws Error with a clear message when the adapter is missing or exports no `createKafkaEventLog`.
 */
export async function openKafkaEventLog(brokers: string[]): Promise<EventLog> {
  const path = '../../processors/log/kafka-event-log.adapter.ts';
  let mod: { createKafkaEventLog?: (opts: Record<string, unknown>) => EventLog | Promise<EventLog> };
  try {
    mod = await import(path);
  } catch (e) {
    throw new Error(`the Kafka event log adapter is not available (${path}: ${(e as Error).message})`);
  }
  if (typeof mod.createKafkaEventLog !== 'function') throw new Error(`${path} does not export createKafkaEventLog`);
  return mod.createKafkaEventLog({ brokers, clientId: 'streamwave-cli' });
}

export function registerTopicsCommand(program: Command, serverOption: (cmd: Command) => Command): void {
  serverOption(
    program
      .command('topics')
      .description('list topics (partitions, end offsets) and consumer-group lag')
      .option('--brokers <host:port,...>', 'talk to Kafka directly instead of the server\'s admin API')
      .option('--admin-token <token>', 'admin API token (default: STREAMWAVE_ADMIN_TOKEN or <data dir>/admin.token)')
      .option('--data-dir <dir>', 'standalone data dir (admin.token lookup)', process.env.STREAMWAVE_DATA_DIR)
      .option('--json', 'print the overview as JSON'),
  ).action(async (opts: { server: string; brokers?: string; adminToken?: string; dataDir?: string; json?: boolean }) => {
    let overview: LogOverview;
    if (opts.brokers) {
      const { describeLog } = await import('../../projections/replay/log-overview.ts');
      const log = await openKafkaEventLog(opts.brokers.split(',').map((b) => b.trim()).filter(Boolean));
      try {
        overview = await describeLog(log);
      } finally {
        await log.close();
      }
    } else {
      overview = await createAdminClient(opts.server, resolveAdminToken(opts)).request<LogOverview>('GET', '/admin/topics');
    }
    console.log(opts.json ? JSON.stringify(overview, null, 2) : formatLogOverview(overview));
  });
}
