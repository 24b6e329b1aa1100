"""log.console.formatter = json: every line emqxd writes to stderr is one JSON object,
whatever the text it logs holds (client ids and paths with quotes, backslashes, newlines
and control characters; path bytes that are not UTF-8)."""
import json
import os

import rawmqtt as R
from conftest import wait_for

ODD_CLIENT_ID = 'odd "id" \\ back\nslash\ttab\x01\x1f\x7f end'
# A data directory whose name holds a quote, a backslash, a newline and two bytes that
# are not UTF-8 (os.fsencode turns the surrogates back into 0xff 0xfe).
ODD_DIR = 'we"ird\\dir\nodd\udcff\udcfe'


def json_lines(broker):
    with open(broker.log_path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    assert lines[-1] == b"", "the log ends mid-line"
    out = []
    for n, line in enumerate(lines[:-1]):
        text = line.decode("utf-8")  # strict: a byte that is not UTF-8 fails here
        try:
            out.append(json.loads(text))
        except ValueError as e:
            raise AssertionError("line %d is not JSON (%s): %r" % (n + 1, e, text))
    return out


def test_every_log_line_is_json(make_broker, tmp_path):
    data_dir = os.path.join(str(tmp_path), ODD_DIR)
    b = make_broker(env={"EMQX_LOG__CONSOLE__FORMATTER": "json",
                         "EMQX_NODE__DATA_DIR": data_dir})
    c = R.connected(b, ODD_CLIENT_ID)
    c.send(R.disconnect())
    c.expect_closed()
    # A protocol violation: the broker closes the connection and logs why.
    bad = R.connected(b, ODD_CLIENT_ID + " 2")
    bad.send(R.packet(R.PUBLISH, 0, b"\x00"))  # a truncated topic length
    bad.expect_closed()
    assert wait_for(lambda: "closing" in b.read_log(), 5.0)
    assert b.stop() == 0

    lines = json_lines(b)
    assert len(lines) > 5
    for line in lines:
        assert sorted(line) == ["level", "module", "msg", "time"], line
        assert isinstance(line["msg"], str)
    msgs = [l["msg"] for l in lines]
    # The odd texts read back exactly as they were, not split across lines.
    assert any(m.startswith("client_id=%s peer=" % ODD_CLIENT_ID) and " connected " in m
               for m in msgs), msgs
    # The path is logged (the storage line): quote, backslash and newline read back as
    # they were, and the bytes that are not UTF-8 come out as U+FFFD.
    shown = data_dir.replace("\udcff\udcfe", "\ufffd\ufffd")
    assert any(m.startswith("storage %s/rocksdb" % shown) for m in msgs), msgs
