#!/usr/bin/env bash
# Prepares the long-running services the machine already has: RabbitMQ (for
# AMQP) gets its STOMP plugin. Brokers, Apache and the KDC that the tests own
# are started by the tests themselves in temporary directories.
set -euo pipefail
if ! rabbitmqctl -q status >/dev/null 2>&1; then
	rabbitmq-server -detached
	for _ in $(seq 1 60); do rabbitmqctl -q status >/dev/null 2>&1 && break; sleep 1; done
fi
rabbitmq-plugins -q enable rabbitmq_stomp >/dev/null
for _ in $(seq 1 30); do
	(exec 3<>/dev/tcp/127.0.0.1/61613) 2>/dev/null && break
	sleep 1
done
