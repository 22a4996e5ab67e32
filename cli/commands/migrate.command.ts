/**
 * `streamwave migrate personal-data`: rewrites the personal fields a Kafka cluster holds in
 * plaintext (written before crypto-shredding, issue 13) into encrypted copies at the same offsets
 * (deploy/cluster/personal-data-upgrade.ts). Run it once, with the cluster's environment
 * (STREAMWAVE_KAFKA_BROKERS, STREAMWAVE_REDIS_URL, …), while every role is stopped; it refuses
 * while a consumer group has members. Idempotent and resumable. A standalone data dir needs no
 * command: `npm start` upgrades it.
 * Exit codes: 0 done (or nothing to do), 1 failed, 3 refused (roles still running).
 */
import type { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';

export function registerMigrateCommand(program: Command): void {
  const migrate = program.command('migrate').description('one-off upgrades of a cluster\'s data');
  migrate
    .command('personal-data')
    .description('encrypt the plaintext personal fields of a Kafka cluster written before issue 13 (stop every role first)')
    .action(async () => {
      const [{ loadConfig }, { pino }, { ClusterBusyError, runClusterPersonalDataUpgrade }] = await Promise.all([
        import('../../deploy/config/config.ts'), import('pino'), import('../../deploy/cluster/personal-data-upgrade.ts'),
      ]);
      const logger = pino({ level: process.env.STREAMWAVE_LOG_LEVEL ?? 'info' }, pino.destination(2));
      const bar = new SingleBar({ format: '{step} {topic} [{bar}] {percentage}% | {value}/{total} records | {rewritten} rewritten', hideCursor: true }, Presets.shades_classic);
      let shown = '';
      try {
        const result = await runClusterPersonalDataUpgrade(loadConfig(process.env), logger, (step, p) => {
          const key = `${step} ${p.topic}`;
          if (key !== shown) { if (shown) bar.stop(); bar.start(p.total, 0, { step, topic: p.topic, rewritten: 0 }); shown = key; }
          bar.update(p.copied, { step, topic: p.topic, rewritten: p.rewritten });
        });
        if (shown) bar.stop();
        console.log(result.migrated.length
          ? `personal-data upgrade: ${result.migrated.join(', ')} rewritten (${result.copied} records copied, ${result.rewritten} encrypted)`
          : 'personal-data upgrade: no plaintext personal fields found; nothing to do');
      } catch (err) {
        if (shown) bar.stop();
        console.error(`personal-data upgrade failed: ${(err as Error).message}`);
        process.exitCode = err instanceof ClusterBusyError ? 3 : 1;
      }
    });
}
