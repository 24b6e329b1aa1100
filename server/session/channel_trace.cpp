// Channel: log traces (session/trace.hpp). Every call here comes after tracing() said a
// trace runs; a client matches once per set of traces (Tracer::refresh), not per packet.
#include "session/channel.hpp"

namespace emqxd::session {

Tracer::Cursor& Channel::trace_cursor(std::string_view client_id) {
  if (!trace_) trace_ = std::make_unique<Tracer::Cursor>();
  // The address is worked out only when the set changed: per packet this is two loads.
  if (trace_->generation != tracer_->generation()) {
    tracer_->refresh(*trace_, client_id, peer_host());
  }
  return *trace_;
}

void Channel::trace_in(const mqtt::Packet& p) {
  if (const auto* c = std::get_if<mqtt::Connect>(&p)) {
    // Matched by the id it asks for; once CONNECT is handled (an id assigned, say), the
    // next event matches again by the channel's own.
    auto& cur = trace_cursor(c->client_id);
    Tracer::packet(cur, {c->client_id, host_.peer()}, true, p, c->version);
    cur.generation = 0;
    return;
  }
  auto& cur = trace_cursor(client_id_);
  Tracer::packet(cur, {client_id_, host_.peer()}, true, p, version_);
}

void Channel::trace_out(const mqtt::Packet& p) {
  auto& cur = trace_cursor(client_id_);
  Tracer::packet(cur, {client_id_, host_.peer()}, false, p, version_);
}

void Channel::trace_publish_out(const mqtt::Message& msg, const mqtt::PublishDelivery& pd) {
  auto& cur = trace_cursor(client_id_);
  Tracer::publish_out(cur, {client_id_, host_.peer()}, msg.topic, msg.payload,
                      static_cast<int>(pd.qos), pd.retain, pd.dup, pd.packet_id);
}

void Channel::trace_event(std::string_view msg,
                          const std::vector<std::pair<std::string_view, std::string>>& fields) {
  auto& cur = trace_cursor(client_id_);
  Tracer::event(cur, {client_id_, host_.peer()}, msg, fields);
}

}  // namespace emqxd::session
