#include "common/errc.hpp"

namespace emqxd {

std::string_view to_string(Errc e) {
  switch (e) {
    case Errc::Ok:
      return "ok";
    case Errc::NeedMoreData:
      return "need more data";
    case Errc::MalformedPacket:
      return "malformed packet";
    case Errc::ProtocolError:
      return "protocol error";
    case Errc::PacketTooLarge:
      return "packet too large";
    case Errc::UnsupportedProtocolVersion:
      return "unsupported protocol version";
    case Errc::ClientIdNotValid:
      return "client identifier not valid";
    case Errc::BadUsernameOrPassword:
      return "bad user name or password";
    case Errc::NotAuthorized:
      return "not authorized";
    case Errc::TopicNameInvalid:
      return "topic name invalid";
    case Errc::TopicFilterInvalid:
      return "topic filter invalid";
    case Errc::TopicAliasInvalid:
      return "topic alias invalid";
    case Errc::ReceiveMaximumExceeded:
      return "receive maximum exceeded";
    case Errc::QuotaExceeded:
      return "quota exceeded";
    case Errc::BadAuthenticationMethod:
      return "bad authentication method";
    case Errc::QosNotSupported:
      return "qos not supported";
    case Errc::RetainNotSupported:
      return "retain not supported";
    case Errc::PacketIdInUse:
      return "packet identifier in use";
    case Errc::PacketIdNotFound:
      return "packet identifier not found";
    case Errc::ServerBusy:
      return "server busy";
    case Errc::KeepAliveTimeout:
      return "keep alive timeout";
    case Errc::SessionTakenOver:
      return "session taken over";
    case Errc::ServerShuttingDown:
      return "server shutting down";
    case Errc::ImplementationSpecific:
      return "implementation specific error";
    case Errc::InvalidConfig:
      return "invalid config";
    case Errc::Io:
      return "i/o error";
  }
  return "unknown";
}

}  // namespace emqxd
