// Mathematical and bitwise functions, with the values of EMQX's "Built-in SQL Functions"
// page (rule-sql-builtin-functions.md). Erlang's math returns floats: power(2, 3) is 8.0.
#include <catch2/catch.hpp>

#include "rules_test_util.hpp"

namespace {

using emqxd::rules::test::eval;
using emqxd::rules::test::eval_error;

}  // namespace

TEST_CASE("functions: mathematics as EMQX documents it", "[rules][functions]") {
  struct Case {
    const char* expr;
    const char* value;
  };
  // "abs(-12) = 12", "abs(-1.2) = 1.2", "acos(0.5) = 1.0471975511965976", ...
  const Case cases[] = {
      {"abs(-12)", "12"},
      {"abs(-1.2)", "1.2"},
      {"acos(0.5)", "1.0471975511965976"},
      {"acosh(1.5)", "0.9624236501192069"},
      {"asin(0.5)", "0.5235987755982988"},
      {"asinh(0.5)", "0.48121182505960347"},
      {"atan(0.5)", "0.46364760900080615"},
      {"atanh(0.5)", "0.5493061443340549"},
      {"ceil(0.8)", "1"},
      {"ceil(1.34)", "2"},
      {"cos(0.5)", "0.8775825618903728"},
      {"cosh(0.5)", "1.1276259652063807"},
      {"exp(1)", "2.718281828459045"},
      {"exp(10)", "22026.465794806718"},
      {"floor(3.6)", "3"},
      {"floor(1.34)", "1"},
      {"fmod(6.5, 2.5)", "1.5"},
      {"fmod(-32, 5)", "-2.0"},
      {"log(7.38905609893065)", "2.0"},
      {"log10(100)", "2.0"},
      {"log10(1000)", "3.0"},
      {"log2(8)", "3.0"},
      {"log2(8.5)", "3.0874628412503395"},
      {"log2(1024)", "10.0"},
      {"round(4.5)", "5"},
      {"round(1.34)", "1"},
      {"round(1.54)", "2"},
      {"power(2, 3)", "8.0"},
      {"power(2, 10)", "1024.0"},
      {"sin(0.5)", "0.479425538604203"},
      {"sinh(0.5)", "0.5210953054937474"},
      {"sqrt(9)", "3.0"},
      {"sqrt(2)", "1.4142135623730951"},
      {"tan(0.5)", "0.5463024898437905"},
      {"tanh(0.5)", "0.46211715726000974"},
      {"tan(1.4)", "5.797883715482887"},
      {"tanh(1.4)", "0.8853516482022625"},
  };
  for (const Case& c : cases) {
    INFO(c.expr);
    const std::string v = eval(c.expr);
    if (std::string_view(c.value).find('.') == std::string_view::npos) {
      CHECK(v == c.value);  // an integer, exactly
    } else {
      // A float: the type exactly, the value to the last bit or two (the page's values
      // come from another libm).
      CHECK(v.find_first_of(".e") != std::string::npos);
      CHECK(std::stod(v) == Approx(std::stod(c.value)).epsilon(1e-15));
    }
  }
}

TEST_CASE("functions: mathematics outside its domain fails the rule", "[rules][functions]") {
  CHECK(eval_error("sqrt(-1)") == "sqrt/1: bad argument (out of the function's domain)");
  CHECK(eval_error("log(0)") == "log/1: bad argument (out of the function's domain)");
  CHECK(eval_error("acos(2)") == "acos/1: bad argument (out of the function's domain)");
  CHECK(eval_error("fmod(1, 0)") == "fmod/2: bad argument (out of the function's domain)");
  CHECK(eval_error("exp(1000)") == "exp/1: bad argument (out of the function's domain)");
  CHECK(eval_error("abs('a')") == "abs/1: bad argument");
  CHECK(eval_error("sin()") == "sin/0: no such function (it takes 1)");
  CHECK(eval_error("power(1)") == "power/1: no such function (it takes 2)");
  CHECK(eval_error("floor(1e300)") == "floor/1: result out of range");
}

TEST_CASE("functions: random() is at least 0 and below 1", "[rules][functions]") {
  for (int i = 0; i < 20; ++i) {
    const double r = std::stod(eval("random()"));
    CHECK(r >= 0.0);
    CHECK(r < 1.0);
  }
}

TEST_CASE("functions: bitwise operations as EMQX documents them", "[rules][functions]") {
  CHECK(eval("bitand(10, 8)") == "8");
  CHECK(eval("bitand(-10, -8)") == "-16");
  CHECK(eval("bitnot(10)") == "-11");
  CHECK(eval("bitnot(-12)") == "11");
  CHECK(eval("bitsl(8, 2)") == "32");
  CHECK(eval("bitsl(-8, 2)") == "-32");
  CHECK(eval("bitsr(8, 2)") == "2");
  CHECK(eval("bitsr(8, 4)") == "0");
  CHECK(eval("bitsr(-8, 2)") == "-2");
  CHECK(eval("bitsr(-8, 6)") == "-1");
  CHECK(eval("bitor(10, 8)") == "10");
  CHECK(eval("bitor(-10, -8)") == "-2");
  CHECK(eval("bitxor(10, 8)") == "2");
  CHECK(eval("bitxor(-10, -8)") == "14");
  CHECK(eval("bitsl(1, -1)") == "0");
  CHECK(eval_error("bitsl(1, 64)") == "bitsl/2: result out of range");
  CHECK(eval_error("bitand(1.0, 1)") == "bitand/2: bad argument");
}
