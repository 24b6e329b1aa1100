// LwM2M (gateways/lwm2m/): TLV against the specification's example (OMA LightweightM2M
// TS 1.0, 6.4.3.1, the Device object), values and paths as JSON, and the adapter against a
// recording host: what the channel and the client get for each message, and the bounds the
// integration tests cannot reach in reasonable time.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "gateways/lwm2m/adapter.hpp"
#include "gateways/lwm2m/content.hpp"
#include "gateways/lwm2m/tlv.hpp"

using namespace emqxd::gateways::lwm2m;
namespace coap = emqxd::gateways::coap;
namespace mqtt = emqxd::mqtt;
namespace json = boost::json;

namespace {

std::string bytes(std::initializer_list<int> v) {
  std::string out;
  for (int b : v)
    out.push_back(static_cast<char>(b));
  return out;
}

// TS 1.0 6.4.3.1, "Single Object Instance Request Example": Read /3/0.
const std::string kDeviceTlv = bytes({
    0xC8, 0x00, 0x14, 'O',  'p',  'e',  'n',  ' ',  'M',  'o',  'b',  'i',  'l',  'e',  ' ',  'A',
    'l',  'l',  'i',  'a',  'n',  'c',  'e',  0xC8, 0x01, 0x16, 'L',  'i',  'g',  'h',  't',  'w',
    'e',  'i',  'g',  'h',  't',  ' ',  'M',  '2',  'M',  ' ',  'C',  'l',  'i',  'e',  'n',  't',
    0xC8, 0x02, 0x09, '3',  '4',  '5',  '0',  '0',  '0',  '1',  '2',  '3',  0xC3, 0x03, '1',  '.',
    '0',  0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05, 0x88, 0x07, 0x08, 0x42, 0x00, 0x0E, 0xD8,
    0x42, 0x01, 0x13, 0x88, 0x87, 0x08, 0x41, 0x00, 0x7D, 0x42, 0x01, 0x03, 0x84, 0xC1, 0x09, 0x64,
    0xC1, 0x0A, 0x0F, 0x83, 0x0B, 0x41, 0x00, 0x00, 0xC4, 0x0D, 0x51, 0x82, 0x42, 0x8F, 0xC6, 0x0E,
    '+',  '0',  '2',  ':',  '0',  '0',  0xC1, 0x10, 'U',
});

}  // namespace

TEST_CASE("TLV decodes and encodes the specification's Device object example byte for byte") {
  auto tlv = decode_tlv(kDeviceTlv);
  REQUIRE(tlv);
  REQUIRE(tlv->size() == 13);
  CHECK((*tlv)[0] == Tlv{Tlv::Kind::Resource, 0, "Open Mobile Alliance", {}});
  CHECK((*tlv)[4].kind == Tlv::Kind::MultipleResource);
  CHECK((*tlv)[4].id == 6);
  REQUIRE((*tlv)[4].children.size() == 2);
  CHECK((*tlv)[4].children[1] == Tlv{Tlv::Kind::ResourceInstance, 1, bytes({0x05}), {}});
  CHECK(*integer_of((*tlv)[5].children[0].value) == 3800);
  CHECK(*integer_of((*tlv)[10].value) == 1367491215);
  std::string again;
  encode_tlv(*tlv, again);
  CHECK(again == kDeviceTlv);
}

TEST_CASE("TLV refuses what runs past its input or nests wrongly") {
  CHECK_FALSE(decode_tlv(bytes({0xC8, 0x00, 0x14, 'a'})));  // value runs past
  CHECK_FALSE(decode_tlv(bytes({0xE8})));                   // header runs past
  CHECK_FALSE(
      decode_tlv(bytes({0x08, 0x00, 0x02, 0x41, 0x00})));  // instance holds an instance value
  CHECK_FALSE(
      decode_tlv(bytes({0x88, 0x07, 0x03, 0xC1, 0x00, 0x01})));  // multiple holds a resource
  CHECK(decode_tlv(""));
}

TEST_CASE("TLV integers are the shortest of 1, 2, 4 or 8 octets, signed") {
  CHECK(tlv_integer(0) == bytes({0x00}));
  CHECK(tlv_integer(127) == bytes({0x7F}));
  CHECK(tlv_integer(128) == bytes({0x00, 0x80}));
  CHECK(tlv_integer(-1) == bytes({0xFF}));
  CHECK(tlv_integer(-129) == bytes({0xFF, 0x7F}));
  CHECK(tlv_integer(1367491215) == bytes({0x51, 0x82, 0x42, 0x8F}));
  CHECK(tlv_integer(1LL << 40).size() == 8);
  CHECK(*integer_of(bytes({0xFF, 0x7F})) == -129);
  CHECK_FALSE(integer_of(bytes({1, 2, 3})));
  CHECK(*float_of(tlv_float(2.5)) == 2.5);
  CHECK(*float_of(bytes({0x40, 0x20, 0x00, 0x00})) == 2.5);  // 4-octet float
}

TEST_CASE("A read's TLV becomes EMQX's content, typed by the built-in Device object") {
  auto model = ObjectModel::load("");
  REQUIRE(model->object(3) != nullptr);
  auto content = content_to_json(kDeviceTlv, kTlv, {3, 0}, *model);
  REQUIRE(content.size() == 16);  // 13 entries, three of them with two instances
  CHECK(json::serialize(content[0]) == R"({"path":"/3/0/0","value":"Open Mobile Alliance"})");
  CHECK(json::serialize(content[4]) == R"({"path":"/3/0/6/0","value":1})");
  CHECK(json::serialize(content[7]) == R"({"path":"/3/0/7/1","value":5000})");
  CHECK(json::serialize(content[12]) == R"({"path":"/3/0/11/0","value":0})");
  CHECK(json::serialize(content[13]) == R"({"path":"/3/0/13","value":1367491215})");
  // A single resource as text, as TLV, and an instance wrapped in its Object Instance.
  CHECK(json::serialize(content_to_json("100", kTextPlain, {3, 0, 9}, *model)) ==
        R"([{"path":"/3/0/9","value":100}])");
  CHECK(json::serialize(content_to_json(bytes({0xC1, 0x09, 0x64}), kTlv, {3, 0, 9}, *model)) ==
        R"([{"path":"/3/0/9","value":100}])");
  CHECK(json::serialize(content_to_json(bytes({0x03, 0x00, 0xC1, 0x09, 0x64}), kTlv, {3},
                                        *model)) == R"([{"path":"/3/0/9","value":100}])");
  CHECK_THROWS_AS(content_to_json("x", kTextPlain, {3, 0, 9}, *model), ContentError);
  CHECK_THROWS_AS(content_to_json(bytes({0xC8}), kTlv, {3, 0}, *model), ContentError);
  // LwM2M JSON and SenML JSON.
  CHECK(json::serialize(content_to_json(R"({"bn":"/3/0/","e":[{"n":"9","v":87}]})", kLwm2mJson,
                                        {3, 0}, *model)) == R"([{"path":"/3/0/9","value":87}])");
  CHECK(json::serialize(content_to_json(R"([{"bn":"/3/0/","n":"0","vs":"ACME"},{"n":"9","v":5}])",
                                        kSenmlJson, {3, 0}, *model)) ==
        R"([{"path":"/3/0/0","value":"ACME"},{"path":"/3/0/9","value":5}])");
}

TEST_CASE("Write items become TLV: one resource, several, and a create's instance") {
  auto one = json::parse(R"([{"path":"/3/0/13","type":"Time","value":1367491215}])").as_array();
  CHECK(items_to_tlv({3, 0, 13}, one) == bytes({0xC4, 0x0D, 0x51, 0x82, 0x42, 0x8F}));
  auto two = json::parse(R"([{"path":"14","type":"String","value":"+02:00"},
                             {"path":"13","type":"Integer","value":"5"}])")
                 .as_array();
  CHECK(items_to_tlv({3, 0}, two) ==
        bytes({0xC6, 0x0E, '+', '0', '2', ':', '0', '0', 0xC1, 0x0D, 0x05}));
  auto multi = json::parse(R"([{"path":"0","type":"Integer","value":1},
                               {"path":"1","type":"Integer","value":5}])")
                   .as_array();
  CHECK(items_to_tlv({3, 0, 6}, multi) == bytes({0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05}));
  auto create = json::parse(R"([{"path":"1/0","type":"Boolean","value":true}])").as_array();
  CHECK(items_to_tlv({1}, create) == bytes({0x03, 0x01, 0xC1, 0x00, 0x01}));
  auto bad = json::parse(R"([{"path":"1","type":"Integer","value":"x"}])").as_array();
  CHECK_THROWS_AS(items_to_tlv({3, 0}, bad), ContentError);
  auto objlnk = json::parse(R"([{"path":"22","type":"Objlnk","value":"3:1"}])").as_array();
  CHECK(items_to_tlv({3, 0}, objlnk) == bytes({0xC4, 0x16, 0x00, 0x03, 0x00, 0x01}));
}

TEST_CASE("Object definitions load from XML - a bad file names itself and its line") {
  ObjectModel m;
  m.add_xml(R"(<LWM2M><Object><Name>Temp</Name><ObjectID>3303</ObjectID>
    <MultipleInstances>Multiple</MultipleInstances><Resources>
    <Item ID="5700"><Name>Sensor Value</Name><Operations>R</Operations>
    <MultipleInstances>Single</MultipleInstances><Type>Float</Type></Item>
    </Resources></Object></LWM2M>)",
            "3303.xml");
  REQUIRE(m.resource(3303, 5700) != nullptr);
  CHECK(m.resource(3303, 5700)->type == "Float");
  CHECK(m.object(3303)->multiple);
  try {
    m.add_xml("<LWM2M>\n<Object>\n</LWM2M>", "broken.xml");
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("broken.xml:3") == 0);
  }
  CHECK_THROWS_WITH(m.add_xml("<LWM2M><Object><ObjectID>x</ObjectID></Object></LWM2M>", "f.xml"),
                    Catch::Contains("f.xml") && Catch::Contains("ObjectID"));
}

namespace {

struct Recorder : AdapterHost {
  struct Sent {
    mqtt::Packet packet;
    std::string topic, payload;
  };
  std::vector<Sent> broker;
  std::vector<coap::Message> client;
  std::optional<std::chrono::milliseconds> wake;
  std::uint32_t seed = 7;

  void to_broker(const mqtt::Packet& p) override {
    Sent s{p, {}, {}};
    if (const auto* pub = std::get_if<mqtt::Publish>(&p)) {
      s.topic = pub->topic;
      s.payload = pub->payload;
    }
    broker.push_back(std::move(s));
  }
  void to_client(const coap::Message& m) override { client.push_back(m); }
  void wake_after(std::chrono::milliseconds after) override { wake = after; }
  void keep_alive(std::chrono::milliseconds) override {}
  std::uint32_t random() override { return seed = seed * 1103515245 + 12345; }

  json::object published(std::size_t i) const {
    return json::parse(broker.at(i).payload).as_object();
  }
};

std::shared_ptr<Settings> settings() {
  auto s = std::make_shared<Settings>();
  s->model = ObjectModel::load("");
  return s;
}

coap::Message request(std::uint8_t code, std::string path, std::vector<std::string> query = {},
                      std::string payload = {}, std::uint16_t id = 100) {
  coap::Message m{coap::Type::Con, code, id, "tk", {}, std::move(payload)};
  std::string_view p = path;
  while (!p.empty()) {
    auto slash = p.find('/');
    m.add(coap::kUriPath, std::string(p.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  for (auto& q : query)
    m.add(coap::kUriQuery, q);
  return m;
}

using Clock = std::chrono::steady_clock;

// Registered as "ep1" with lifetime `lt` and binding `b`.
void registered(Adapter& a, Recorder& r, Clock::time_point now, std::string b = "U",
                std::string lt = "60") {
  a.from_client(
      request(coap::kPost, "rd", {"ep=ep1", "lt=" + lt, "lwm2m=1.0", "b=" + b}, "</1/0>,</3/0>"),
      now);
  a.from_broker(mqtt::ConnAck{}, now);
  REQUIRE(a.state() == Adapter::State::Registered);
  r.client.clear();
  r.broker.clear();
}

mqtt::Publish command(std::string_view payload) {
  mqtt::Publish p;
  p.topic = "lwm2m/ep1/dn/cmd";
  p.payload = payload;
  return p;
}

}  // namespace

TEST_CASE("Register connects as the endpoint, answers 2.01 with its location, and publishes") {
  Recorder r;
  Adapter a(settings(), r);
  const auto now = Clock::now();
  a.from_client(request(coap::kPost, "rd", {"ep=ep1", "lt=60", "lwm2m=1.0", "b=U", "password=s3"},
                        "</>;rt=\"oma.lwm2m\",</1/0>,</3/0>"),
                now);
  REQUIRE(r.broker.size() == 1);
  const auto& c = std::get<mqtt::Connect>(r.broker[0].packet);
  CHECK(c.client_id == "ep1");
  CHECK(c.username == "ep1");
  CHECK(c.password == std::optional<std::string>("s3"));
  CHECK(r.client.empty());  // waits for the CONNACK
  a.from_broker(mqtt::ConnAck{}, now);
  REQUIRE(r.client.size() == 1);
  CHECK(r.client[0].type == coap::Type::Ack);
  CHECK(r.client[0].code == coap::kCreated);
  CHECK(r.client[0].id == 100);
  CHECK(r.client[0].all(coap::kLocationPath) == std::vector<std::string_view>{"rd", "ep1"});
  REQUIRE(r.broker.size() == 3);
  const auto& s = std::get<mqtt::Subscribe>(r.broker[1].packet);
  CHECK(s.subscriptions[0].topic_filter == "lwm2m/ep1/dn/#");
  CHECK(r.broker[2].topic == "lwm2m/ep1/up/resp");
  auto reg = r.published(2);
  CHECK(reg["msgType"] == "register");
  CHECK(reg["data"].as_object()["ep"] == "ep1");
  CHECK(reg["data"].as_object()["lt"] == 60);
  CHECK(json::serialize(reg["data"].as_object()["objectList"]) == R"(["/1/0","/3/0"])");
  CHECK_FALSE(reg["data"].as_object().contains("password"));  // never published
  CHECK(r.wake == std::chrono::milliseconds(60'000));         // the lifetime
}

TEST_CASE("A refused registration is 4.03, a bad one 4.00 without a connection") {
  Recorder r;
  Adapter a(settings(), r);
  const auto now = Clock::now();
  a.from_client(request(coap::kPost, "rd", {"lt=60"}), now);
  CHECK(r.client.back().code == coap::kBadRequest);
  a.from_client(request(coap::kPost, "rd", {"ep=e", "lt=0"}, {}, 101), now);
  CHECK(r.client.back().code == coap::kBadRequest);  // below lifetime_min
  a.from_client(request(coap::kPost, "rd", {"ep=e", "lwm2m=2.0"}, {}, 102), now);
  CHECK(r.client.back().code == coap::kBadRequest);
  CHECK(r.broker.empty());
  a.from_client(request(coap::kPost, "rd", {"ep=e"}, {}, 103), now);
  mqtt::ConnAck refused;
  refused.code = static_cast<std::uint8_t>(mqtt::ReasonCode::NotAuthorized);
  a.from_broker(refused, now);
  CHECK(r.client.back().code == coap::kForbidden);
  CHECK(a.state() == Adapter::State::Closed);
}

TEST_CASE("A read command becomes a CON GET, and its answer EMQX's response JSON") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now);
  a.from_broker(command(R"({"reqID":7,"msgType":"read","data":{"path":"/3/0/9"}})"), now);
  REQUIRE(r.client.size() == 1);
  const auto req = r.client[0];
  CHECK(req.type == coap::Type::Con);
  CHECK(req.code == coap::kGet);
  CHECK(req.path() == "3/0/9");
  CHECK(req.token.size() == 4);
  a.from_client(
      coap::Message{
          coap::Type::Ack, coap::kContent, req.id, req.token, {{coap::kContentFormat, ""}}, "87"},
      now);
  REQUIRE(r.broker.size() == 1);
  CHECK(r.broker[0].topic == "lwm2m/ep1/up/resp");
  CHECK(
      r.broker[0].payload ==
      R"({"reqID":7,"msgType":"read","data":{"reqPath":"/3/0/9","code":"2.05","codeMsg":"content","content":[{"path":"/3/0/9","value":87}]}})");
}

TEST_CASE("Commands go one at a time - an unanswered one is sent again, then coap_timeout") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now, "U", "3600");
  a.from_broker(command(R"({"reqID":1,"msgType":"execute","data":{"path":"/3/0/4"}})"), now);
  a.from_broker(command(R"({"reqID":2,"msgType":"delete","data":{"path":"/3/1"}})"), now);
  REQUIRE(r.client.size() == 1);  // the second waits
  CHECK(a.queued() == 1);
  for (int i = 0; i < Adapter::kMaxRetransmit; ++i) {
    now += std::chrono::seconds(100);
    a.tick(now);
  }
  CHECK(r.client.size() == 1 + Adapter::kMaxRetransmit);
  CHECK(r.client.back().id == r.client.front().id);  // the same message again
  now += std::chrono::seconds(100);
  a.tick(now);
  REQUIRE_FALSE(r.broker.empty());
  CHECK(r.published(0)["msgType"] == "coap_timeout");
  CHECK(r.published(0)["reqID"] == 1);
  CHECK(r.client.back().code == coap::kDelete);  // then the next
  CHECK(r.client.back().path() == "3/1");
}

TEST_CASE("An empty ACK is reported as ack, and the separate response answers") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now);
  a.from_broker(
      command(
          R"({"reqID":3,"msgType":"write","data":{"path":"/3/0/13","type":"Time","value":12}})"),
      now);
  const auto req = r.client.at(0);
  CHECK(req.code == coap::kPut);
  CHECK(req.payload == bytes({0xC1, 0x0D, 0x0C}));
  a.from_client(coap::Message{coap::Type::Ack, coap::kEmpty, req.id, {}, {}, {}}, now);
  CHECK(r.published(0)["msgType"] == "ack");
  a.from_client(coap::Message{coap::Type::Con, coap::kChanged, 9, req.token, {}, {}}, now);
  CHECK(r.client.back().type == coap::Type::Ack);  // the response is acknowledged
  CHECK(r.client.back().id == 9);
  CHECK(
      r.broker.back().payload ==
      R"({"reqID":3,"msgType":"write","data":{"reqPath":"/3/0/13","code":"2.04","codeMsg":"changed"}})");
}

TEST_CASE("Observe: notifications go to the notify topic - cancel ends them") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now);
  a.from_broker(command(R"({"reqID":4,"msgType":"observe","data":{"path":"/3/0/9"}})"), now);
  const auto req = r.client.at(0);
  CHECK(req.uint_option(coap::kObserve) == 0u);
  coap::Message ok{coap::Type::Ack, coap::kContent, req.id, req.token, {}, "90"};
  ok.add_uint(coap::kObserve, 1);
  a.from_client(std::move(ok), now);
  CHECK(a.observations() == 1);
  coap::Message n{coap::Type::Non, coap::kContent, 50, req.token, {}, "80"};
  n.add_uint(coap::kObserve, 2);
  a.from_client(std::move(n), now);
  CHECK(r.broker.back().topic == "lwm2m/ep1/up/notify");
  auto body = r.published(r.broker.size() - 1);
  CHECK(body["msgType"] == "notify");
  CHECK(body["seqNum"] == 2);
  CHECK(body["reqID"] == 4);
  CHECK(json::serialize(body["data"].as_object()["content"]) ==
        R"([{"path":"/3/0/9","value":80}])");
  // A notification with a token the gateway does not know: RST (RFC 7641 3.6).
  coap::Message stray{coap::Type::Con, coap::kContent, 51, "zz", {}, "1"};
  a.from_client(std::move(stray), now);
  CHECK(r.client.back().type == coap::Type::Rst);
  a.from_broker(command(R"({"reqID":5,"msgType":"cancel-observe","data":{"path":"/3/0/9"}})"), now);
  const auto cancel = r.client.back();
  CHECK(cancel.uint_option(coap::kObserve) == 1u);
  a.from_client(coap::Message{coap::Type::Ack, coap::kContent, cancel.id, cancel.token, {}, "80"},
                now);
  CHECK(a.observations() == 0);
}

TEST_CASE("A bad command is answered 4.00 at once - the queue is bounded") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now);
  a.from_broker(command(R"({"reqID":1,"msgType":"read","data":{"path":"/x"}})"), now);
  CHECK(r.client.empty());
  CHECK(
      r.broker.back().payload ==
      R"({"reqID":1,"msgType":"read","data":{"reqPath":"/x","code":"4.00","codeMsg":"bad_request"}})");
  a.from_broker(command("not json"), now);  // dropped: nothing to answer to
  for (std::size_t i = 0; i < Adapter::kMaxQueued + 2; ++i)
    a.from_broker(command(R"({"msgType":"read","data":{"path":"/3/0"}})"), now);
  CHECK(a.queued() == Adapter::kMaxQueued);
  CHECK(r.published(r.broker.size() - 1)["data"].as_object()["code"] == "5.03");
}

TEST_CASE("Queue mode holds commands until the client shows itself") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now, "UQ");
  now += std::chrono::seconds(30);  // past qmode_time_window (22 s)
  a.from_broker(command(R"({"msgType":"read","data":{"path":"/3/0/9"}})"), now);
  CHECK(r.client.empty());
  a.from_client(request(coap::kPost, "rd/ep1", {}, {}, 300), now);  // an Update
  REQUIRE(r.client.size() == 2);
  CHECK(r.client[0].code == coap::kChanged);
  CHECK(r.client[1].code == coap::kGet);
}

TEST_CASE("Update keeps the registration - the lifetime's end and De-register end it") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now);
  now += std::chrono::seconds(50);
  a.from_client(request(coap::kPost, "rd/ep1", {"lt=100"}, "</3/0>,</5/0>", 301), now);
  CHECK(r.client.back().code == coap::kChanged);
  CHECK(r.broker.back().topic == "lwm2m/ep1/up/update");
  CHECK(json::serialize(r.published(0)["data"].as_object()["objectList"]) == R"(["/3/0","/5/0"])");
  a.from_client(request(coap::kPost, "rd/other", {}, {}, 302), now);
  CHECK(r.client.back().code == coap::kNotFound);
  now += std::chrono::seconds(99);
  a.tick(now);
  CHECK(a.state() == Adapter::State::Registered);
  now += std::chrono::seconds(2);
  a.tick(now);
  CHECK(a.state() == Adapter::State::Closed);
  CHECK(std::holds_alternative<mqtt::Disconnect>(r.broker.back().packet));

  Recorder r2;
  Adapter b(settings(), r2);
  registered(b, r2, now);
  b.from_client(request(coap::kDelete, "rd/ep1", {}, {}, 303), now);
  CHECK(r2.client.back().code == coap::kDeleted);
  CHECK(b.state() == Adapter::State::Closed);
  CHECK(std::holds_alternative<mqtt::Disconnect>(r2.broker.back().packet));
}

TEST_CASE("A response must carry the request's token, and may come before its empty ACK") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now);
  a.from_broker(command(R"({"reqID":1,"msgType":"read","data":{"path":"/3/0/9"}})"), now);
  const auto req = r.client.at(0);
  // A forged ACK: the right message id, another token.
  a.from_client(coap::Message{coap::Type::Ack, coap::kContent, req.id, "xxxx", {}, "1"}, now);
  CHECK(r.broker.empty());
  // The separate response (its empty ACK lost): acknowledged and published.
  a.from_client(coap::Message{coap::Type::Con, coap::kContent, 77, req.token, {}, "90"}, now);
  CHECK(r.client.back().type == coap::Type::Ack);
  REQUIRE(r.broker.size() == 1);
  CHECK(r.published(0)["data"].as_object()["content"].as_array()[0].as_object()["value"] == 90);
}

TEST_CASE("cancel-observe uses the observation's token, and a re-registration forgets them") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now);
  a.from_broker(command(R"({"msgType":"observe","data":{"path":"/3/0/9"}})"), now);
  const auto obs = r.client.back();
  coap::Message ok{coap::Type::Ack, coap::kContent, obs.id, obs.token, {}, "1"};
  ok.add_uint(coap::kObserve, 1);
  a.from_client(std::move(ok), now);
  a.from_broker(command(R"({"msgType":"cancel-observe","data":{"path":"/3/0/9"}})"), now);
  CHECK(r.client.back().token == obs.token);  // RFC 7641 3.6
  a.from_client(
      coap::Message{coap::Type::Ack, coap::kContent, r.client.back().id, obs.token, {}, "1"}, now);
  a.from_broker(command(R"({"msgType":"observe","data":{"path":"/3/0/9"}})"), now);
  const auto again = r.client.back();
  coap::Message ok2{coap::Type::Ack, coap::kContent, again.id, again.token, {}, "1"};
  ok2.add_uint(coap::kObserve, 1);
  a.from_client(std::move(ok2), now);
  CHECK(a.observations() == 1);
  a.from_client(request(coap::kPost, "rd", {"ep=ep1", "lt=60"}, "</3/0>", 400), now);
  CHECK(r.client.back().code == coap::kCreated);
  CHECK(a.observations() == 0);
}

TEST_CASE("Endpoint names, Update parameters and command sizes are bounded") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  for (std::string bad : {"ep=a+b", "ep=a/b", "ep=#", "ep="}) {
    a.from_client(request(coap::kPost, "rd", {bad}, {}, 500), now);
    CHECK(r.client.back().code == coap::kBadRequest);
  }
  CHECK(r.broker.empty());
  registered(a, r, now);
  a.from_client(request(coap::kPost, "rd/ep1", {"lt=100", "ep=other", "junk=1"}, "</3/0>", 501),
                now);
  auto data = r.published(0)["data"].as_object();
  CHECK(data["ep"] == "ep1");  // an Update changes lt, b and sms only
  CHECK(data["lt"] == 100);
  CHECK_FALSE(data.contains("junk"));
  r.broker.clear();
  const std::string big(Adapter::kMaxCommand, 'x');
  a.from_broker(
      command(R"({"reqID":9,"msgType":"read","data":{"path":"/3/0","pad":")" + big + R"("}})"),
      now);
  CHECK(r.published(0)["data"].as_object()["code"] == "4.13");
}

TEST_CASE("What a device sends is published as valid UTF-8") {
  CHECK(utf8_text("plain") == "plain");
  CHECK(utf8_text("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(utf8_text("a\xAB"
                  "b") ==
        "a\xEF\xBF\xBD"
        "b");                                                  // a stray continuation octet
  CHECK(utf8_text("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  CHECK(utf8_text("\xED\xA0\x80").size() == 9);                // a surrogate
  CHECK(utf8_text("\xE2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // cut short
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  a.from_client(request(coap::kPost, "rd", {"ep=ep1", "\xAB=UQ"}, "</3/0>,<\xFF>"), now);
  a.from_broker(mqtt::ConnAck{}, now);
  boost::system::error_code ec;
  (void)json::parse(r.broker.back().payload, ec);
  CHECK_FALSE(ec);
}

TEST_CASE("A Block2 answer is put together before it is published") {
  Recorder r;
  Adapter a(settings(), r);
  auto now = Clock::now();
  registered(a, r, now);
  a.from_broker(command(R"({"reqID":2,"msgType":"observe","data":{"path":"/3/0"}})"), now);
  const auto first = r.client.at(0);
  // The first 16 octets of the Device example, more to come (RFC 7959 2.4).
  coap::Message b0{coap::Type::Ack,         coap::kContent, first.id, first.token, {},
                   kDeviceTlv.substr(0, 16)};
  b0.add_uint(coap::kObserve, 1);
  b0.add_uint(coap::kContentFormat, kTlv);
  b0.add_block(coap::kBlock2, coap::Block{0, true, 0});
  a.from_client(std::move(b0), now);
  CHECK(r.broker.empty());
  REQUIRE(r.client.size() == 2);
  const auto next = r.client.at(1);
  CHECK(next.block(coap::kBlock2) == coap::Block{1, false, 0});
  CHECK_FALSE(next.uint_option(coap::kObserve));  // only the first request observes
  CHECK(next.token == first.token);
  CHECK(next.id != first.id);
  coap::Message b1{coap::Type::Ack, coap::kContent, next.id, next.token, {}, kDeviceTlv.substr(16)};
  b1.add_uint(coap::kContentFormat, kTlv);
  b1.add_block(coap::kBlock2, coap::Block{1, false, 0});
  a.from_client(std::move(b1), now);
  REQUIRE(r.broker.size() == 1);
  auto data = r.published(0)["data"].as_object();
  CHECK(data["code"] == "2.05");
  CHECK(data["content"].as_array().size() == 16);  // the whole example
  CHECK(a.observations() == 1);
  // A block other than the one asked for: the exchange is lost.
  a.from_broker(command(R"({"reqID":3,"msgType":"read","data":{"path":"/3/0"}})"), now);
  const auto read = r.client.back();
  coap::Message wrong{coap::Type::Ack, coap::kContent, read.id, read.token, {}, "x"};
  wrong.add_block(coap::kBlock2, coap::Block{0, true, 0});
  a.from_client(std::move(wrong), now);
  const auto again = r.client.back();
  coap::Message skip{coap::Type::Ack, coap::kContent, again.id, again.token, {}, "y"};
  skip.add_block(coap::kBlock2, coap::Block{5, false, 0});
  a.from_client(std::move(skip), now);
  CHECK(r.published(r.broker.size() - 1)["msgType"] == "coap_timeout");
}

TEST_CASE("update_msg_publish_condition: always publishes every Update") {
  Recorder r;
  auto s = settings();
  s->update_always = true;
  Adapter a(s, r);
  auto now = Clock::now();
  registered(a, r, now);
  a.from_client(request(coap::kPost, "rd/ep1", {}, {}, 600), now);  // no objects
  REQUIRE(r.broker.size() == 1);
  CHECK(r.broker[0].topic == "lwm2m/ep1/up/update");
  Recorder r2;
  Adapter b(settings(), r2);  // contains_object_list, the default
  registered(b, r2, now);
  b.from_client(request(coap::kPost, "rd/ep1", {}, {}, 601), now);
  CHECK(r2.broker.empty());
}
