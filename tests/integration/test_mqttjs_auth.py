"""Access control with MQTT.js (npm `mqtt` v5), the client web and Node.js applications use:
a user of the built-in database added through the API is let in, a wrong password is
refused with EMQX's codes (MQTT 5 0x86, 3.1.1 return code 4), and a subscription the
built-in authorization rules deny is refused in the SUBACK (0x87 / 0x80)."""
import json
import os
import shutil
import subprocess

import pytest

from test_api import call

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not os.path.isdir(os.path.join(HERE, "node_modules", "mqtt")),
    reason="node or node_modules/mqtt missing (npm install in tests/integration)")

CONF = """
authentication = [{mechanism = password_based, backend = built_in_database}]
authorization { no_match = deny, cache { enable = false }, sources = [{type = built_in_database}] }
"""
USERS = "/api/v5/authentication/password_based%3Abuilt_in_database/users"
RULES = "/api/v5/authorization/sources/built_in_database/rules/users"


def js(broker, **args):
    cmd = [NODE, os.path.join(HERE, "mqttjs", "auth.js"), str(broker.port)]
    cmd += ["%s=%s" % kv for kv in args.items()]
    out = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.parametrize("version", [4, 5])
def test_mqttjs_credentials_and_rules(make_broker, version):
    b = make_broker(config_text=CONF)
    assert call(b, "POST", USERS, body={"user_id": "web", "password": "pw"})[0] == 201
    assert call(b, "POST", RULES, body=[{"username": "web", "rules": [
        {"topic": "ok/#", "permission": "allow", "action": "subscribe"}]}])[0] == 204
    got = js(b, version=version, id="js1", username="web", password="pw", subscribe="ok/1")
    assert got == [{"event": "connack", "code": 0}, {"event": "suback", "granted": [1]}]
    got = js(b, version=version, id="js2", username="web", password="pw", subscribe="no/1")
    assert got[1] == {"event": "suback", "granted": [0x87 if version == 5 else 0x80]}
    got = js(b, version=version, id="js3", username="web", password="wrong")
    assert got == [{"event": "connack", "code": 0x86 if version == 5 else 4}]
    got = js(b, version=version, id="js4")
    assert got == [{"event": "connack", "code": 0x87 if version == 5 else 5}]
