// Micro-benchmark of the hot codec paths (bench/README.md): decoding EncryptedUpdate
// frames of the sizes the load generator sends, and encoding the Stored ack
// and the delivery frame. Reports nanoseconds per call as the median of
// several rounds, so an optimisation of the codec can be measured before and
// after without a server. Run: build-release/bench/codec_bench [--rounds N]
// [--size 256|4096|65536]
//
// Wall time, not instructions: a byte-array scanner's cost can be mostly
// branch mispredictions, which instruction counts (callgrind) do not show.
// For the same reason each call decodes a different frame of a set of 64:
// the same ciphertext over and over lets the branch predictor learn it.
// The best round is reported: on a shared machine noise only adds time.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/loadgen/frames.hpp"
#include "worker/protocol/codec.hpp"

namespace {

namespace protocol = relay::protocol;

/// Best ns per call of `body(i)` over `rounds` rounds of `calls` calls.
double best_ns(int rounds, int calls, std::function<void(int)> const& body)
{
    double best = 1e300;
    for (int r = 0; r < rounds; ++r) {
        auto const start = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i)
            body(i);
        std::chrono::duration<double, std::nano> const took = std::chrono::steady_clock::now() - start;
        best = std::min(best, took.count() / calls);
    }
    return best;
}

void report(char const* what, std::size_t frame_bytes, double ns)
{
    std::printf("%-44s %8zu B  %10.0f ns/call  %7.2f ns/byte\n", what, frame_bytes, ns, ns / double(frame_bytes));
}

} // namespace

int main(int argc, char** argv)
{
    int rounds = 9;
    std::size_t only_size = 0; // --size N: only that ciphertext size (for profiling)
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--rounds") == 0)
            rounds = std::max(1, std::atoi(argv[i + 1]));
        if (std::strcmp(argv[i], "--size") == 0)
            only_size = static_cast<std::size_t>(std::atol(argv[i + 1]));
    }

    std::printf("codec micro-benchmark: best of %d rounds\n", rounds);
    for (std::size_t size : {256u, 4096u, 65536u}) {
        if (only_size != 0 && size != only_size)
            continue;
        std::vector<std::string> frames;
        for (std::uint64_t seed = 1; seed <= 64; ++seed) {
            bench::loadgen::update_frame frame(size, seed);
            frame.set_recipient(bench::loadgen::hex64_id(7, seed));
            frames.push_back(frame.bytes());
        }
        std::size_t const frame_bytes = frames.front().size();
        int const calls = static_cast<int>(std::max<std::size_t>(64, (40u << 20) / frame_bytes / 8));
        std::size_t sink = 0;
        double const ns = best_ns(rounds, calls, [&](int i) {
            auto decoded = protocol::decode_frame(frames[static_cast<std::size_t>(i) % frames.size()]);
            if (!decoded) {
                std::fprintf(stderr, "codec_bench: the generated frame did not decode\n");
                std::exit(1);
            }
            sink += std::get<protocol::encrypted_update>(decoded->body).ciphertext.size();
        });
        std::string const label = "decode EncryptedUpdate " + std::to_string(size) + " B";
        report(label.c_str(), frame_bytes, ns);
        if (sink == 0)
            return 1;

        std::vector<std::uint8_t> ciphertext(size, 173);
        std::string delivery;
        double const enc = best_ns(rounds, calls, [&](int) {
            delivery = protocol::encode_delivery("0b8e7c1a-5f2d-4c3e-9a1b-2d3e4f5a6b7c", 1760000000,
                                                 bench::loadgen::hex64_id(7, 1), ciphertext);
        });
        std::string const label2 = "encode delivery " + std::to_string(size) + " B";
        report(label2.c_str(), delivery.size(), enc);
    }
    if (only_size != 0)
        return 0;
    std::string ack;
    double const ack_ns = best_ns(rounds, 200000, [&](int) {
        ack = protocol::encode_ack("0b8e7c1a-5f2d-4c3e-9a1b-2d3e4f5a6b7c", 1760000000,
                                   "1c9f8d2b-6e3a-4d4f-8b2c-3e4f5a6b7c8d", protocol::ack_status::stored);
    });
    report("encode Stored ack", ack.size(), ack_ns);
    return 0;
}
