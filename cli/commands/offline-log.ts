import { createEmbeddedEventLog, embeddedEventLogExists, type EmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';

/**
 * The embedded event log of a stopped standalone server's data dir, for the offline tools
 * (`replay --offline`, `storyboards backfill`), or the exit code 2 after saying why on stderr:
 * no log there, or a running server holds it (`whenLocked` says what to do instead).
 * @throws the log's other opening errors
 */
export async function openOfflineLog(dataDir: string, whenLocked: string): Promise<EmbeddedEventLog | 2> {
  if (!(await embeddedEventLogExists(dataDir))) {
    console.error(`no embedded event log in ${dataDir}`);
    return 2;
  }
  try {
    return await createEmbeddedEventLog({ dataDir });
  } catch (e) {
    if ((e as { code?: string }).code === 'LOG_LOCKED') {
      console.error(`the event log in ${dataDir} is held by a running server; ${whenLocked}`);
      return 2;
    }
    throw e;
  }
}
