#include "shm/nonce_window.hpp"

#include <string_view>

#include "shm/shard.hpp"

namespace relay::shm {
namespace {

// word = tag (44 bits of the nonce's hash, never 0) << 20 | signing second mod 2^20.
constexpr unsigned time_bits = 20;
constexpr std::uint64_t time_mask = (std::uint64_t{1} << time_bits) - 1;
/// A nonce may live in any of the probe_window entries after its home entry.
/// Entries are never emptied (a stale one is simply overwritten), so a lookup
/// always reads the whole window: two cache lines.
constexpr std::uint32_t probe_window = 16;
static_assert((nonce_table_entries & (nonce_table_entries - 1)) == 0);

constexpr std::uint64_t tag_of(std::uint64_t word) { return word >> time_bits; }
constexpr std::uint64_t second_of(std::uint64_t word) { return word & time_mask; }

} // namespace

nonce_window::nonce_window(std::uint8_t* base, store_header const& header) noexcept
    : table_(reinterpret_cast<nonce_entry*>(base + header.nonces_offset)), seed_(header.hash_seed ^ 0x6e6f6e6365ull)
{
}

nonce_window::outcome nonce_window::record(std::span<std::uint8_t const, 32> nonce, std::uint64_t signed_unix,
                                           std::uint64_t now_unix, std::uint64_t window_secs)
{
    std::uint64_t const h =
        key_hash(seed_, std::string_view(reinterpret_cast<char const*>(nonce.data()), nonce.size()));
    // Index from the low bits, tag from the high bits: independent parts of the hash.
    std::uint32_t const home = static_cast<std::uint32_t>(h) & (nonce_table_entries - 1);
    std::uint64_t const tag = (h >> time_bits) | (std::uint64_t{1} << 43);
    std::uint64_t const now = now_unix & time_mask;
    std::uint64_t const mine = tag << time_bits | (signed_unix & time_mask);
    // Seconds since the signing time, as a signed 20-bit number: negative
    // (signed "in the future", the clock stepped back) counts as live. A step
    // back of more than 6 days wraps and forgets; the ±60 s check then
    // refuses the handshake for those 6 days.
    auto live = [&](std::uint64_t word) {
        std::uint64_t const since = (now - second_of(word)) & time_mask;
        bool const future = since >= (std::uint64_t{1} << (time_bits - 1));
        return word != 0 && (future || since <= window_secs);
    };
    auto entry = [&](std::uint32_t i) -> std::atomic<std::uint64_t>& {
        return table_[(home + i) & (nonce_table_entries - 1)].word;
    };

    for (int attempt = 0; attempt < 4; ++attempt) {
        std::uint32_t free_at = probe_window;
        std::uint64_t free_word = 0;
        for (std::uint32_t i = 0; i < probe_window; ++i) {
            std::uint64_t const w = entry(i).load(std::memory_order_seq_cst);
            if (live(w)) {
                if (tag_of(w) == tag)
                    return outcome::replayed;
            } else if (free_at == probe_window) {
                free_at = i;
                free_word = w;
            }
        }
        if (free_at == probe_window)
            return outcome::full;
        if (!entry(free_at).compare_exchange_strong(free_word, mine, std::memory_order_seq_cst))
            continue; // someone took that entry meanwhile: look again
        // Two workers recording the same nonce at once may both have found no
        // match and claimed different entries. With sequentially consistent
        // claims and re-reads, at least one of them sees the other's entry (the
        // store-then-load pattern of Dekker's algorithm) and reports a replay;
        // both refusing is safe, both accepting is not possible.
        for (std::uint32_t i = 0; i < probe_window; ++i) {
            if (i == free_at)
                continue;
            std::uint64_t const w = entry(i).load(std::memory_order_seq_cst);
            if (live(w) && tag_of(w) == tag)
                return outcome::replayed;
        }
        return outcome::fresh;
    }
    return outcome::full;
}

} // namespace relay::shm
