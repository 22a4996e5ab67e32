import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { LADDER, videoCommands, T0 } from '../../domain/video/video.fixtures.ts';
import type { DomainCommand } from '../../domain/commands.ts';
import { CodecError } from '../event-codec.port.ts';
import type { CommandOutcome, CommandRecord, TopicCommand, TopicCommandType } from '../command-codec.port.ts';
import { createSchemaRegistry } from '../registry/schema-registry.ts';
import { COMMAND_REPLIES_TOPIC, COMMANDS_TOPIC, TOPICS } from '../topics.ts';
import { createAvroCommandCodec } from './avro-command-codec.ts';
import { createAvroEventCodec } from './avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from './schema-registry-api.ts';

const VIDEO = '01HXZ8R0000000000000000001';
const v = videoCommands(VIDEO);

/** One command per type of the commands topic; the Record type makes the compiler demand every type. */
const SAMPLES: { [K in TopicCommandType]: Extract<TopicCommand, { type: K }> } = {
  RegisterUser: { type: 'RegisterUser', data: {
    userId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', username: 'Ådа_Lovelace', email: 'ada@example.org',
    passwordHash: '$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
  }, metadata: { now: T0 } },
  EraseUser: { type: 'EraseUser', data: { userId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', username: 'Ådа_Lovelace' }, metadata: { now: T0 + 1, actorId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y' } },
  StartUpload: v.startUpload({ visibility: 'unlisted', sizeBytes: 5_368_709_120 }) as Extract<TopicCommand, { type: 'StartUpload' }>,
  CompleteUpload: v.completeUpload() as Extract<TopicCommand, { type: 'CompleteUpload' }>,
  FailUpload: { type: 'FailUpload', data: { videoId: VIDEO, uploadId: 'up-1', reason: 'abandoned after 24 h', code: 'UPLOAD_ABANDONED' }, metadata: { now: T0 + 10 } },
  StartProcessing: v.startProcessing() as Extract<TopicCommand, { type: 'StartProcessing' }>,
  ReportProcessingProgress: v.progress(42.5) as Extract<TopicCommand, { type: 'ReportProcessingProgress' }>,
  RecordRenditionEncoded: v.renditionEncoded() as Extract<TopicCommand, { type: 'RecordRenditionEncoded' }>,
  PublishVideo: v.publish([...LADDER]) as Extract<TopicCommand, { type: 'PublishVideo' }>,
  FailProcessing: v.fail() as Extract<TopicCommand, { type: 'FailProcessing' }>,
  CompleteProcessing: v.complete(['240p'], [{ name: '360p', reason: 'Conversion failed!' }], 11.9) as Extract<TopicCommand, { type: 'CompleteProcessing' }>,
  RecordStoryboard: v.storyboard({ intervalSeconds: 2.5 }) as Extract<TopicCommand, { type: 'RecordStoryboard' }>,
  UpdateVideoMetadata: v.update({ title: 'Sunset 🌅', tags: [] }) as Extract<TopicCommand, { type: 'UpdateVideoMetadata' }>,
  DeleteVideo: v.delete() as Extract<TopicCommand, { type: 'DeleteVideo' }>,
  PublishCaptions: v.publishCaptions('pt-BR') as Extract<TopicCommand, { type: 'PublishCaptions' }>,
  RemoveCaptions: v.removeCaptions('pt-BR') as Extract<TopicCommand, { type: 'RemoveCaptions' }>,
  SetCustomThumbnail: v.setThumbnail() as Extract<TopicCommand, { type: 'SetCustomThumbnail' }>,
  PostComment: { type: 'PostComment', data: {
    commentId: '01HXZ8S0000000000000000001', videoId: VIDEO, authorId: 'user-owner', parentId: '01HXZ8S0000000000000000000', body: 'Beautiful — where is this?',
  }, metadata: { now: T0 + 20, actorId: 'user-owner' } },
  DeleteComment: { type: 'DeleteComment', data: { commentId: '01HXZ8S0000000000000000001', videoId: VIDEO }, metadata: { now: T0 + 25, actorId: 'user-owner' } },
  LikeVideo: { type: 'LikeVideo', data: { videoId: VIDEO, userId: 'user-fan' }, metadata: { now: T0 + 30, actorId: 'user-fan' } },
  UnlikeVideo: { type: 'UnlikeVideo', data: { videoId: VIDEO, userId: 'user-fan' }, metadata: { now: T0 + 40, actorId: 'user-fan' } },
  SubscribeToChannel: { type: 'SubscribeToChannel', data: { channelId: 'user-owner', subscriberId: 'user-fan' }, metadata: { now: T0 + 50, actorId: 'user-fan' } },
  UnsubscribeFromChannel: { type: 'UnsubscribeFromChannel', data: { channelId: 'user-owner', subscriberId: 'user-fan' }, metadata: { now: T0 + 60, actorId: 'user-fan' } },
};

async function setup() {
  const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
  await registry.start();
  const api = createInProcessSchemaRegistryApi(registry);
  return { registry, codec: createAvroCommandCodec({ registry: api }), events: createAvroEventCodec({ registry: api }) };
}

describe('avro command codec (the commands topic, ADR 0006)', () => {
  test('every command type round-trips with its envelope, under streamwave.commands-<full name>', async () => {
    const { codec, registry } = await setup();
    const ids = await codec.registerAll();
    assert.equal(ids.size, Object.keys(SAMPLES).length + 1, 'every command and the outcome');
    for (const [i, command] of (Object.values(SAMPLES) as TopicCommand[]).entries()) {
      const record: CommandRecord = { command, commandId: `cmd-${i}`, replyTo: i % 2 ? 'gateway-a' : null };
      const buf = await codec.encode(record);
      assert.equal(buf[0], 0, `${command.type}: magic byte`);
      const aggregate = codec.schemas.get(command.type)!.namespace.split('.').at(-1);
      const subject = `${COMMANDS_TOPIC}-io.streamwave.command.${aggregate}.${command.type}`;
      assert.equal((await registry.getVersion(subject, 'latest')).id, buf.readUInt32BE(1), `${command.type}: subject ${subject}`);
      assert.deepEqual(await codec.decode(buf), record, `${command.type}: round trip`);
    }
    assert.equal(new Set(ids.values()).size, ids.size, 'distinct command types never share an id');
  });

  test('absent optional fields and an absent actor stay absent; a null parent reads as absent, like a top-level comment', async () => {
    const { codec } = await setup();
    const update = v.update({ description: '' }, null);
    const back = await codec.decode(await codec.encode({ command: update as TopicCommand, commandId: 'c1', replyTo: null }));
    assert.deepEqual(back.command, update);
    assert.equal('title' in back.command.data, false, 'an absent title is not turned into null (it would clear the title)');
    assert.equal('actorId' in back.command.metadata, false);

    const topLevel = { ...SAMPLES.PostComment, data: { ...SAMPLES.PostComment.data, parentId: null } };
    const { parentId: _p, ...withoutParent } = topLevel.data;
    assert.deepEqual((await codec.decode(await codec.encode({ command: topLevel, commandId: 'c2', replyTo: null }))).command.data, withoutParent);
  });

  test('outcomes round-trip on streamwave.command-replies: accepted with the events as written and their positions, or refused', async () => {
    const { codec, events, registry } = await setup();
    const written = await events.encode(TOPICS.videos, { type: 'VideoDeleted', data: { videoId: VIDEO, deletedBy: 'user-owner', deletedAt: T0 } });
    const accepted: CommandOutcome = {
      commandId: 'c1', accepted: true, events: [written], positions: [{ topic: TOPICS.videos, partition: 3, offset: 2 ** 40 }],
      refusal: null, decidedAt: T0 + 5,
    };
    const buf = await codec.encodeOutcome(accepted);
    assert.deepEqual(await codec.decodeOutcome(buf), accepted);
    assert.equal((await registry.getVersion(`${COMMAND_REPLIES_TOPIC}-io.streamwave.command.CommandOutcome`, 'latest')).id, buf.readUInt32BE(1));
    assert.deepEqual(await events.decode((await codec.decodeOutcome(buf)).events[0]), { type: 'VideoDeleted', data: { videoId: VIDEO, deletedBy: 'user-owner', deletedAt: T0 } });
    const refused: CommandOutcome = {
      commandId: 'c2', accepted: false, events: [], positions: [], refusal: { code: 'USERNAME_TAKEN', message: 'username ada is taken', kind: 'conflict' }, decidedAt: T0 + 6,
    };
    assert.deepEqual(await codec.decodeOutcome(await codec.encodeOutcome(refused)), refused);
    await assert.rejects(codec.decodeOutcome(await codec.encode({ command: SAMPLES.DeleteVideo, commandId: 'c3', replyTo: null })),
      (e: unknown) => e instanceof CodecError && e.code === 'UNKNOWN_OUTCOME_TYPE');
  });

  test('heartbeats, events and bad bytes are refused with stable codes', async () => {
    const { codec, events } = await setup();
    const heartbeat = { type: 'RecordView', data: { videoId: VIDEO, sessionId: 's', watchedSeconds: 1, positionSeconds: 1 }, metadata: { now: T0 } } as DomainCommand;
    await assert.rejects(codec.encode({ command: heartbeat as TopicCommand, commandId: 'c', replyTo: null }),
      (e: unknown) => e instanceof CodecError && e.code === 'UNKNOWN_COMMAND_TYPE');
    const broken = { ...SAMPLES.CompleteUpload, data: { ...SAMPLES.CompleteUpload.data, sizeBytes: 'big' } } as unknown as TopicCommand;
    await assert.rejects(codec.encode({ command: broken, commandId: 'c', replyTo: null }),
      (e: unknown) => e instanceof CodecError && e.code === 'AVRO_ENCODE' && e.message.includes('sizeBytes'));
    const event = await events.encode(TOPICS.videos, { type: 'VideoDeleted', data: { videoId: VIDEO, deletedBy: 'u', deletedAt: T0 } });
    await assert.rejects(codec.decode(event), (e: unknown) => e instanceof CodecError && e.code === 'UNKNOWN_COMMAND_TYPE');
    await assert.rejects(codec.decode(Buffer.from('{"type":"DeleteVideo"}')), (e: unknown) => e instanceof CodecError && e.code === 'BAD_MAGIC_BYTE');
  });
});
