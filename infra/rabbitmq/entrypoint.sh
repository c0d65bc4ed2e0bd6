#!/bin/sh
# Writes the users part of the boot definitions from the environment, then starts RabbitMQ as the image would.
set -eu
: "${RABBITMQ_USER:?set RABBITMQ_USER}"
: "${RABBITMQ_PASSWORD:?set RABBITMQ_PASSWORD}"
mkdir -p /etc/rabbitmq/definitions.d
cat > /etc/rabbitmq/definitions.d/10-users.json <<JSON
{
  "vhosts": [{ "name": "/" }],
  "users": [{ "name": "${RABBITMQ_USER}", "password": "${RABBITMQ_PASSWORD}", "tags": "administrator" }],
  "permissions": [{ "user": "${RABBITMQ_USER}", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*" }]
}
JSON
# Quorum queues (replicated) for a cluster, classic ones for a single node; the services must agree (AMQP_QUEUE_TYPE).
topology=/etc/rabbitmq/herald/definitions.json
if [ "${AMQP_QUEUE_TYPE:-classic}" = quorum ]; then topology=/etc/rabbitmq/herald/definitions.quorum.json; fi
cp "$topology" /etc/rabbitmq/definitions.d/20-topology.json
chmod 644 /etc/rabbitmq/definitions.d/*.json
exec docker-entrypoint.sh rabbitmq-server
