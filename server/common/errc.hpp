#pragma once
// Errc: every failure the broker core can report. One table (mqtt/reason_code.hpp,
// to_reason_code) maps these onto MQTT 5 reason codes; a v3.1.1 connection simply closes.
#include <cstdint>
#include <string_view>

namespace emqxd {

enum class Errc : std::uint8_t {
  Ok = 0,
  NeedMoreData,                // not an error: the frame is incomplete
  MalformedPacket,             // 0x81
  ProtocolError,               // 0x82
  PacketTooLarge,              // 0x95
  UnsupportedProtocolVersion,  // CONNACK 0x84 / v3 0x01
  ClientIdNotValid,            // CONNACK 0x85 / v3 0x02
  BadUsernameOrPassword,
  NotAuthorized,
  TopicNameInvalid,         // 0x90
  TopicFilterInvalid,       // 0x8F
  TopicAliasInvalid,        // 0x94
  ReceiveMaximumExceeded,   // 0x93
  QuotaExceeded,            // 0x97
  BadAuthenticationMethod,  // 0x8C
  QosNotSupported,          // 0x9B
  RetainNotSupported,       // 0x9A
  PacketIdInUse,            // 0x91
  PacketIdNotFound,         // 0x92
  ServerBusy,               // 0x89
  KeepAliveTimeout,         // 0x8D
  SessionTakenOver,         // 0x8E
  ServerShuttingDown,       // 0x8B
  ImplementationSpecific,   // 0x83
  InvalidConfig,
  Io,
};

std::string_view to_string(Errc e);

}  // namespace emqxd
