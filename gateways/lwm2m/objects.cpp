// The LwM2M object model (objects.hpp).
#include "gateways/lwm2m/objects.hpp"

#include <algorithm>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace emqxd::gateways::lwm2m {

// objects_builtin.cpp, generated from gateways/lwm2m/objects/*.xml by CMake.
extern const std::vector<std::pair<std::string_view, std::string_view>>& builtin_object_files();

namespace {

namespace pt = boost::property_tree;

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::uint16_t id_of(const std::string& text, const std::string& where, const char* what) {
  const std::string t = trimmed(text);
  try {
    std::size_t used = 0;
    const unsigned long v = std::stoul(t, &used);
    if (used == t.size() && v <= 65534) return static_cast<std::uint16_t>(v);
  } catch (const std::exception&) {
  }
  throw std::runtime_error(where + ": " + what + " \"" + t + "\" is not a number 0-65534");
}

const std::set<std::string> kTypes = {"String",           "Integer", "Float",  "Boolean",
                                      "Opaque",           "Time",    "Objlnk", "",
                                      "Unsigned Integer", "Corelnk", "none"};

}  // namespace

void ObjectModel::add_xml(std::string_view xml, const std::string& where) {
  pt::ptree tree;
  try {
    std::istringstream in{std::string(xml)};
    pt::read_xml(in, tree, pt::xml_parser::trim_whitespace);
  } catch (const pt::xml_parser_error& e) {
    throw std::runtime_error(where + ":" + std::to_string(e.line()) + ": " + e.message());
  }
  const auto root = tree.get_child_optional("LWM2M");
  if (!root) throw std::runtime_error(where + ": no <LWM2M> element");
  std::size_t found = 0;
  for (const auto& [tag, obj] : *root) {
    if (tag != "Object") continue;
    ObjectDef def;
    def.id = id_of(obj.get<std::string>("ObjectID", ""), where, "ObjectID");
    def.name = trimmed(obj.get<std::string>("Name", ""));
    def.multiple = trimmed(obj.get<std::string>("MultipleInstances", "")) == "Multiple";
    if (const auto items = obj.get_child_optional("Resources")) {
      for (const auto& [itag, item] : *items) {
        if (itag != "Item") continue;
        ResourceDef r;
        const auto rid = id_of(item.get<std::string>("<xmlattr>.ID", ""), where, "Item ID");
        r.name = trimmed(item.get<std::string>("Name", ""));
        r.type = trimmed(item.get<std::string>("Type", ""));
        if (!kTypes.contains(r.type))
          throw std::runtime_error(where + ": object " + std::to_string(def.id) + " resource " +
                                   std::to_string(rid) + ": unknown Type \"" + r.type + "\"");
        if (r.type == "none") r.type.clear();
        r.operations = trimmed(item.get<std::string>("Operations", ""));
        r.multiple = trimmed(item.get<std::string>("MultipleInstances", "")) == "Multiple";
        def.resources[rid] = std::move(r);
      }
    }
    objects_[def.id] = std::move(def);
    ++found;
  }
  if (found == 0) throw std::runtime_error(where + ": no <Object> in <LWM2M>");
}

std::shared_ptr<const ObjectModel> ObjectModel::load(const std::string& xml_dir) {
  auto model = std::make_shared<ObjectModel>();
  for (const auto& [name, xml] : builtin_object_files()) {
    model->add_xml(xml, "built-in " + std::string(name));
  }
  if (xml_dir.empty()) return model;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(xml_dir, ec))
    throw std::runtime_error(xml_dir + ": not a directory of LwM2M object definitions");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(xml_dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".xml") files.push_back(e.path());
  }
  if (ec) throw std::runtime_error(xml_dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error(f.string() + ": cannot be read");
    model->add_xml(text.str(), f.string());
  }
  return model;
}

const ObjectDef* ObjectModel::object(std::uint16_t id) const {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : &it->second;
}

const ResourceDef* ObjectModel::resource(std::uint16_t object, std::uint16_t resource) const {
  const auto* o = this->object(object);
  if (o == nullptr) return nullptr;
  auto it = o->resources.find(resource);
  return it == o->resources.end() ? nullptr : &it->second;
}

}  // namespace emqxd::gateways::lwm2m
