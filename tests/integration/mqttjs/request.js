// node request.js PORT count=N
// MQTT 5 request/response (section 4.10): subscribes to its own response topic, sends N
// requests to "svc/echo" with Response Topic and Correlation Data, and prints each
// response it gets; exits 0 once every request has its response.
'use strict';
const { parseArgs, emit, connect, describe, deadline, fail } = require('./common');

const a = parseArgs(process.argv);
const count = Number(a.count);
deadline(Number(a.timeout || 15000));

(async () => {
  const { client } = await connect(a.port, 5, `js-req-${process.pid}`);
  const responseTopic = `reply/js-req-${process.pid}`;
  let got = 0;
  client.on('message', (topic, payload, packet) => {
    emit(describe(topic, payload, packet));
    got += 1;
    if (got === count) {
      setTimeout(() => client.end(false, {}, () => { emit({ event: 'done', count: got }); process.exit(0); }), 400);
    }
  });
  client.subscribe(responseTopic, { qos: 1 }, (err) => {
    if (err) return fail(err);
    emit({ event: 'subscribed', responseTopic });
    for (let i = 0; i < count; i += 1) {
      client.publish('svc/echo', `request-${i}`, {
        qos: 1,
        properties: { responseTopic, correlationData: Buffer.from([0xc0, i, 0xff]) },
      }, (e) => { if (e) fail(e); });
    }
  });
})().catch(fail);
