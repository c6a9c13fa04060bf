#include "worker/metrics_text.hpp"

#include <cstdio>

namespace relay::worker {
namespace {

using shm::counter;

class exposition {
public:
    void family(char const* name, char const* type, char const* help)
    {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    void sample(char const* name, std::uint64_t value, std::string const& labels = {})
    {
        out_ += name;
        out_ += labels;
        out_ += ' ';
        out_ += std::to_string(value);
        out_ += '\n';
    }
    void sample_real(char const* name, double value, std::string const& labels = {})
    {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.9g", value);
        out_ += name;
        out_ += labels;
        out_ += ' ';
        out_ += buf;
        out_ += '\n';
    }
    void single(char const* name, char const* type, char const* help, std::uint64_t value)
    {
        family(name, type, help);
        sample(name, value);
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

struct relay_sums {
    std::uint64_t counters[shm::counter_count] = {};
    std::uint64_t buckets[shm::duration_bucket_count + 1] = {};
    std::uint64_t duration_sum_ns = 0;
    std::uint64_t connections = 0;
};

relay_sums sum_slots(shm::store& st)
{
    relay_sums s;
    for (std::uint32_t i = 0; i < shm::max_worker_slots; ++i) {
        shm::worker_slot const& w = st.slot(i);
        for (std::size_t c = 0; c < shm::counter_count; ++c)
            s.counters[c] += w.counters[c].load(std::memory_order_relaxed);
        for (std::size_t b = 0; b <= shm::duration_bucket_count; ++b)
            s.buckets[b] += w.duration_buckets[b].load(std::memory_order_relaxed);
        s.duration_sum_ns += w.duration_sum_ns.load(std::memory_order_relaxed);
        s.connections += w.connections.load(std::memory_order_relaxed);
    }
    return s;
}

std::string worker_label(std::uint32_t slot) { return "{worker=\"" + std::to_string(slot) + "\"}"; }

} // namespace

std::string render_metrics(shm::store& st)
{
    relay_sums const s = sum_slots(st);
    shm::store_totals const totals = st.totals();
    auto count = [&s](counter c) { return s.counters[static_cast<std::size_t>(c)]; };
    auto kind = [&totals](shm::blob_kind k) { return totals.by_kind[static_cast<std::size_t>(k)]; };
    exposition m;

    // ---- the families of the Rust relay (§11.3) ----
    m.single("relay_connections_total", "counter", "WebSocket sessions upgraded.", count(counter::connections_total));
    m.single("relay_connections_active", "gauge", "Admitted connections open now.", s.connections);
    m.single("relay_connection_errors_total", "counter",
             "Connections refused by the connection limit or whose upgrade failed or timed out.",
             count(counter::connection_errors_total));
    m.single("relay_blobs_stored", "gauge", "Blobs waiting for their recipients.", kind(shm::blob_kind::update));
    m.single("relay_blobs_expired_total", "counter", "Blobs removed by TTL cleanup.",
             st.header().blobs_expired_total.load(std::memory_order_relaxed));
    m.single("relay_messages_received_total", "counter", "Decoded messages after the handshake.",
             count(counter::messages_received_total));
    m.single("relay_messages_sent_total", "counter", "Frames sent to clients.", count(counter::messages_sent_total));
    m.single("relay_messages_rejected_total", "counter", "Oversized or undecodable messages dropped.",
             count(counter::messages_rejected_total));

    m.family("relay_message_duration_seconds", "histogram", "Time to handle one message after the handshake.");
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < shm::duration_bucket_count; ++b) {
        cumulative += s.buckets[b];
        char le[64];
        std::snprintf(le, sizeof le, "{le=\"%g\"}", shm::duration_bucket_bounds[b]);
        m.sample("relay_message_duration_seconds_bucket", cumulative, le);
    }
    cumulative += s.buckets[shm::duration_bucket_count];
    m.sample("relay_message_duration_seconds_bucket", cumulative, "{le=\"+Inf\"}");
    m.sample_real("relay_message_duration_seconds_sum", static_cast<double>(s.duration_sum_ns) / 1e9);
    m.sample("relay_message_duration_seconds_count", cumulative);

    m.single("relay_blobs_created_total", "counter", "Blobs stored (EncryptedUpdate and AccountRevoked).",
             count(counter::blobs_created_total));
    m.single("relay_blobs_delivered_total", "counter", "Blobs handed to recipients (redeliveries included).",
             count(counter::blobs_delivered_total));
    m.single("relay_recovery_proofs_active", "gauge", "Recovery proofs stored.", kind(shm::blob_kind::recovery_proof));
    m.single("relay_recovery_vouchers_total", "counter", "Recovery proofs stored or replaced.",
             count(counter::recovery_proofs_stored_total));
    m.single("relay_rate_limited_total", "counter", "Messages dropped by the general rate limit.",
             count(counter::rate_limited_total));

    // ---- beyond the Rust relay: what an operator of this one needs ----
    m.single("relay_recovery_rate_limited_total", "counter", "Recovery messages dropped by the recovery rate limit.",
             count(counter::recovery_rate_limited_total));
    m.single("relay_recovery_queries_total", "counter", "Recovery proof queries answered.",
             count(counter::recovery_queries_total));
    m.single("relay_device_sync_pending", "gauge", "Device-sync messages stored.", kind(shm::blob_kind::device_sync));
    m.single("relay_device_sync_stored_total", "counter", "Device-sync messages stored.",
             count(counter::device_sync_stored_total));
    m.single("relay_device_sync_delivered_total", "counter", "Device-sync messages delivered.",
             count(counter::device_sync_delivered_total));
    m.single("relay_purges_total", "counter", "Purge requests answered.", count(counter::purges_total));
    m.single("relay_store_failed_total", "counter", "Store requests answered Failed (quota, capacity, invalid id).",
             count(counter::store_failed_total));
    m.single("relay_handshakes_rejected_total", "counter", "Handshakes refused (invalid, bad signature, replay).",
             count(counter::handshakes_rejected_total));
    m.single("relay_nonce_replays_total", "counter", "Signed handshakes refused as nonce replays.",
             count(counter::nonce_replays_total));
    m.single("relay_connections_rejected_limit_total", "counter", "Connections refused by RELAY_MAX_CONNECTIONS.",
             count(counter::connections_rejected_limit));
    m.single("relay_connections_without_presence_total", "counter",
             "Connections whose presence could not be recorded: their mailboxes are polled, not pushed to.",
             count(counter::connections_without_presence_total));
    m.single("relay_connections_rejected_per_ip_total", "counter",
             "Connections refused by RELAY_MAX_CONNECTIONS_PER_IP, counted per client address.",
             count(counter::connections_rejected_per_ip));
    m.single("relay_proxy_header_errors_total", "counter",
             "RELAY_PROXY_PROTOCOL=on: connections closed for a missing, malformed, oversized or late PROXY header.",
             count(counter::proxy_header_errors_total));
    m.single("relay_connections_rejected_untrusted_total", "counter",
             "RELAY_PROXY_PROTOCOL=on: connections closed because the peer is not in RELAY_TRUSTED_PROXIES.",
             count(counter::connections_rejected_untrusted));
    m.single("relay_notifications_dropped_total", "counter", "Delivered/receipt notifications lost to full queues.",
             count(counter::notifications_dropped_total));
    m.single("relay_slow_consumers_closed_total", "counter", "Connections closed because they did not read.",
             count(counter::slow_consumers_closed_total));
    m.single("relay_noise_sessions_total", "counter", "Sessions that completed the Noise NK handshake.",
             count(counter::noise_sessions_total));
    m.single("relay_noise_decrypt_failures_total", "counter", "Noise transport messages that failed to decrypt.",
             count(counter::noise_decrypt_failures_total));
    m.single("relay_noise_frames_skipped_total", "counter", "Frames too large for a Noise message, not sent (Q-8).",
             count(counter::noise_frames_skipped_total));

    m.single("relay_store_capacity_bytes", "gauge", "Arena bytes of the store.", totals.arena_bytes);
    m.single("relay_store_used_bytes", "gauge", "Arena bytes in chunks of live records.", totals.chunk_bytes);
    m.single("relay_store_data_bytes", "gauge", "Payload bytes of live records.", totals.data_bytes);
    m.single("relay_store_shard_repairs_total", "counter", "Shards rebuilt after a process died holding their lock.",
             totals.repairs);
    // Store v2 (docs/store.md): the page pool, its classes, refusals and drops.
    m.single("relay_store_pages", "gauge", "Pages of 64 KiB in the store.", totals.pages);
    m.single("relay_store_free_pages", "gauge", "Pages in the pool, free for any shard and size class.",
             totals.free_pages);
    m.single("relay_store_records_moved_total", "counter",
             "Records compaction moved off sparse pages so that those pages return to the pool.", totals.records_moved);
    m.single("relay_store_compactions_total", "counter", "Compaction rounds that moved at least one record.",
             totals.compactions);
    m.family("relay_store_class_pages", "gauge", "Pages held by shards for chunks of one size class.");
    for (std::uint32_t c = 0; c < shm::class_count; ++c)
        m.sample("relay_store_class_pages", totals.pages_by_class[c],
                 "{chunk_bytes=\"" + std::to_string(shm::chunk_size_of_class(c)) + "\"}");
    m.single("relay_store_mailboxes", "gauge", "Mailboxes (recipients, identities and key hashes) holding records.",
             totals.mailboxes);
    m.family("relay_store_refusals_total", "counter", "Records the store refused, by cause.");
    m.sample("relay_store_refusals_total",
             st.header().refusals[static_cast<std::size_t>(shm::refusal_reason::quota)].load(std::memory_order_relaxed),
             "{cause=\"quota\"}");
    m.sample(
        "relay_store_refusals_total",
        st.header().refusals[static_cast<std::size_t>(shm::refusal_reason::capacity)].load(std::memory_order_relaxed),
        "{cause=\"capacity\"}");
    m.family("relay_store_records_dropped_total", "counter",
             "Records dropped because they did not read back (power cut, damaged disk), by reason.");
    m.sample("relay_store_records_dropped_total",
             st.header().records_dropped[static_cast<std::size_t>(shm::drop_reason::checksum)].load(
                 std::memory_order_relaxed),
             "{reason=\"checksum\"}");
    m.sample("relay_store_records_dropped_total",
             st.header().records_dropped[static_cast<std::size_t>(shm::drop_reason::structure)].load(
                 std::memory_order_relaxed),
             "{reason=\"structure\"}");
    m.single("relay_store_sync_flushes_total", "counter", "Group flushes of RELAY_SYNC_COMMIT=on.",
             count(counter::sync_flushes_total));
    m.single("relay_store_sync_records_total", "counter", "Records whose Stored ack waited for a group flush.",
             count(counter::sync_records_total));
    m.single("relay_worker_stall_kills_total", "counter",
             "Workers killed by the supervisor for not heartbeating within RELAY_HEARTBEAT_TIMEOUT.",
             count(counter::stall_kills_total));
    m.single("relay_push_catch_ups_total", "counter",
             "Times a worker's notification ring lost pushes (full or reset) and its connections listed their "
             "mailboxes instead.",
             count(counter::push_catch_ups_total));

    // Per worker slot, for every slot that was ever used.
    auto used = [&st](std::uint32_t i) { return st.slot(i).generation.load(std::memory_order_relaxed) != 0; };
    m.family("relay_worker_up", "gauge", "1 while the worker slot has a live process.");
    for (std::uint32_t i = 0; i < shm::max_worker_slots; ++i)
        if (used(i))
            m.sample("relay_worker_up", st.slot(i).pid.load(std::memory_order_relaxed) != 0 ? 1 : 0, worker_label(i));
    m.family("relay_worker_connections", "gauge", "Admitted connections open in the worker.");
    for (std::uint32_t i = 0; i < shm::max_worker_slots; ++i)
        if (used(i))
            m.sample("relay_worker_connections", st.slot(i).connections.load(std::memory_order_relaxed),
                     worker_label(i));
    m.family("relay_worker_spawns_total", "counter",
             "Times the worker slot was (re)started since the store was created.");
    for (std::uint32_t i = 0; i < shm::max_worker_slots; ++i)
        if (used(i))
            m.sample("relay_worker_spawns_total", st.slot(i).generation.load(std::memory_order_relaxed),
                     worker_label(i));
    return m.take();
}

} // namespace relay::worker
