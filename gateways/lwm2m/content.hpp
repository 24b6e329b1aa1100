#pragma once
// What LwM2M clients send and are sent, as EMQX's LwM2M gateway shows it in JSON
// (docs/gateways.md, "LwM2M"): a read's or a notification's payload becomes "content", a
// list of {"path": "/3/0/1", "value": ...} with each value typed by the object model; a
// write's or a create's {"path", "type", "value"} items become TLV.
//
// Payload formats read: text/plain (0), application/octet-stream (42, base64 in JSON),
// LwM2M TLV (11542), LwM2M JSON (11543), SenML JSON (110), link-format (40, a Discover's
// answer: the list of its links). Throws ContentError (answered as "4.00 bad_request" on
// the response topic) when a payload does not parse, a path is not /o[/i[/r[/ri]]], or a
// value does not fit its type.
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gateways/lwm2m/objects.hpp"

namespace emqxd::gateways::lwm2m {

struct ContentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Content-Format numbers.
enum : std::uint16_t {
  kTextPlain = 0,
  kLinkFormat = 40,
  kOctetStream = 42,
  kSenmlJson = 110,
  kTlv = 11542,
  kLwm2mJson = 11543,
};

// `text` as valid UTF-8: each octet that starts no well-formed sequence (RFC 3629) becomes
// U+FFFD. What a device sends is not trusted to be UTF-8, and a JSON text must be.
std::string utf8_text(std::string_view text);

// "/3/0/1" -> {3, 0, 1}: one to four ids (object, instance, resource, resource instance).
std::vector<std::uint16_t> parse_path(std::string_view path);
std::string path_text(const std::vector<std::uint16_t>& ids);

// A client's payload of `format`, read for the request on `path`.
boost::json::array content_to_json(std::string_view payload, std::uint16_t format,
                                   const std::vector<std::uint16_t>& path,
                                   const ObjectModel& model);

// The octets of one JSON value of LwM2M type `type` in TLV.
std::string tlv_value(const std::string& type, const boost::json::value& v);

// Write and Create: items {"path", "type", "value"} with paths relative to `base` (a
// resource's: resource instance ids; an instance's: resource ids or "res/inst"; an
// object's: "inst/res[/ri]" or resource ids) as TLV.
std::string items_to_tlv(const std::vector<std::uint16_t>& base, const boost::json::array& items);

}  // namespace emqxd::gateways::lwm2m
