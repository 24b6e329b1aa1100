#pragma once
// What every gateway adapter does the same way (docs/gateways.md): EMQX's
// clientinfo_override and ${clientid} placeholders, and reading back the MQTT packets a
// session::Channel wrote.
#include <string>
#include <string_view>

#include "mqtt/codec.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::gateways {

// `text` with every "${clientid}" replaced by `client_id`.
inline std::string with_client_id(std::string text, std::string_view client_id) {
  constexpr std::string_view kPlaceholder = "${clientid}";
  for (auto at = text.find(kPlaceholder); at != std::string::npos;
       at = text.find(kPlaceholder, at + client_id.size())) {
    text.replace(at, kPlaceholder.size(), client_id);
  }
  return text;
}

// gateway.<name>.clientinfo_override: what the gateway's clients are authenticated as; ""
// leaves a field as the client gave it.
struct ClientInfoOverride {
  std::string username, password, clientid;

  // Applies to a CONNECT made for a client; ${clientid} is the id the client gave.
  void apply(mqtt::Connect& c) const {
    const std::string given = c.client_id;
    if (!clientid.empty()) c.client_id = with_client_id(clientid, given);
    if (!username.empty()) c.username = with_client_id(username, given);
    if (!password.empty()) c.password = with_client_id(password, given);
  }
};

// Calls `f(mqtt::Packet&&)` for each whole packet of `bytes`, what a channel wrote to its
// host's output (it writes whole packets only).
template <class F>
void for_each_packet(std::string_view bytes, mqtt::ProtocolVersion version, F&& f) {
  while (!bytes.empty()) {
    auto h = mqtt::peek_frame(bytes, UINT32_MAX);
    if (!h || h->total() > bytes.size()) return;
    auto packet = mqtt::decode(*h, bytes.substr(h->header_length, h->remaining_length), version);
    bytes.remove_prefix(h->total());
    if (packet) f(std::move(*packet));
  }
}

}  // namespace emqxd::gateways
