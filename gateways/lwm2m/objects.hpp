#pragma once
// The LwM2M object model (OMA LightweightM2M TS 1.0, 6.1 and Appendix D): which resources
// an object has and each one's type, from object definition files in OMA's XML layout
// (LWM2M.xsd: <LWM2M><Object><ObjectID>, <Resources><Item ID=".."><Type>). The gateway
// needs the types to turn TLV and text values into JSON numbers, strings and booleans.
//
// The core objects 0-7 are compiled in (gateways/lwm2m/objects/*.xml); gateway.lwm2m.xml_dir
// adds each *.xml of a directory at start-up, replacing a built-in object of the same id.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace emqxd::gateways::lwm2m {

struct ResourceDef {
  std::string name;
  std::string type;        // String, Integer, Float, Boolean, Opaque, Time, Objlnk, "" (Execute)
  std::string operations;  // R, W, RW, E, ""
  bool multiple = false;
};

struct ObjectDef {
  std::uint16_t id = 0;
  std::string name;
  bool multiple = false;
  std::map<std::uint16_t, ResourceDef> resources;
};

class ObjectModel {
 public:
  // The built-in objects, then every *.xml of `xml_dir` ("" for none). Throws
  // std::runtime_error naming the file and what is wrong with it.
  static std::shared_ptr<const ObjectModel> load(const std::string& xml_dir);

  // Adds the objects of one definition file; `where` names it in errors.
  void add_xml(std::string_view xml, const std::string& where);

  const ObjectDef* object(std::uint16_t id) const;
  const ResourceDef* resource(std::uint16_t object, std::uint16_t resource) const;
  std::size_t size() const { return objects_.size(); }

 private:
  std::map<std::uint16_t, ObjectDef> objects_;
};

}  // namespace emqxd::gateways::lwm2m
