#pragma once
// Clients for tests that kill relay processes under load: they reconnect when
// their worker dies and keep count of what the relay acknowledged.

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ws_client.hpp"

namespace relay::testing {

/// recipient → payloads (a multiset: a retried store may legitimately leave two)
using blob_set = std::map<std::string, std::multiset<std::vector<std::uint8_t>>>;

/// Connects and handshakes; nullptr if the relay dropped us (our worker died).
std::unique_ptr<ws_client> try_connect(std::uint16_t port, std::string const& id, handshake_options const& o = {});

/// A sender that survives the death of its worker: on a broken connection it
/// reconnects and sends the same update again (a duplicate is a second blob,
/// which checks allow; a lost acknowledged blob is what they catch).
class resilient_sender {
public:
    explicit resilient_sender(std::uint16_t port);

    /// Stores `data` for `recipient`; true once acknowledged Stored.
    bool store(std::string const& recipient, std::vector<std::uint8_t> const& data);

    /// Longest time from noticing a broken connection to a new HandshakeAck.
    std::chrono::milliseconds worst_reconnect() const { return worst_reconnect_; }
    int reconnects() const { return reconnects_; }

private:
    void reconnect();
    std::uint16_t port_;
    std::string id_;
    std::unique_ptr<ws_client> c_;
    std::chrono::milliseconds worst_reconnect_{0};
    int reconnects_ = 0;
};

/// Connects as `recipient` (suppress_presence) and collects what is delivered:
/// at least `expected` messages, then until 100 ms pass quietly.
std::vector<protocol::envelope> drain(std::uint16_t port, std::string const& recipient, std::size_t expected);

/// Like drain(), but waits for the blobs in `wanted` (by ciphertext) rather
/// than for a count: a mailbox that also holds blobs the test does not wait
/// for (an acknowledgment a kill swallowed) would reach the count early, and
/// a pause in delivery (a repair holding the shard lock) would end the drain
/// before every wanted blob arrived.
std::vector<protocol::envelope> drain_all_of(std::uint16_t port, std::string const& recipient,
                                             std::multiset<std::vector<std::uint8_t>> wanted);

} // namespace relay::testing
