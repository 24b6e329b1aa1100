"""The configuration in force through EMQX's read paths (server/api/config_api.hpp):
/api/v5/configs, /api/v5/authentication, /api/v5/authorization/sources|settings. What
is shown is what was written (file and EMQX_* overrides), never a secret."""
import json

from test_api import assert_error, call, get_json

CONF = """
node.cookie = "cookie-never-shown"
mqtt.max_packet_size = 2MB
authentication = [
  {mechanism = password_based, backend = built_in_database,
   password_hash_algorithm {name = sha256, salt_position = suffix}},
  {mechanism = jwt, from = password, algorithm = hmac-based, secret = "jwt-never-shown"},
  {mechanism = password_based, backend = http, method = post,
   url = "http://user:url-never-shown@127.0.0.1:1/auth",
   headers {Authorization = "Bearer header-never-shown", X-Api-Key = "key-never-shown"},
   body {username = "${username}", password = "${password}"}}
]
authorization {
  no_match = deny
  sources = [{type = built_in_database}]
}
"""


def test_configs_show_what_was_written_without_secrets(make_broker):
    b = make_broker(config_text=CONF, env={"EMQX_MQTT__MAX_QOS_ALLOWED": "1"})
    status, h, raw = call(b, "GET", "/api/v5/configs")
    assert status == 200, raw
    assert b"never-shown" not in raw
    doc = json.loads(raw)
    assert doc["node"]["cookie"] == "******"
    assert doc["mqtt"] == {"max_packet_size": "2MB", "max_qos_allowed": 1}
    assert get_json(b, "/api/v5/configs?key=mqtt") == {"mqtt": doc["mqtt"]}
    assert get_json(b, "/api/v5/configs/mqtt") == doc["mqtt"]
    assert get_json(b, "/api/v5/configs/retainer") == {}
    # The log handlers keep their own, live, path.
    assert "console" in get_json(b, "/api/v5/configs/log")
    assert_error(*call(b, "PUT", "/api/v5/configs/mqtt", {"max_qos_allowed": 2}),
                 400, "UPDATE_FAILED")
    assert_error(*call(b, "PUT", "/api/v5/configs", "mqtt {}"), 400, "UPDATE_FAILED")

    chain = get_json(b, "/api/v5/authentication")
    assert [a["id"] for a in chain] == ["password_based:built_in_database", "jwt",
                                        "password_based:http"]
    assert chain[2]["url"] == "http://user:******@127.0.0.1:1/auth"
    assert set(chain[2]["headers"].values()) == {"******"}
    assert chain[1]["secret"] == "******" and chain[0]["enable"] is True
    assert get_json(b, "/api/v5/authentication/jwt")["algorithm"] == "hmac-based"
    assert_error(*call(b, "GET", "/api/v5/authentication/ldap"), 404, "NOT_FOUND")
    assert [s["type"] for s in get_json(b, "/api/v5/authorization/sources")["sources"]] == \
        ["built_in_database"]
    assert get_json(b, "/api/v5/authorization/sources/built_in_database")["enable"] is True
    assert get_json(b, "/api/v5/authorization/settings")["no_match"] == "deny"
    assert b"never-shown" not in b.read_log().encode()


def test_a_node_on_its_defaults_shows_only_its_overrides(broker):
    doc = get_json(broker, "/api/v5/configs")
    assert set(doc) <= {"node", "listeners", "dashboard", "cluster", "log"}, doc
    assert get_json(broker, "/api/v5/authentication") == []
    assert get_json(broker, "/api/v5/authorization/sources") == {"sources": []}
