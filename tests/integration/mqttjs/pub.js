// node pub.js PORT version=4|5 topic=T qos=Q count=N [retain=1] [user=JSON] [id=CLIENTID]
// Publishes "msg-0".."msg-N-1", waits for every acknowledgement, prints
// {"event":"done","count":N} and exits 0.
'use strict';
const { parseArgs, emit, connect, deadline, fail } = require('./common');

const a = parseArgs(process.argv);
const count = Number(a.count);
deadline(Number(a.timeout || 15000));

(async () => {
  const { client } = await connect(a.port, Number(a.version), a.id || `js-pub-${process.pid}`);
  const opts = { qos: Number(a.qos), retain: a.retain === '1' };
  if (a.user) opts.properties = { userProperties: JSON.parse(a.user) };
  let acked = 0;
  for (let i = 0; i < count; i += 1) {
    client.publish(a.topic, `msg-${i}`, opts, (err) => {
      if (err) return fail(err);
      acked += 1;
      if (acked === count) {
        client.end(false, {}, () => { emit({ event: 'done', count: acked }); process.exit(0); });
      }
    });
  }
})().catch(fail);
