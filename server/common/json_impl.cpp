// Boost.JSON compiled once for the whole program (header-only use: exactly one TU).
#include <boost/json/src.hpp>
