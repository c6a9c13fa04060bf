#include "resilient_client.hpp"

#include <boost/test/unit_test.hpp>

#include <thread>

#include "common/random.hpp"

namespace relay::testing {

std::unique_ptr<ws_client> try_connect(std::uint16_t port, std::string const& id, handshake_options const& o)
{
    try {
        auto c = std::make_unique<ws_client>(port);
        c->send_binary(handshake_frame(id, o));
        auto const ack = c->receive_envelope(2000ms);
        if (ack && std::holds_alternative<protocol::handshake_ack>(ack->body))
            return c;
    } catch (std::exception const&) {
    }
    return nullptr;
}

resilient_sender::resilient_sender(std::uint16_t port) : port_(port), id_(random_id())
{
    reconnect();
    reconnects_ = 0;
}

bool resilient_sender::store(std::string const& recipient, std::vector<std::uint8_t> const& data)
{
    for (int attempt = 0; attempt < 5; ++attempt) {
        std::string const msg = random::new_uuid_string();
        try {
            c_->send_binary(update_frame(recipient, data, msg));
            while (auto const e = c_->receive_envelope(3000ms)) {
                auto const* a = std::get_if<protocol::acknowledgment>(&e->body);
                if (a && a->message_id == msg)
                    return a->status == protocol::ack_status::stored;
            }
        } catch (std::exception const&) {
        }
        reconnect();
    }
    return false;
}

void resilient_sender::reconnect()
{
    auto const started = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) {
        c_ = try_connect(port_, id_);
        if (c_) {
            ++reconnects_;
            worst_reconnect_ = std::max(
                worst_reconnect_,
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
            return;
        }
        std::this_thread::sleep_for(20ms);
    }
    BOOST_FAIL("could not reconnect to the relay");
}

namespace {

/// Connects as `recipient` (suppress_presence) and reads deliveries while
/// `more_to_come(got)` says one is still due (3 s each), then until 100 ms
/// pass quietly.
template <typename MoreToCome>
std::vector<protocol::envelope> drain_while(std::uint16_t port, std::string const& recipient, MoreToCome more_to_come)
{
    for (int attempt = 0; attempt < 20; ++attempt) {
        auto r = try_connect(port, recipient, suppressed());
        if (!r) {
            std::this_thread::sleep_for(50ms);
            continue;
        }
        std::vector<protocol::envelope> got;
        while (auto e = r->receive_envelope(more_to_come(got) ? 3000ms : 100ms))
            got.push_back(*e);
        return got;
    }
    BOOST_FAIL("could not connect to drain a mailbox");
    return {};
}

} // namespace

std::vector<protocol::envelope> drain(std::uint16_t port, std::string const& recipient, std::size_t expected)
{
    return drain_while(port, recipient, [&](auto const& got) { return got.size() < expected; });
}

std::vector<protocol::envelope> drain_all_of(std::uint16_t port, std::string const& recipient,
                                             std::multiset<std::vector<std::uint8_t>> wanted)
{
    std::size_t seen = 0;
    return drain_while(port, recipient, [&](std::vector<protocol::envelope> const& got) {
        for (; seen < got.size(); ++seen)
            if (auto const* u = std::get_if<protocol::encrypted_update>(&got[seen].body))
                if (auto it = wanted.find(u->ciphertext); it != wanted.end())
                    wanted.erase(it);
        return !wanted.empty();
    });
}

} // namespace relay::testing
