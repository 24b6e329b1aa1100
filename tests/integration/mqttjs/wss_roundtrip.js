// node wss_roundtrip.js PORT CA_FILE: MQTT 5 over WebSocket over TLS, verifying the
// server against CA_FILE; subscribes, publishes QoS 1 to itself, prints "topic payload qos".
const fs = require('fs');
const mqtt = require('mqtt');
const [port, caFile] = process.argv.slice(2);
const client = mqtt.connect(`wss://127.0.0.1:${port}/mqtt`, {
  protocolVersion: 5,
  ca: fs.readFileSync(caFile),
  rejectUnauthorized: true,
  reconnectPeriod: 0,
  connectTimeout: 5000,
});
const timer = setTimeout(() => { console.error('timeout'); process.exit(2); }, 10000);
client.on('error', (e) => { console.error('error', e.message); process.exit(1); });
client.on('connect', () => {
  client.subscribe('wss/x', { qos: 1 }, (err) => {
    if (err) { console.error(err.message); process.exit(1); }
    client.publish('wss/x', 'hello-wss', { qos: 1 });
  });
});
client.on('message', (topic, payload, packet) => {
  console.log(`${topic} ${payload.toString()} ${packet.qos}`);
  clearTimeout(timer);
  client.end(false, () => process.exit(0));
});
