#pragma once
// LwM2M TLV (OMA LightweightM2M TS 1.0, 6.4.3; content format 11542): the binary format of
// object instances and resources. Sans-I/O: octets in, a tree of Tlv out, and back.
//
//   Type (1 octet): bits 7-6 kind (00 Object Instance, 01 Resource Instance,
//                   10 Multiple Resource, 11 Resource with Value); bit 5 identifier length
//                   (0: 8 bits, 1: 16 bits); bits 4-3 length type (00: the length is bits
//                   2-0; 01, 10, 11: an 8, 16 or 24-bit length follows the identifier)
//   Identifier (1 or 2 octets) | Length (0-3 octets) | Value
//
// An Object Instance holds Resources (with a value or multiple); a Multiple Resource holds
// Resource Instances. decode refuses what runs past its input, a value nested where the
// kind allows none, and nesting deeper than those three levels.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace emqxd::gateways::lwm2m {

struct Tlv {
  enum class Kind : std::uint8_t {
    ObjectInstance = 0,
    ResourceInstance = 1,
    MultipleResource = 2,
    Resource = 3
  };
  Kind kind = Kind::Resource;
  std::uint16_t id = 0;
  std::string value;          // ResourceInstance, Resource: the octets
  std::vector<Tlv> children;  // ObjectInstance, MultipleResource
  bool operator==(const Tlv&) const = default;
};

Result<std::vector<Tlv>> decode_tlv(std::string_view in);
void encode_tlv(const std::vector<Tlv>& items, std::string& out);

// Values (TS 1.0, 6.4.3 and Appendix C): Integer and Time are signed big-endian in 1, 2, 4
// or 8 octets; Float is a 4 or 8-octet IEEE 754 number; Boolean one octet 0 or 1; Objlnk
// two 16-bit numbers (object id, instance id).
std::string tlv_integer(std::int64_t v);  // the shortest of 1, 2, 4, 8 octets
std::string tlv_float(double v);          // 8 octets
Result<std::int64_t> integer_of(std::string_view v);
Result<double> float_of(std::string_view v);

}  // namespace emqxd::gateways::lwm2m
