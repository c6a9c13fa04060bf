#include "common/random.hpp"

#include "common/hex.hpp"

#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdlib>

namespace relay::random {
namespace {

// Small per-process pool so that one message does not cost one syscall per id.
// Refilled from getrandom(); a forked child must never reuse its parent's
// bytes, so every fork bumps a generation (pthread_atfork) and a pool filled
// in an older generation is thrown away. This replaced a getpid() check, which
// cost a syscall per id (three per stored message; found by the benchmark).
struct pool {
    std::array<std::uint8_t, 4096> bytes{}; // 256 UUIDs per getrandom(): ~1 syscall per 128 messages
    std::size_t used = sizeof(bytes);
    unsigned generation = 0;
};
thread_local pool local_pool;
unsigned fork_generation = 1;

void after_fork_in_child() { ++fork_generation; }

[[maybe_unused]] int const registered = ::pthread_atfork(nullptr, nullptr, &after_fork_in_child);

void getrandom_all(std::uint8_t* out, std::size_t n)
{
    while (n > 0) {
        auto got = ::getrandom(out, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            std::abort(); // no randomness: nothing safe to do
        }
        out += got;
        n -= static_cast<std::size_t>(got);
    }
}

} // namespace

void fill(std::span<std::uint8_t> out)
{
    auto& p = local_pool;
    if (p.generation != fork_generation) {
        p.generation = fork_generation;
        p.used = p.bytes.size();
    }
    std::size_t done = 0;
    while (done < out.size()) {
        if (p.used == p.bytes.size()) {
            getrandom_all(p.bytes.data(), p.bytes.size());
            p.used = 0;
        }
        std::size_t take = std::min(out.size() - done, p.bytes.size() - p.used);
        for (std::size_t i = 0; i < take; ++i) {
            out[done + i] = p.bytes[p.used + i];
            p.bytes[p.used + i] = 0;
        }
        p.used += take;
        done += take;
    }
}

uuid new_uuid()
{
    uuid id{};
    fill(id);
    id[6] = static_cast<std::uint8_t>((id[6] & 0x0f) | 0x40); // version 4
    id[8] = static_cast<std::uint8_t>((id[8] & 0x3f) | 0x80); // RFC 4122 variant
    return id;
}

std::string to_string(uuid const& id)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < id.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out.push_back('-');
        out.push_back(digits[id[i] >> 4]);
        out.push_back(digits[id[i] & 0x0f]);
    }
    return out;
}

bool parse_uuid(std::string_view text, uuid& out)
{
    if (text.size() != 36)
        return false;
    std::size_t byte = 0;
    for (std::size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return false;
            ++i;
            continue;
        }
        int const hi = hex_digit_value(text[i]), lo = hex_digit_value(text[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
        i += 2;
    }
    return true;
}

std::string new_uuid_string() { return to_string(new_uuid()); }

std::string session_label()
{
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::array<std::uint8_t, 8> raw{};
    fill(raw);
    std::string out(8, '0');
    for (std::size_t i = 0; i < raw.size(); ++i)
        out[i] = alphabet[raw[i] % 36];
    return out;
}

std::uint64_t u64()
{
    std::array<std::uint8_t, 8> raw{};
    fill(raw);
    std::uint64_t v = 0;
    for (auto b : raw)
        v = v << 8 | b;
    return v;
}

} // namespace relay::random
