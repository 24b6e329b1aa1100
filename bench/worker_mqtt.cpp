// Worker: the MQTT side of a client. Incoming bytes are framed with mqtt::peek_frame and
// decoded with mqtt::decode; outgoing packets come from templates the codec encoded once
// (acks, PUBLISH heads) or, on the cold path (CONNECT, SUBSCRIBE), straight from
// mqtt::encode.
#include <algorithm>
#include <cstring>
#include <variant>

#include "clock.hpp"
#include "payload.hpp"
#include "worker.hpp"

namespace emqxd::bench {
namespace {

using mqtt::PacketType;

mqtt::ProtocolVersion version_of(const Options& o) {
  return static_cast<mqtt::ProtocolVersion>(o.version);
}

void put_packet_id(std::string& out, std::size_t at, std::uint16_t id) {
  out[at] = static_cast<char>(id >> 8);
  out[at + 1] = static_cast<char>(id & 0xFF);
}

}  // namespace

std::size_t Worker::parse(Client& c, const char* data, std::size_t len, std::int64_t wall,
                          std::size_t& need) {
  std::size_t off = 0;
  while (off < len) {
    const std::string_view in(data + off, len - off);
    auto h = mqtt::peek_frame(in, max_packet_size_);
    if (!h) {
      if (h.error() == Errc::NeedMoreData) break;
      stats_.protocol_errors.add();
      close_client(c, true);
      return off;
    }
    if (h->total() > in.size()) {
      need = h->total();
      break;
    }
    if (!handle_packet(c, *h, in.substr(h->header_length, h->remaining_length), wall)) {
      return off;
    }
    off += h->total();
  }
  return off;
}

bool Worker::handle_packet(Client& c, const mqtt::FrameHeader& h, std::string_view body,
                           std::int64_t wall) {
  auto packet = mqtt::decode(h, body, version_of(o_));
  if (!packet) {
    stats_.protocol_errors.add();
    close_client(c, true);
    return false;
  }
  switch (h.type()) {
    case PacketType::Publish: {
      const auto& p = std::get<mqtt::Publish>(*packet);
      on_publish_received(c, p.payload, static_cast<int>(p.qos), p.packet_id, wall);
      break;
    }
    case PacketType::PubAck: {
      const auto& a = std::get<mqtt::PubAck>(*packet);
      on_pub_response(c, h.type(), a.packet_id, a.reason);
      break;
    }
    case PacketType::PubRec: {
      const auto& a = std::get<mqtt::PubRec>(*packet);
      on_pub_response(c, h.type(), a.packet_id, a.reason);
      break;
    }
    case PacketType::PubComp: {
      const auto& a = std::get<mqtt::PubComp>(*packet);
      on_pub_response(c, h.type(), a.packet_id, a.reason);
      break;
    }
    case PacketType::PubRel:  // we are the receiver of a QoS 2 delivery
      append_ack(c, pubcomp_, std::get<mqtt::PubRel>(*packet).packet_id);
      break;
    case PacketType::ConnAck:
      on_connack(c, std::get<mqtt::ConnAck>(*packet));
      break;
    case PacketType::SubAck:
      on_suback(c, std::get<mqtt::SubAck>(*packet));
      break;
    case PacketType::PingResp:
      break;
    case PacketType::Disconnect:  // the broker ends the connection (v5)
      close_client(c, true);
      return false;
    default:
      stats_.protocol_errors.add();
      break;
  }
  return c.fd >= 0;
}

void Worker::send_connect(Client& c) {
  mqtt::Connect m;
  m.version = version_of(o_);
  m.protocol_name = o_.version == 3 ? "MQIsdp" : "MQTT";
  m.clean_start = o_.clean;
  m.keep_alive = o_.keepalive;
  m.client_id = c.client_id;
  if (o_.has_username) m.username = o_.username;
  if (o_.has_password) m.password = o_.password;
  if (o_.version == 5 && o_.session_expiry != 0) {
    m.props.session_expiry_interval = o_.session_expiry;
  }
  mqtt::encode(m, m.version, c.out);
  c.keepalive = o_.keepalive;
}

void Worker::on_connack(Client& c, const mqtt::ConnAck& a) {
  if (c.state != ClientState::WaitConnAck) {
    stats_.protocol_errors.add();
    return;
  }
  if (a.code != 0) {
    close_client(c, true);
    return;
  }
  --pending_connects_;
  c.state = ClientState::Ready;
  stats_.connected.add();
  stats_.connect_latency.record(static_cast<std::uint64_t>(now_ - c.started_ns));
  if (a.props.server_keep_alive) c.keepalive = *a.props.server_keep_alive;  // [MQTT-3.2.2-21]

  if (c.role == Role::Sub) {
    mqtt::Subscribe s;
    s.packet_id = 1;
    const auto qos = static_cast<mqtt::QoS>(o_.mode == Mode::PubSub ? o_.sub_qos : o_.qos);
    for (const auto& f : c.sub->filters)
      s.subscriptions.push_back({f, {qos}});
    mqtt::encode(s, version_of(o_), c.out);
    c.state = ClientState::WaitSubAck;
    c.started_ns = now_;  // the subscribe timeout counts from here
    return;
  }
  if (c.role != Role::Pub) return;

  Publisher& p = *c.pub;
  if (o_.qos > 0) {
    // Never more in flight than the server's Receive Maximum [MQTT-4.9.0-2].
    const std::uint32_t server_max = a.props.receive_maximum.value_or(65535);
    std::uint32_t limit = o_.inflight != 0 ? o_.inflight : (o_.version == 5 ? server_max : 100);
    if (o_.version == 5) limit = std::min(limit, server_max);
    p.ids.init(limit);
  }
  if (phase_ >= Phase::Finishing || p.quota == 0) {
    p.done = true;
    settle(c);
  } else if (msg_interval_ns_ == 0) {
    make_runnable(c);
  }
}

void Worker::on_suback(Client& c, const mqtt::SubAck& a) {
  if (c.state != ClientState::WaitSubAck) {
    stats_.protocol_errors.add();
    return;
  }
  c.state = ClientState::Ready;
  const bool ok = std::none_of(a.reason_codes.begin(), a.reason_codes.end(),
                               [](mqtt::ReasonCode rc) { return mqtt::is_error(rc); });
  c.sub->subscribed = ok;
  (ok ? stats_.subscribed : stats_.sub_failed).add();
  settle(c);
}

void Worker::append_ack(Client& c, const std::string& tmpl, std::uint16_t packet_id) {
  const std::size_t at = c.out.size();
  c.out.append(tmpl);
  put_packet_id(c.out, at + 2, packet_id);  // 4-byte acks: type, length 2, packet id
}

void Worker::on_publish_received(Client& c, std::string_view payload, int qos,
                                 std::uint16_t packet_id, std::int64_t wall) {
  stats_.received.add();
  if (stats_.first_recv_ns.load(std::memory_order_relaxed) == 0) {
    stats_.first_recv_ns.store(now_, std::memory_order_relaxed);
  }
  stats_.last_recv_ns.store(now_, std::memory_order_relaxed);
  PayloadHeader h;
  if (!read_payload_header(payload, h)) {
    stats_.foreign.add();
  } else {
    const std::int64_t latency = wall - h.sent_ns;
    if (latency < 0) {
      stats_.negative_latency.add();
    } else {
      stats_.latency.record(static_cast<std::uint64_t>(latency));
    }
    if (c.sub && c.sub->tracked) {
      StreamState& s = c.sub->stream(h.stream);
      s.tracker.record(h.sequence);
      if (h.final) {
        if (!s.tracker.end_known()) stats_.finals_received.add();
        s.tracker.set_end(h.sequence + 1);
      }
      s.qos = static_cast<std::uint8_t>(qos);
    }
  }
  if (qos == 1) append_ack(c, puback_, packet_id);
  if (qos == 2) append_ack(c, pubrec_, packet_id);
}

void Worker::on_pub_response(Client& c, PacketType type, std::uint16_t packet_id,
                             mqtt::ReasonCode reason) {
  if (!c.pub || o_.qos == 0) {
    stats_.protocol_errors.add();
    return;
  }
  auto& ids = c.pub->ids;
  const auto state = ids.state(packet_id);
  bool released = false;
  switch (type) {
    case PacketType::PubAck:
      if (state != PacketIdPool::AwaitAck) {
        stats_.protocol_errors.add();
        return;
      }
      released = true;
      break;
    case PacketType::PubRec:
      if (state == PacketIdPool::AwaitComp) {  // a resent PUBREC: answer again
        append_ack(c, pubrel_, packet_id);
        return;
      }
      if (state != PacketIdPool::AwaitRec) {
        stats_.protocol_errors.add();
        return;
      }
      if (mqtt::is_error(reason)) {  // the exchange ends here [MQTT-4.3.3-4]
        released = true;
        break;
      }
      ids.set_state(packet_id, PacketIdPool::AwaitComp);
      append_ack(c, pubrel_, packet_id);
      return;
    case PacketType::PubComp:
      if (state != PacketIdPool::AwaitComp) {
        stats_.protocol_errors.add();
        return;
      }
      released = true;
      break;
    default:
      return;
  }
  if (released) {
    ids.release(packet_id);
    --inflight_;
    stats_.acked.add();
    if (mqtt::is_error(reason)) stats_.pub_errors.add();
    // Refill at once, even for a single free slot. Waiting for several acks to write fewer,
    // larger batches stalls against a broker with Nagle on (mosquitto's default): it holds
    // its next PUBACK until our TCP ACK, which the kernel delays up to 40 ms when we send
    // nothing back. Acks that arrive together still go out as one batch (pump_runnable).
    if (!c.want_write && can_publish(c)) make_runnable(c);
  }
}

bool Worker::can_publish(const Client& c) const {
  const Publisher& p = *c.pub;
  if (p.done || c.state != ClientState::Ready) return false;
  if (o_.qos > 0 && p.ids.full()) return false;
  if (p.finishing) return true;
  if (phase_ != Phase::Publishing) return false;
  return msg_interval_ns_ == 0 || p.owed > 0;
}

void Worker::pump_publisher(Client& c) {
  if (c.out_off > 0) {  // keep the unsent tail at the front, so the buffer never grows
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  const std::int64_t wall = wall_ns();
  std::uint64_t n = 0;
  while (c.pending_out() < batch_bytes_ && can_publish(c)) {
    append_publish(c, wall);
    ++n;
  }
  if (n > 0) {
    stats_.sent.add(n);
    if (stats_.first_sent_ns.load(std::memory_order_relaxed) == 0) {
      stats_.first_sent_ns.store(now_, std::memory_order_relaxed);
    }
    stats_.last_sent_ns.store(now_, std::memory_order_relaxed);
  }
  flush(c);
}

void Worker::append_publish(Client& c, std::int64_t wall) {
  Publisher& p = *c.pub;
  const bool last = p.finishing || p.next_seq + 1 >= p.quota;
  const std::size_t at = c.out.size();
  c.out.append(p.head);
  if (o_.qos > 0) {
    const auto state = o_.qos == 1 ? PacketIdPool::AwaitAck : PacketIdPool::AwaitRec;
    put_packet_id(c.out, at + p.id_offset, p.ids.acquire(state));
    ++inflight_;
  }
  if (o_.json_payload) {
    append_json_payload(c.out, {p.stream, p.next_seq, wall, last}, o_.size);
  } else {
    char header[kPayloadHeaderSize];
    write_payload_header(header, {p.stream, p.next_seq, wall, last});
    c.out.append(header, sizeof header);
    c.out.append(o_.size - kPayloadHeaderSize, '\0');
  }
  ++p.next_seq;
  if (p.owed > 0) --p.owed;
  if (last) {
    stats_.finals_expected.add(p.matching_subs);
    p.done = true;
    p.finishing = false;
    settle(c);
  }
}

}  // namespace emqxd::bench
