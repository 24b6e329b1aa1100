#include "storage/status.hpp"

namespace emqxd::storage {

std::string_view to_string(Status::Code code) {
  switch (code) {
    case Status::Code::Ok:
      return "ok";
    case Status::Code::NotFound:
      return "not found";
    case Status::Code::NoSpace:
      return "no space";
    case Status::Code::Busy:
      return "busy";
    case Status::Code::Closed:
      return "closed";
    case Status::Code::Corruption:
      return "corruption";
    case Status::Code::IoError:
      return "io error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  std::string s(storage::to_string(code_));
  if (!message_.empty()) s += ": " + message_;
  return s;
}

}  // namespace emqxd::storage
