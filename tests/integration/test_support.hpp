#pragma once
// Shared assertions for the integration suites.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <array>

#include "relay_process.hpp"
#include "ws_client.hpp"

namespace relay::testing {

template <class T>
T const& expect_payload(std::optional<protocol::envelope> const& e)
{
    BOOST_REQUIRE_MESSAGE(e.has_value(), "expected a message, got none");
    auto const* p = std::get_if<T>(&e->body);
    BOOST_REQUIRE_MESSAGE(p != nullptr, "unexpected payload type " << protocol::type_name(e->body));
    return *p;
}

// An envelope returned by value must be kept in a variable first: a reference
// into a temporary would dangle.
template <class T>
T const& expect_payload(std::optional<protocol::envelope>&& e) = delete;

/// Receives the next Acknowledgment and checks it.
inline void expect_ack(ws_client& c, std::string const& message_id, protocol::ack_status status)
{
    auto const e = c.receive_envelope();
    auto const& ack = expect_payload<protocol::acknowledgment>(e);
    BOOST_CHECK_EQUAL(ack.message_id, message_id);
    BOOST_CHECK_EQUAL(protocol::to_string(ack.status), protocol::to_string(status));
}

/// Sends raw bytes and returns everything the server writes until it closes.
inline std::string raw_exchange(std::uint16_t port, std::string const& request)
{
    namespace net = boost::asio;
    net::io_context ioc;
    net::ip::tcp::socket s(ioc);
    s.connect({net::ip::make_address("127.0.0.1"), port});
    net::write(s, net::buffer(request));
    std::string out;
    boost::system::error_code ec;
    std::array<char, 4096> buf{};
    for (;;) {
        auto n = s.read_some(net::buffer(buf), ec);
        out.append(buf.data(), n);
        if (ec)
            break;
    }
    return out;
}

/// A plain HTTP GET (health, metrics); the whole response, headers included.
inline std::string http_get(std::uint16_t port, std::string const& path, std::string const& extra_headers = {})
{
    return raw_exchange(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra_headers + "\r\n");
}

/// The value of a sample in a Prometheus exposition (`name` may carry labels).
inline std::uint64_t metric(std::string const& text, std::string const& name)
{
    auto const at = text.find("\n" + name + " ");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "metric " << name << " missing");
    return std::stoull(text.substr(at + name.size() + 2));
}

} // namespace relay::testing
