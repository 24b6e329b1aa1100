// Boost.URL compiled once for the whole program (header-only use: exactly one TU).
#include <boost/url/src.hpp>
