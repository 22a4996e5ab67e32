/**
 * `streamwave log verify [--data-dir D] [--json]`: checks every partition segment of a standalone
 * data dir's embedded log (CRC-32, magic, dense offsets; platform/log/embedded/log-verify.ts) and
 * prints one line per partition. Exit 0 when start-up would accept the log (every partition `ok`
 * or `torn-tail`), 1 otherwise (issue 8, finding 8). Shows a progress bar on stderr for large logs.
 */
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { verifyLog, type LogVerification } from '../../platform/log/embedded/log-verify.ts';

/** Text report: one line per partition, then a verdict line. */
export function formatLogVerification(v: LogVerification): string {
  const lines = v.partitions.map((p) => {
    const where = p.atByte === undefined ? '' : ` at byte ${p.atByte}${p.nextValidAt === undefined ? '' : ` (valid record again at byte ${p.nextValidAt})`}`;
    const note = p.status === 'torn-tail' ? ' — unacknowledged tail of a crash, cut at next start' : '';
    return `${p.topic}/${p.partition}\t${p.status}\t${p.validRecords} records\t${p.bytes} bytes${where}${note}\t${p.file}`;
  });
  const bad = v.partitions.filter((p) => p.status === 'corrupted' || p.status === 'missing').length;
  lines.push(v.ok
    ? `OK: ${v.partitions.length} partitions verified${v.cleanShutdown ? ' (clean shutdown)' : ''}`
    : `CORRUPTED: ${bad} of ${v.partitions.length} partitions would stop start-up (LOG_CORRUPTED); restore them from a backup`);
  return lines.join('\n');
}

export function registerLogCommand(program: Command): void {
  const log = program.command('log').description('tools for the embedded event log (standalone mode)');
  log
    .command('verify')
    .description('check every partition\'s record checksums; exit 1 when a partition is corrupted')
    .option('--data-dir <dir>', 'standalone data dir', process.env.STREAMWAVE_DATA_DIR ?? './data')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { dataDir: string; json?: boolean }) => {
      const bar = process.stderr.isTTY ? new SingleBar({ format: '{partition} [{bar}] {percentage}% {value}/{total} bytes', stream: process.stderr }, Presets.shades_classic) : undefined;
      let current = '';
      let lastLogged = 0;
      const v = await verifyLog(opts.dataDir, {
        onProgress: ({ topic, partition, scannedBytes, totalBytes }) => {
          const name = `${topic}/${partition}`;
          if (bar) {
            if (name !== current) { bar.stop(); bar.start(totalBytes, scannedBytes, { partition: name }); current = name; }
            bar.update(scannedBytes, { partition: name });
          } else if (totalBytes >= 64 << 20 && (scannedBytes - lastLogged >= 64 << 20 || scannedBytes === totalBytes)) {
            // No TTY (CI, logs): a line every 64 MiB of a large partition.
            lastLogged = scannedBytes === totalBytes ? 0 : scannedBytes;
            process.stderr.write(`verifying ${name}: ${scannedBytes} / ${totalBytes} bytes\n`);
          }
        },
      });
      bar?.stop();
      console.log(opts.json ? JSON.stringify(v, null, 2) : formatLogVerification(v));
      if (!v.ok) process.exitCode = 1;
    });
}
