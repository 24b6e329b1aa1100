// Boost.JSON compiled once for the whole program (header-only use: exactly one TU). It
// lives in common, the lowest module, so that every module above may use Boost.JSON.
#include <boost/json/src.hpp>
