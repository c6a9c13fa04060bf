// libFuzzer target: the connection handler driven by arbitrary message
// sequences against a real in-memory store: no input may crash, hang or corrupt it. The input is split into
// frames, each preceded by a 2-byte length; the first is the handshake, the
// rest go through the post-handshake pipeline, and every queued delivery is
// loaded as the session would. Several connections take turns so that
// notifications, acks and purges cross between them. After each input the
// store must pass its full consistency check.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/log.hpp"
#include "shm/notify_ring.hpp"
#include "shm/segment.hpp"
#include "shm/store.hpp"
#include "worker/handler.hpp"
#include "worker/services.hpp"
#include "worker/session_sink.hpp"

namespace {

namespace shm = relay::shm;
using relay::worker::connection_handler;

class counting_sink final : public relay::worker::session_sink {
public:
    using session_sink::send_frame;
    void send_frame(std::string frame, std::uint64_t) override { bytes += frame.size(); }
    bool queue_blob(shm::blob_ref const& ref) override
    {
        blobs.push_back(ref);
        return true;
    }
    void touch() override {}
    std::size_t bytes = 0;
    std::vector<shm::blob_ref> blobs;
};

struct world {
    world()
    {
        relay::log::set_min_level(relay::log::level::error); // repairs and warnings are not findings
        shm::geometry g;
        g.shard_count = 2;
        g.arena_bytes = 2u << 20;
        g.rate_table_entries = 256;
        g.presence_capacity = 32;
        name = "/vauchi-relay-fuzz-" + std::to_string(::getpid());
        seg = shm::segment::create_memory(name, g);
        shm::store(seg.base()).reinit_locks();
        shm::notify_rings(seg.base(), seg.header()).reinit_locks();
        for (int i = 0; i < 2; ++i)
            fds.push_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        cfg.rate_limit = 1000000;
        cfg.max_message_size = 4096;
        cfg.max_blobs_per_user = 8;
        cfg.max_storage_per_user = 20000;
        services = std::make_unique<relay::worker::worker_services>(cfg, seg.base(), 0, fds, 1700000000);
    }
    ~world() { shm::segment::remove_memory(name); }

    relay::config cfg;
    std::string name;
    shm::segment seg;
    std::vector<int> fds;
    std::unique_ptr<relay::worker::worker_services> services;
};

world& the_world()
{
    static world w;
    return w;
}

struct connection {
    explicit connection(relay::worker::worker_services& s) : handler(s, sink) {}
    counting_sink sink;
    connection_handler handler;
    bool open = true;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    world& w = the_world();
    std::vector<std::unique_ptr<connection>> conns;
    std::size_t at = 0;
    while (at + 3 <= size) {
        // Byte 0 picks the connection (new ones are opened on demand), bytes 1–2 the frame length.
        std::size_t const which = data[at] % 3;
        std::size_t const len = std::min<std::size_t>(std::size_t{data[at + 1]} << 8 | data[at + 2], size - at - 3);
        std::string_view const frame(reinterpret_cast<char const*>(data + at + 3), len);
        at += 3 + len;
        while (conns.size() <= which)
            conns.push_back(std::make_unique<connection>(*w.services));
        connection& c = *conns[which];
        if (!c.open)
            continue;
        if (!c.handler.handshaken()) {
            c.open = c.handler.on_handshake(frame, which == 2) == connection_handler::verdict::proceed;
        } else {
            c.handler.on_message(frame);
        }
        // Written as the session writes them, which may announce Delivered.
        for (auto const& ref : c.sink.blobs)
            if (auto out = c.handler.load_delivery(ref); out && out->delivered_due)
                c.handler.on_delivery_written(ref);
        c.sink.blobs.clear();
        auto const drained = w.services->rings().drain(0);
        if (drained.lost)
            w.services->catch_up_all();
        for (auto const& entry : drained.entries)
            w.services->dispatch_local(entry);
    }
    conns.clear(); // detaches every presence
    if (!w.services->store().check_all().consistent)
        std::abort();
    return 0;
}
