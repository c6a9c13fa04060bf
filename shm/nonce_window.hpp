#pragma once
// The handshake nonce memory of docs/protocol.md#s5 step 3, shared by every worker
// (D-11): a signed handshake replayed within 120 s is refused whichever worker
// each attempt lands on. Lock-free like the rate buckets: one 64-bit word per
// entry, claimed by compare-and-swap, so a process killed mid-update costs at
// most its own record (docs/architecture.md#design-2-5).

#include <cstdint>
#include <span>

#include "shm/layout.hpp"

namespace relay::shm {

class nonce_window {
public:
    nonce_window(std::uint8_t* base, store_header const& header) noexcept;

    enum class outcome {
        fresh,    ///< not seen within the window; recorded now
        replayed, ///< seen within the window (or being recorded concurrently)
        full,     ///< every entry this nonce may use is live: refused, the client retries with a new nonce
    };

    /// Records `nonce`, signed at `signed_unix` (the handshake's timestamp),
    /// unless it is remembered. A nonce is remembered until the wall clock
    /// passes its signing time plus `window_secs`: for as long as its
    /// handshake could pass the ±60 s check again, even after the clock
    /// stepped back (a signing time in the future keeps it remembered). Call
    /// only after the signature verified (D-10).
    outcome record(std::span<std::uint8_t const, 32> nonce, std::uint64_t signed_unix, std::uint64_t now_unix,
                   std::uint64_t window_secs = 120);

private:
    nonce_entry* table_;
    std::uint64_t seed_;
};

} // namespace relay::shm
