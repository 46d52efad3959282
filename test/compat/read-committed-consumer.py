# A read_committed confluent-kafka (librdkafka) consumer of partition 0 from offset 0, as the
# transaction tests run it: prints the values it read, as JSON, once it has `want` of them (or
# after 30 s). Usage: python3 read-committed-consumer.py BOOTSTRAP TOPIC FETCH_BYTES WANT
import json, sys, time
from confluent_kafka import Consumer, TopicPartition

bootstrap, topic, fetch_bytes, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'read-committed-check', 'isolation.level': 'read_committed',
              'enable.auto.commit': False, 'fetch.message.max.bytes': fetch_bytes})
c.assign([TopicPartition(topic, 0, 0)])
seen = []
deadline = time.time() + 30
while time.time() < deadline and len(seen) < want:
    m = c.poll(0.2)
    if m is None or m.error():
        continue
    seen.append(m.value().decode())
c.close()
print(json.dumps(seen))
