/**
 * GET /metrics of a standalone server (`streamwave start` as a child process) carries the metrics
 * of issue 9 for every role it runs: the projections (events applied, batches, lag per consumer
 * group, failures), the transcoder (queue depth, jobs), the adapters (errors) and the gateway.
 * Then the same projection series from the `all` cluster role on a real Kafka broker (lag read
 * from the broker's offsets, every series labelled with the role).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { READ_MODELS } from '../../projections/read-model.port.ts';
import { kafkaRequirement, startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.ts';
import { sampleSum, sampleValue, samplesOf } from '../support/prometheus-text.ts';
import { startClusterRoleProcess, startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';

let tmp = '';
let sw: StandaloneProcess | undefined;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-metrics-e2e-'));
});
after(async () => {
  await sw?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const scrape = async (server = sw!): Promise<string> => {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
};

/** Scrapes until `check` holds (bounded: the projection applies in the background). */
async function scrapeUntil(check: (text: string) => boolean, what: string, server = sw!): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const text = await scrape(server);
    if (check(text)) return text;
    if (Date.now() > deadline) assert.fail(`${what} not reached; last scrape:\n${text.split('\n').filter((l) => l.startsWith('streamwave_')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GET /metrics (standalone)', () => {
  before(async () => {
    sw = await startStandaloneProcess({ dataDir: join(tmp, 'data') });
  });
  after(async () => {
    await sw?.stop();
    sw = undefined;
  });

  test('every read model has lag series for its consumer group and a failures gauge; a registration shows up as an applied event', async () => {
    let text = await scrape();
    for (const projection of READ_MODELS) {
      const lag = samplesOf(text, 'streamwave_consumer_lag', { projection });
      assert.ok(lag.length > 0, `lag series of ${projection}`);
      assert.deepEqual(new Set(lag.map((s) => s.labels.group)), new Set([`streamwave.projection.${projection}`]));
      assert.equal(sampleValue(text, 'streamwave_projection_failures', { projection, instance: 'primary' }), 0);
    }
    const before = sampleValue(text, 'streamwave_projection_events_total', { projection: 'user-accounts', instance: 'primary' }) ?? 0;

    await new StreamWaveClient(sw!.url).register('metrics-user', 'metrics-user@example.com', 'metrics-password-1');
    text = await scrapeUntil(
      (t) => (sampleValue(t, 'streamwave_projection_events_total', { projection: 'user-accounts', instance: 'primary' }) ?? 0) > before,
      'the registration applied by user-accounts',
    );
    assert.ok((sampleValue(text, 'streamwave_projection_batches_total', { projection: 'user-accounts', outcome: 'ok' }) ?? 0) >= 1);
    assert.ok((sampleValue(text, 'streamwave_projection_batch_duration_seconds_count', { projection: 'user-accounts' }) ?? 0) >= 1);
    text = await scrapeUntil((t) => sampleSum(t, 'streamwave_consumer_lag', { projection: 'user-accounts' }) === 0, 'user-accounts caught up');
  });

  test('the transcoder, adapter and gateway families are exported', async () => {
    const text = await scrape();
    assert.equal(sampleValue(text, 'streamwave_transcode_queue_depth'), 0);
    assert.equal(sampleValue(text, 'streamwave_transcode_jobs_running'), 0);
    assert.equal(sampleValue(text, 'streamwave_transcode_jobs_total', { outcome: 'ready' }), 0);
    assert.match(text, /^# TYPE streamwave_transcode_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE streamwave_adapter_errors_total counter$/m);
    assert.ok(samplesOf(text, 'http_requests_total', { route: '/metrics' }).length > 0);
    assert.ok(samplesOf(text, 'streamwave_processor_lag', { processor: 'transcoder' }).length > 0);
  });
});

describe('GET /metrics (the `all` cluster role on Kafka)', { skip: await kafkaRequirement() }, () => {
  let broker: KafkaBroker | undefined;
  let server: StandaloneProcess | undefined;
  before(async () => {
    broker = await startKafkaBroker();
    server = await startClusterRoleProcess({
      role: 'all', kafkaBrokers: broker.bootstrap, dataDir: join(tmp, 'cluster'), env: { STREAMWAVE_TOPIC_PARTITIONS: '2' }, timeoutMs: 120_000,
    });
  });
  after(async () => {
    await server?.stop();
    await broker?.stop();
  });

  test('projection events and the consumer lag read from the broker, labelled with the role', async () => {
    const before = sampleValue(await scrape(server), 'streamwave_projection_events_total', { projection: 'user-accounts', instance: 'primary' }) ?? 0;
    await new StreamWaveClient(server!.url).register('kafka-metrics', 'kafka-metrics@example.com', 'metrics-password-1');
    const text = await scrapeUntil(
      (t) => (sampleValue(t, 'streamwave_projection_events_total', { projection: 'user-accounts', instance: 'primary' }) ?? 0) > before
        && sampleSum(t, 'streamwave_consumer_lag', { projection: 'user-accounts' }) === 0,
      'the registration applied by user-accounts on Kafka',
      server,
    );
    const lag = samplesOf(text, 'streamwave_consumer_lag', { projection: 'user-accounts' });
    assert.ok(lag.length >= 2, `lag series: ${lag.length}`); // 2 partitions per input topic
    assert.ok(lag.every((s) => s.labels.role === 'all' && s.labels.group === 'streamwave.projection.user-accounts'));
    assert.equal(sampleValue(text, 'streamwave_projection_failures', { projection: 'user-accounts', instance: 'primary' }), 0);
    assert.equal(sampleValue(text, 'streamwave_transcode_queue_depth'), 0);
    // The gateway side of the role decides heartbeats itself and coalesces their appends (commands/view-recorder.ts).
    for (const family of ['streamwave_view_recorder_appends_total', 'streamwave_view_recorder_sends_total']) assert.match(text, new RegExp(`^# TYPE ${family} counter$`, 'm'));
  });
});
