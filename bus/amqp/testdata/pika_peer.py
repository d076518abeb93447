"""A fedora-messaging peer written with Debian's python3-pika.

publish URL ROUTING_KEY COUNT: sends COUNT MBS events (ids 0..COUNT-1) the
way fedora-messaging does, with integer headers that pika encodes as int32,
then one body that is not JSON.
get URL QUEUE: prints the next message of QUEUE as JSON (properties,
headers, body) and acknowledges it.
"""
import json
import sys
import uuid

import pika


def publish(url, key, count):
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.confirm_delivery()
    for i in range(count):
        body = {"id": i, "name": "pikamodule", "stream": "1", "version": "20190101000000",
                "context": "c2c572ec", "state": 5, "state_name": "ready", "scratch": False}
        props = pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=str(uuid.uuid4()),
            headers={"fedora_messaging_schema": "base.message", "fedora_messaging_severity": 20,
                     "sent-at": "2019-07-30T19:06:02.523373+00:00", "priority": 3})
        ch.basic_publish("amq.topic", key, json.dumps(body), props)
    ch.basic_publish("amq.topic", key, b"\x00not json",
                     pika.BasicProperties(delivery_mode=2, message_id=str(uuid.uuid4())))
    conn.close()


def get(url, queue):
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    method, props, body = ch.basic_get(queue)
    if method is None:
        sys.exit("queue is empty")
    ch.basic_ack(method.delivery_tag)
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (props.headers or {}).items()}
    print(json.dumps({
        "routing_key": method.routing_key, "content_type": props.content_type,
        "delivery_mode": props.delivery_mode, "message_id": props.message_id,
        "headers": headers, "body": json.loads(body),
    }))
    conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "publish":
        publish(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        get(sys.argv[2], sys.argv[3])
