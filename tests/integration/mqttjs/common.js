// Shared helpers for the MQTT.js scripts driven by test_mqttjs.py. Every script prints
// one JSON object per line on stdout and exits 0 when it did what it was asked, 2 on a
// timeout, 1 on an error; it never reconnects, so a broker-side close is visible.
'use strict';
const mqtt = require('mqtt');

function parseArgs(argv) {
  // node script.js PORT [key=value ...] -> {port, key: value, ...}
  const out = { port: Number(argv[2]) };
  for (const a of argv.slice(3)) {
    const i = a.indexOf('=');
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function connect(port, version, clientId, extra) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, Object.assign({
      protocolVersion: version,
      clientId,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      keepalive: 30,
    }, extra || {}));
    client.once('connect', (connack) => resolve({ client, connack }));
    client.once('error', reject);
  });
}

function describe(topic, payload, packet) {
  const p = packet.properties || {};
  return {
    event: 'message',
    topic,
    payload: payload.toString('utf8'),
    qos: packet.qos,
    retain: packet.retain,
    dup: packet.dup,
    userProperties: p.userProperties || null,
    subscriptionIdentifier: p.subscriptionIdentifier === undefined ? null : p.subscriptionIdentifier,
    responseTopic: p.responseTopic || null,
    correlationData: p.correlationData ? Buffer.from(p.correlationData).toString('hex') : null,
    contentType: p.contentType || null,
  };
}

function deadline(ms) {
  setTimeout(() => {
    emit({ event: 'timeout' });
    process.exit(2);
  }, ms).unref();
}

function fail(err) {
  emit({ event: 'error', message: String(err && err.message || err) });
  process.exit(1);
}

module.exports = { mqtt, parseArgs, emit, connect, describe, deadline, fail };
