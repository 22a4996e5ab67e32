/**
 * `streamwave topics`: topics with partitions and end offsets, and consumer-group lag
 * (committed offset vs end offset). Against a running standalone server via `GET /admin/topics`,
 * or with `--brokers host:port,…` directly against Kafka through the EventLog port.
 */
import type { Command } from 'commander';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { describeLog, formatLogOverview, type LogOverview } from '../../platform/log/log-overview.ts';
import { createAdminClient, resolveAdminToken } from './admin-client.ts';

/** Opens the Kafka EventLog adapter as the CLI's client. @throws the kafkajs connection error when no broker answers. */
async function openKafkaEventLog(brokers: string[]): Promise<EventLog> {
  return createKafkaEventLog({ brokers, clientId: 'streamwave-cli' });
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
