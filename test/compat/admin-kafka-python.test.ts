/**
 * kafka-python's KafkaAdminClient (Debian's python3-kafka, run as a child process) against a
 * real broker: describe_configs (topic with synonyms, broker), alter_configs, create_partitions,
 * delete_consumer_groups. The script prints one JSON object; the test checks it and the broker.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const PYTHON = '/usr/bin/python3'
const hasKafkaPython = spawnSync(PYTHON, ['-c', 'import kafka']).status === 0

const ADMIN_SCRIPT = String.raw`
import json, sys
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType, NewTopic, NewPartitions
from kafka.structs import OffsetAndMetadata
bootstrap = sys.argv[1]
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='py-admin', request_timeout_ms=10000)
out = {}
admin.create_topics([NewTopic('pyconf', 1, 1, topic_configs={'retention.ms': '60000'})])
def configs(resource_type, name, synonyms):
    res = admin.describe_configs([ConfigResource(resource_type, name)], include_synonyms=synonyms)
    resource = res[0].resources[0]
    rows = {}
    for entry in resource[4]:
        rows[entry[0]] = {'value': entry[1], 'readOnly': entry[2], 'source': entry[3], 'synonyms': [list(s) for s in entry[5]] if synonyms else []}
    return {'error': resource[0], 'configs': rows}
out['topicBefore'] = configs(ConfigResourceType.TOPIC, 'pyconf', True)
out['broker'] = configs(ConfigResourceType.BROKER, '0', False)
altered = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, 'pyconf', configs={'cleanup.policy': 'compact,delete'})])
out['alter'] = [list(r[:2]) for r in altered.resources]
out['topicAfter'] = configs(ConfigResourceType.TOPIC, 'pyconf', False)
grown = admin.create_partitions({'pyconf': NewPartitions(4)})
out['createPartitions'] = [list(r) for r in grown.topic_errors]
try:
    admin.create_partitions({'pyconf': NewPartitions(2)})
    out['shrink'] = None
except Exception as e:
    out['shrink'] = [type(e).__name__, e.errno, str(e)]
consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id='py-old-group', enable_auto_commit=False)
consumer.commit({TopicPartition('pyconf', 0): OffsetAndMetadata(0, '')})
consumer.close(autocommit=False)
out['deleteGroups'] = [[g, e.errno] for g, e in admin.delete_consumer_groups(['py-old-group', 'py-never-existed'])]
admin.close()
print(json.dumps(out))
`

let broker: TestBroker

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 1 })
})

afterAll(async () => {
  await broker?.destroy()
})

describe.skipIf(!hasKafkaPython)('kafka-python KafkaAdminClient', () => {
  it('describes and alters configs, adds partitions and deletes groups', async () => {
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', ADMIN_SCRIPT, `127.0.0.1:${broker.port}`], { timeout: 60_000 })
    const out = JSON.parse(stdout.trim().split('\n').pop()!)
    expect(out.topicBefore.error).toBe(0)
    expect(out.topicBefore.configs['retention.ms']).toMatchObject({ value: '60000', readOnly: false, source: 1 })
    expect(out.topicBefore.configs['retention.ms'].synonyms).toEqual([
      ['retention.ms', '60000', 1], ['log.retention.ms', '604800000', 5],
    ])
    expect(out.topicBefore.configs['segment.bytes']).toMatchObject({ value: '1073741824', source: 5 })
    expect(out.broker.configs['broker.id']).toMatchObject({ value: '0', readOnly: true })
    expect(out.alter).toEqual([[0, null]])
    expect(out.topicAfter.configs['cleanup.policy']).toMatchObject({ value: 'compact,delete', source: 1 })
    // AlterConfigs replaced the set: retention.ms is back to its default.
    expect(out.topicAfter.configs['retention.ms']).toMatchObject({ value: '604800000', source: 5 })
    expect(out.createPartitions).toEqual([['pyconf', 0, null]])
    expect(out.shrink.slice(0, 2)).toEqual(['InvalidPartitionsError', 37])
    expect(out.shrink[2]).toContain('Topic currently has 4 partitions, which is higher than the requested 2.')
    expect(broker.server.context.topics.get('pyconf')?.partitions).toBe(4)
    expect(out.deleteGroups).toEqual([['py-old-group', 0], ['py-never-existed', 69]])
  })
})
