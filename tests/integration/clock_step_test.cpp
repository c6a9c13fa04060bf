// Clock steps of a running relay (docs/architecture.md#clocks): its wall clock
// is stepped by ±1 day through an LD_PRELOAD shim (tests/tools/clock_shift.cpp)
// while CLOCK_MONOTONIC runs on, as when NTP steps a host. Rate buckets
// neither empty nor fill, expiry keeps running, and no replay window reopens.

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../common/ed25519_identity.hpp"
#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using relay::protocol::acknowledgment;
using namespace std::chrono_literals;

namespace {

constexpr long one_day = 86'400;

/// A relay whose wall clock the test steps.
class stepped_relay {
public:
    explicit stepped_relay(std::map<std::string, std::string> env)
        : file_(std::filesystem::temp_directory_path() / ("vauchi-clock-" + random_id().substr(0, 12)))
    {
        step_to(0);
        env["LD_PRELOAD"] = VAUCHI_CLOCK_SHIFT_LIB;
        env["VAUCHI_CLOCK_SHIFT_FILE"] = file_.string();
        // Under ASan, the shim comes before its runtime in the library list.
        char const* asan = std::getenv("ASAN_OPTIONS");
        env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + (asan ? ":" : "") + "verify_asan_link_order=0";
        relay_.emplace(with_env(std::move(env)));
    }
    ~stepped_relay()
    {
        relay_.reset();
        std::filesystem::remove(file_);
    }
    /// Sets the relay's wall clock to the real one plus `offset` seconds.
    void step_to(long offset)
    {
        auto const temp = file_.string() + ".new";
        std::ofstream(temp) << offset << "\n";
        std::filesystem::rename(temp, file_); // atomic: the shim never reads half a number
        std::this_thread::sleep_for(50ms);    // the shim reads the file again every 20 ms
    }
    relay_process& operator*() { return *relay_; }
    relay_process* operator->() { return &*relay_; }

private:
    std::filesystem::path file_;
    std::optional<relay_process> relay_;
};

/// Sends `n` updates and counts the Stored acks that come back within
/// `wait` (rate-limited ones are dropped silently, docs/protocol.md#s10-2).
int stored_of(ws_client& c, int n, std::chrono::milliseconds wait = 500ms)
{
    for (int i = 0; i < n; ++i)
        c.send_binary(update_frame(random_id(), {1, 2, 3}, "m-" + std::to_string(i)));
    int stored = 0;
    while (auto const e = c.receive_envelope(wait))
        if (auto const* ack = std::get_if<acknowledgment>(&e->body); ack && ack->status == ack_status::stored)
            ++stored;
    return stored;
}

} // namespace

BOOST_AUTO_TEST_SUITE(clock_steps)

BOOST_AUTO_TEST_CASE(rate_buckets_neither_empty_nor_fill_when_the_clock_steps)
{
    // 60 a minute: one token a second.
    stepped_relay relay(std::map<std::string, std::string>{{"RELAY_RATE_LIMIT", "60"}});
    auto c = connect_as(relay->port(), random_id());
    BOOST_TEST(stored_of(*c, 60) == 60); // a new bucket starts full
    BOOST_TEST(stored_of(*c, 1) == 0);   // and is empty now
    // A day back: the bucket still refills one token a second. Before, it
    // refused everything until the clock had caught up.
    relay.step_to(-one_day);
    std::this_thread::sleep_for(2100ms);
    int const after_back = stored_of(*c, 5, 300ms);
    // About 3 s pass (the sleep, the waits for silence): a slow machine adds one or two.
    BOOST_TEST((after_back >= 1 && after_back <= 5), after_back << " tokens in about 3 s");
    // A day forward: not a day's worth of refill, only what a second brings.
    relay.step_to(+one_day);
    std::this_thread::sleep_for(1100ms);
    int const after_forward = stored_of(*c, 10, 300ms);
    BOOST_TEST(after_forward <= 4, after_forward << " tokens in about 1.5 s");
}

BOOST_AUTO_TEST_CASE(expiry_keeps_its_schedule_and_blob_ages_when_the_clock_steps)
{
    stepped_relay relay(
        std::map<std::string, std::string>{{"RELAY_BLOB_TTL_SECS", "3"}, {"RELAY_CLEANUP_INTERVAL", "1"}});
    std::string const bob = random_id(), carol = random_id();
    auto sender = connect_as(relay->port(), random_id());
    sender->send_binary(update_frame(bob, {1}, "before-back"));
    expect_ack(*sender, "before-back", ack_status::stored);
    // A day back: the sweep keeps running every second, and the blob stored
    // before the step still expires after 3 s, not after a day.
    relay.step_to(-one_day);
    std::this_thread::sleep_for(7s); // 3 s TTL, a sweep every second, and room for a slow machine
    BOOST_TEST(connect_as(relay->port(), bob)->silent_for(500ms));
    // A day forward: a fresh blob is not suddenly a day old.
    sender->send_binary(update_frame(carol, {2}, "before-forward"));
    expect_ack(*sender, "before-forward", ack_status::stored);
    relay.step_to(+one_day);
    std::this_thread::sleep_for(1500ms); // at least one sweep
    auto c = connect_as(relay->port(), carol);
    BOOST_TEST(c->receive_envelope(2s).has_value());
}

BOOST_AUTO_TEST_CASE(a_signed_handshake_cannot_be_replayed_after_the_clock_steps_back)
{
    stepped_relay relay(std::map<std::string, std::string>{});
    ed25519_identity const id;
    std::array<std::uint8_t, 32> nonce{};
    auto const bytes = random_bytes(32);
    std::copy(bytes.begin(), bytes.end(), nonce.begin());
    auto const auth = id.sign(nonce, static_cast<std::uint64_t>(std::time(nullptr)));
    handshake_options o;
    o.identity_public_key = auth.identity_public_key;
    o.nonce = auth.nonce;
    o.signature = auth.signature;
    o.timestamp = auth.timestamp;
    auto first = connect_as(relay->port(), id.client_id(), o);
    // 30 s back: the signature's time is still within ±60 s, so only the
    // nonce window stands between the replay and a session. Before, an entry
    // recorded "in the future" counted as stale.
    relay.step_to(-30);
    for (int i = 0; i < 4; ++i) { // spread over the workers
        ws_client replay(relay->port(), "/ws");
        replay.send_binary(handshake_frame(id.client_id(), o));
        BOOST_TEST(replay.closed_within(3000ms));
    }
}

BOOST_AUTO_TEST_SUITE_END()
