// node sub.js PORT version=4|5 filter=F qos=Q count=N [subid=I] [id=CLIENTID]
// Subscribes, prints {"event":"subscribed","granted":[...]}, then one line per message;
// exits 0 after `count` messages (and a short settle that would report extras).
'use strict';
const { parseArgs, emit, connect, describe, deadline, fail } = require('./common');

const a = parseArgs(process.argv);
const count = Number(a.count);
deadline(Number(a.timeout || 15000));

(async () => {
  const { client } = await connect(a.port, Number(a.version), a.id || `js-sub-${process.pid}`);
  let got = 0;
  client.on('message', (topic, payload, packet) => {
    emit(describe(topic, payload, packet));
    got += 1;
    if (got === count) {
      // Stay a moment: a message beyond `count` would still be printed.
      setTimeout(() => client.end(false, {}, () => { emit({ event: 'done', count: got }); process.exit(0); }), 400);
    }
  });
  const opts = { qos: Number(a.qos) };
  if (a.subid) opts.properties = { subscriptionIdentifier: Number(a.subid) };
  client.subscribe(a.filter, opts, (err, granted) => {
    if (err) return fail(err);
    emit({ event: 'subscribed', granted: granted.map((g) => g.qos) });
    if (count === 0) setTimeout(() => client.end(false, {}, () => { emit({ event: 'done', count: got }); process.exit(0); }), 400);
  });
})().catch(fail);
