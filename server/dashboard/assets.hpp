#pragma once
// The web dashboard's files (server/dashboard/www/), built into the binary so that the node
// serves them without reading the disk or the network at run time. embed.cmake generates
// the table at build time, one entry per file of www/.
#include <string_view>

namespace emqxd::dashboard {

struct Asset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

// The file served at `path` ("/" is "/index.html"); nullptr when there is none.
const Asset* find_asset(std::string_view path);

}  // namespace emqxd::dashboard
