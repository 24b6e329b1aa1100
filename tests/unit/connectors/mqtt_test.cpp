// The MQTT bridge's client ids (connectors/mqtt.hpp): EMQX's scheme, so that a node moved
// from EMQX keeps the ids its remote broker knows. The expected values are the SHA-1
// arithmetic EMQX's emqx_bridge_mqtt_lib does, worked out by hand (python's hashlib).
#include "connectors/mqtt.hpp"

#include <catch2/catch.hpp>

using emqxd::connectors::mqtt_client_id;

TEST_CASE("mqtt bridge: client ids as EMQX makes them", "[connectors]") {
  const std::string node = "emqxd@127.0.0.1";  // sha1: 9eb6a621...
  // <name><8 hex of the node's SHA-1>:<n> when it fits 23 bytes.
  CHECK(mqtt_client_id("cloud", "", node, 1) == "cloud9eb6a621:1");
  // Longer: the first 23 hex digits of that id's SHA-1.
  CHECK(mqtt_client_id("a_long_connector_name", "", node, 2) == "9dc4b98235b7a26c0cefa98");
  // A prefix of 19 bytes or less, then the same squeezed into what is left.
  CHECK(mqtt_client_id("cloud", "edge-", node, 1) == "edge-cloud9eb6a621:1");
  // A longer prefix: no squeezing.
  CHECK(mqtt_client_id("cloud", "a-prefix-of-twenty-bytes", node, 3) ==
        "a-prefix-of-twenty-bytescloud9eb6a621:3");
}
