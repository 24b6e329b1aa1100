#pragma once
// Status: how a storage operation ended. A value, never an exception, because commits
// complete on the writer thread and their callers sit on the hot path (docs/contributing.md,
// "Errors are values on the hot path").
// The message is for logs; callers decide by code().
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace emqxd::storage {

class Status {
 public:
  enum class Code : std::uint8_t {
    Ok = 0,
    NotFound,    // get_kv: no such key
    NoSpace,     // the disk is full: MQTT 5 answers 0x97 Quota exceeded
    Busy,        // too much waiting to be written: the commit was refused, nothing stored
    Closed,      // the store is closed (shutting down)
    Corruption,  // a stored value or the database itself cannot be read
    IoError,     // any other failure of the disk or the database
  };

  Status() = default;  // Ok
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status not_found(std::string m = {}) { return {Code::NotFound, std::move(m)}; }
  static Status no_space(std::string m) { return {Code::NoSpace, std::move(m)}; }
  static Status busy(std::string m) { return {Code::Busy, std::move(m)}; }
  static Status closed() { return {Code::Closed, "storage is closed"}; }
  static Status corruption(std::string m) { return {Code::Corruption, std::move(m)}; }
  static Status io_error(std::string m) { return {Code::IoError, std::move(m)}; }

  bool ok() const { return code_ == Code::Ok; }
  bool is_no_space() const { return code_ == Code::NoSpace; }
  bool is_not_found() const { return code_ == Code::NotFound; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "ok", or "no space: <message>" and the like, for logs and test failures.
  std::string to_string() const;

 private:
  Code code_ = Code::Ok;
  std::string message_;
};

std::string_view to_string(Status::Code code);

}  // namespace emqxd::storage
