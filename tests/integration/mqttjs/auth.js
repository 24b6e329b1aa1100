// node auth.js PORT version=4|5 id=CLIENTID [username=U] [password=P] [subscribe=TOPIC]
// Connects with the credentials; prints {"event":"connack","code":N} (0 when let in, the
// CONNACK's code when refused) and, when let in and asked, subscribes once and prints
// {"event":"suback","granted":[...]} with the codes the broker granted. Exits 0.
'use strict';
const { parseArgs, emit, connect, deadline } = require('./common');

const a = parseArgs(process.argv);
deadline(Number(a.timeout || 10000));

(async () => {
  const extra = {};
  if (a.username !== undefined) extra.username = a.username;
  if (a.password !== undefined) extra.password = a.password;
  let client;
  try {
    ({ client } = await connect(a.port, Number(a.version), a.id, extra));
  } catch (err) {
    emit({ event: 'connack', code: err.code === undefined ? -1 : err.code });
    process.exit(0);
  }
  emit({ event: 'connack', code: 0 });
  if (a.subscribe) {
    client.subscribe(a.subscribe, { qos: 1 }, (err, granted, packet) => {
      // MQTT.js reports a refused subscription as an error, with the SUBACK beside it.
      const codes = err ? (packet && packet.granted) || [-1] : granted.map((g) => g.qos);
      emit({ event: 'suback', granted: codes });
      client.end(false, {}, () => process.exit(0));
    });
  } else {
    client.end(false, {}, () => process.exit(0));
  }
})();
