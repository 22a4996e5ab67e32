/** Runs the EventLog contract suite against the in-memory test driver and the embedded durable log. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog } from './event-log.port.ts';
import { testEventLog } from './event-log.contract.ts';
import { createInMemoryEventLog } from './in-memory/in-memory-event-log.adapter.ts';
import { createEmbeddedEventLog } from './embedded/embedded-event-log.adapter.ts';

testEventLog('in-memory', async () => {
  const log = createInMemoryEventLog();
  return { log, cleanup: () => log.close() };
}, { durable: false, commitInterval: false });

testEventLog('embedded', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'streamwave-log-contract-'));
  let current: EventLog = await createEmbeddedEventLog({ dataDir, redeliveryDelayMs: 10 });
  return {
    log: current,
    async reopen() {
      await current.close();
      current = await createEmbeddedEventLog({ dataDir, redeliveryDelayMs: 10 });
      return current;
    },
    async cleanup() {
      await current.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}, { durable: true, commitInterval: true });
