"""log.file and the log handlers at run time (common/log_handlers.hpp): a file handler in
its own (new) directory, 0600, rotated by size with the count kept, JSON lines that stay
JSON; GET/PUT /api/v5/configs/log and /api/v5/log/level change levels and formats while
the node runs, and refuse what cannot change (400 naming it). A real emqxd, real clients."""
import json
import os
import stat
import time

import mqttc
import rawmqtt as R
from conftest import wait_for
from test_api import assert_error, call, get_json

CONFIGS_LOG = "/api/v5/configs/log"


def put(b, path, body, want=200):
    status, headers, data = call(b, "PUT", path, body=body)
    assert status == want, (status, data)
    return json.loads(data)


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="strict")


def test_file_handler_rotation_permissions_and_json(make_broker, tmp_path):
    log_dir = os.path.join(str(tmp_path), "new", "logs")
    path = os.path.join(log_dir, "emqx.log")
    b = make_broker(config_text="""
log.file {
  path = "%s"
  level = debug
  formatter = json
  rotation_size = 16KB
  rotation_count = 3
}
""" % path)
    assert wait_for(lambda: os.path.exists(path) and " started with " in read(path), 5.0)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(log_dir).st_mode) == 0o700
    # Enough debug lines (each connection logs some) to rotate several times, with a client
    # id that holds every character a JSON line must escape.
    odd = 'q"uote\\back\nnl\t\x01'
    for i in range(60):
        c = R.connected(b, "%s-%d-%s" % (odd, i, "x" * 200))
        c.send(R.disconnect())
        c.expect_closed()
    files = sorted(os.listdir(log_dir))
    assert files == ["emqx.1.log", "emqx.2.log", "emqx.log"], files  # count kept: 3
    for f in files:
        full = os.path.join(log_dir, f)
        assert os.path.getsize(full) <= 16 * 1024 + 4096
        assert stat.S_IMODE(os.stat(full).st_mode) == 0o600
        text = read(full)
        assert text.endswith("\n")
        for line in text.splitlines():
            doc = json.loads(line)
            assert sorted(doc) == ["level", "module", "msg", "time"], doc
            assert isinstance(doc["time"], int)
    assert any(odd in json.loads(l)["msg"] for f in files
               for l in read(os.path.join(log_dir, f)).splitlines())


def test_levels_change_at_run_time(make_broker, tmp_path):
    path = os.path.join(str(tmp_path), "emqx.log")
    b = make_broker(env={"EMQX_LOG__CONSOLE__LEVEL": "warning"},
                    config_text='log.file { path = "%s", level = warning }\n' % path)
    doc = get_json(b, CONFIGS_LOG)
    assert doc["console"] == {"enable": True, "level": "warning", "formatter": "text",
                              "time_offset": "system", "timestamp_format": "auto"}
    assert doc["file"] == {"default": {
        "enable": True, "level": "warning", "formatter": "text", "time_offset": "system",
        "timestamp_format": "auto", "path": path, "rotation_count": 10,
        "rotation_size": "50MB"}}
    # At warning, a connection's lines (debug) are not in the file.
    c = mqttc.Client(b, "before-change")
    c.disconnect()
    time.sleep(0.2)
    assert "before-change" not in read(path)

    # Part of the object: the file handler to debug, json.
    doc = put(b, CONFIGS_LOG, {"file": {"default": {"level": "debug", "formatter": "json"}}})
    assert doc["file"]["default"]["level"] == "debug"
    assert doc["file"]["default"]["formatter"] == "json"
    assert doc["console"]["level"] == "warning"
    c = mqttc.Client(b, "after-change")
    c.disconnect()
    assert wait_for(lambda: "after-change" in read(path), 5.0)
    line = [l for l in read(path).splitlines() if "after-change" in l][0]
    assert json.loads(line)["level"] == "debug"

    # The whole object back, as a dashboard does: accepted.
    whole = get_json(b, CONFIGS_LOG)
    whole["console"]["level"] = "debug"
    assert put(b, CONFIGS_LOG, whole)["console"]["level"] == "debug"
    # EMQX's single-handler form under "file".
    assert put(b, CONFIGS_LOG, {"file": {"level": "error"}})["file"]["default"]["level"] == "error"

    # What cannot change at run time: a 400 naming it, nothing applied.
    for body, key in [({"file": {"default": {"path": "/tmp/elsewhere.log"}}}, "path"),
                      ({"file": {"default": {"rotation_count": 3}}}, "rotation_count"),
                      ({"file": {"default": {"rotation_size": "1MB"}}}, "rotation_size"),
                      ({"file": {"other": {"level": "debug"}}}, "log.file.other"),
                      ({"console": {"level": "loud"}}, "log.console.level"),
                      ({"console": {"levle": "debug"}}, "log.console.levle"),
                      ({"throttling": {}}, "log.throttling")]:
        doc = assert_error(*call(b, "PUT", CONFIGS_LOG, body=body), 400, "BAD_REQUEST")
        assert key in doc["message"], doc
    assert get_json(b, CONFIGS_LOG)["file"]["default"]["level"] == "error"

    # emqxd ctl log set-level / primary-level.
    levels = put(b, "/api/v5/log/level", {"level": "debug"})
    assert levels["primary_level"] == "debug"
    assert [h["level"] for h in levels["handlers"]] == ["debug", "debug"]
    assert [h["id"] for h in levels["handlers"]] == ["console", "file:default"]
    c = mqttc.Client(b, "at-debug")
    c.disconnect()
    assert wait_for(lambda: "at-debug" in read(path), 5.0)
    # The primary level filters before the handlers do.
    levels = put(b, "/api/v5/log/primary_level", {"level": "error"})
    assert levels["primary_level"] == "error"
    assert get_json(b, "/api/v5/log/level")["primary_level"] == "error"
    c = mqttc.Client(b, "under-primary")
    c.disconnect()
    time.sleep(0.3)
    assert "under-primary" not in read(path)
    assert_error(*call(b, "PUT", "/api/v5/log/level", body={"level": "loud"}), 400, "BAD_REQUEST")
    # Disabled: the file stops growing.
    put(b, CONFIGS_LOG, {"file": {"default": {"enable": False, "level": "debug"}}})
    size = os.path.getsize(path)
    c = mqttc.Client(b, "while-disabled")
    c.disconnect()
    time.sleep(0.3)
    assert os.path.getsize(path) == size
    # Without credentials: nothing.
    status, _, _ = call(b, "PUT", CONFIGS_LOG, body={"console": {"level": "debug"}}, auth=None)
    assert status == 401


def test_bad_log_file_key_stops_start_up(tmp_path):
    import subprocess
    from conftest import EMQXD_BIN
    conf = os.path.join(str(tmp_path), "emqx.conf")
    with open(conf, "w") as f:
        f.write("log.file {\n  path = \"x.log\"\n  rotation_cont = 3\n}\n")
    p = subprocess.run([EMQXD_BIN, "start", "-c", conf], capture_output=True, timeout=20)
    assert p.returncode == 2
    assert b"emqx.conf:3: log.file.rotation_cont: unknown key" in p.stderr, p.stderr
