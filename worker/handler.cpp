#include "worker/handler.hpp"

#include <algorithm>
#include <chrono>

#include "common/clock.hpp"
#include "common/hex.hpp"
#include "common/log.hpp"
#include "common/random.hpp"
#include "shm/device_sync_record.hpp"
#include "shm/sweep.hpp"
#include "worker/handshake_auth.hpp"
#include "worker/protocol/codec.hpp"

namespace relay::worker {
namespace {

using protocol::ack_status;
using shm::counter;

/// General and recovery buckets are separate families in the shared table.
constexpr std::uint32_t general_bucket = 0;
constexpr std::uint32_t recovery_bucket = 1;

/// A hex key hash as the store files it: lowercase (docs/protocol.md#s7-9 returns
/// lowercase hex whatever the case of the request). Empty if not hex64.
std::string normalized_key_hash(std::string_view text)
{
    if (!is_hex64(text))
        return {};
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c; });
    return out;
}

/// The blob id an acknowledgment names, if it is exactly the lowercase UUID
/// the relay sent: ids compare case-sensitively (docs/protocol.md#s1).
std::optional<random::uuid> exact_uuid(std::string_view text)
{
    random::uuid id{};
    if (!random::parse_uuid(text, id) || random::to_string(id) != text)
        return std::nullopt;
    return id;
}

} // namespace

connection_handler::connection_handler(worker_services& services, session_sink& sink) : services_(services), sink_(sink)
{
}

connection_handler::~connection_handler()
{
    if (handshaken_) {
        services_.unregister_handler(routing_id_, this);
        if (attached_)
            services_.store().detach(routing_id_, services_.slot());
    }
}

connection_handler::verdict connection_handler::on_handshake(std::string_view frame, bool noise)
{
    auto decoded = protocol::decode_frame(frame);
    if (!decoded)
        return verdict::close;
    auto const* hs = std::get_if<protocol::handshake>(&decoded->body);
    if (hs == nullptr || !is_hex64(hs->client_id) || (hs->device_id && !is_hex64(*hs->device_id)) ||
        (hs->routing_token && !is_hex64(*hs->routing_token))) {
        services_.count(counter::handshakes_rejected_total);
        return verdict::close;
    }
    std::array<std::uint8_t, 32> nonce{};
    auto const auth = check_handshake_auth(*hs, worker_services::now_unix(), &nonce);
    if (auth == auth_result::rejected) {
        services_.count(counter::handshakes_rejected_total);
        return verdict::close;
    }
    // §5 step 3 after the signature verified (D-10), in the window every worker shares (D-11).
    if (auth == auth_result::verified) {
        auto const seen = services_.nonces().record(nonce, *hs->timestamp, worker_services::now_unix());
        if (seen != shm::nonce_window::outcome::fresh) {
            services_.count(counter::handshakes_rejected_total);
            services_.count(counter::nonce_replays_total, seen == shm::nonce_window::outcome::replayed);
            if (seen == shm::nonce_window::outcome::full)
                RELAY_LOG_WARN("nonce window full: signed handshake refused (more than ~500k signed handshakes in "
                               "120 s); the client will retry with a new nonce");
            return verdict::close;
        }
    }

    client_id_ = hs->client_id;
    device_id_ = hs->device_id.value_or("");
    routing_id_ = hs->routing_token.value_or(hs->client_id);
    suppress_presence_ = hs->suppress_presence;
    handshaken_ = true;

    // Local registration first, then the store: a push that races the attach
    // finds this handler, and attach() lists everything stored before it under
    // the same shard lock, so no blob is missed or sent twice.
    services_.register_handler(routing_id_, this);
    auto const attach = services_.store().attach(routing_id_, services_.slot());
    attached_ = attach.registered;
    if (!attached_) {
        // No put() sees this connection, so no push reaches it: its worker
        // lists its mailbox on every deadline sweep instead (poll_mailbox()).
        // The table is sized for RELAY_MAX_CONNECTIONS, so only a store laid
        // out for a lower limit, or 65 535 connections of one id on one
        // worker, gets here.
        services_.count(counter::connections_without_presence_total);
        RELAY_LOG_WARN("a connection's presence could not be recorded (the presence table is full, or one routing "
                       "id has 65535 connections on this worker): its blobs are polled for every 250 ms instead of "
                       "pushed; raise RELAY_MAX_CONNECTIONS if this repeats");
    }
    sink_.send_frame(protocol::encode_handshake_ack(random::new_uuid_string(), worker_services::now_unix(), noise));
    take_listing(attach);
    // §4.4 step 6: device-sync messages for this device, after the blobs.
    if (!device_id_.empty())
        for (auto const& ds : services_.store().list_device_sync(client_id_, device_id_))
            sink_.queue_blob(ds.ref);
    return verdict::proceed;
}

void connection_handler::on_message(std::string_view frame)
{
    auto const started = std::chrono::steady_clock::now();
    handle_message(frame);
    services_.record_duration(std::chrono::steady_clock::now() - started);
}

void connection_handler::handle_message(std::string_view frame)
{
    config const& cfg = services_.cfg();
    if (frame.size() > cfg.max_message_size) {
        services_.count(counter::messages_rejected_total); // §10.1: silent, no token
        return;
    }
    if (!services_.limiter().try_take(general_bucket, routing_id_, cfg.rate_limit, clock::monotonic_ms())) {
        services_.count(counter::rate_limited_total); // §10.2: silent
        return;
    }
    auto decoded = protocol::decode_frame(frame);
    if (!decoded) {
        services_.count(counter::messages_rejected_total); // §4.5 step 4: silent
        return;
    }
    services_.count(counter::messages_received_total);
    protocol::envelope const& e = *decoded;
    std::visit([&](auto const& m) { handle(e, m); }, e.body);
}

void connection_handler::reply_ack(std::string_view acked_message_id, ack_status status)
{
    // A Stored ack waits for the flush that puts its record on disk when
    // RELAY_SYNC_COMMIT=on (every Stored follows a successful put).
    std::uint64_t const durable = status == ack_status::stored ? services_.commit_gate().cover() : 0;
    sink_.send_frame(
        protocol::encode_ack(random::new_uuid_string(), worker_services::now_unix(), acked_message_id, status),
        durable);
}

void connection_handler::after_store(shm::put_result const& r, std::string_view recipient)
{
    if (r.status != shm::put_status::stored) {
        services_.count(counter::store_failed_total);
        return;
    }
    services_.count(counter::blobs_created_total);
    if (r.live_slots == 0)
        return;
    // D-5: live push to every connection of the recipient, wherever it is.
    auto entry = shm::notify_rings::make(shm::notify_kind::push_blob, recipient, {});
    entry.shard = r.ref.shard;
    entry.blob_offset = r.ref.offset;
    entry.blob_seq = r.ref.seq;
    services_.notify(r.live_slots, entry);
}

void connection_handler::handle(protocol::envelope const& e, protocol::encrypted_update const& m)
{
    if (!is_hex64(m.recipient_id)) { // D-9
        reply_ack(e.message_id, ack_status::failed);
        return;
    }
    config const& cfg = services_.cfg();
    shm::put_request rq;
    rq.recipient = m.recipient_id;
    rq.data = m.ciphertext;
    rq.sender = routing_id_;
    rq.sender_message_id = e.message_id;
    rq.now = clock::relay_unix(); // blob ages ignore clock steps
    rq.max_blobs = cfg.max_blobs_per_user;
    rq.max_bytes = cfg.max_storage_per_user;
    auto const r = services_.store().put(rq);
    // D-8: Stored only once the blob is committed; anything else is Failed.
    reply_ack(e.message_id, r.status == shm::put_status::stored ? ack_status::stored : ack_status::failed);
    after_store(r, m.recipient_id);
}

void connection_handler::handle(protocol::envelope const&, protocol::acknowledgment const& m)
{
    auto const id = exact_uuid(m.message_id);
    if (!id)
        return;
    auto const removed = services_.store().remove(routing_id_, *id);
    if (!removed.removed)
        return;
    // D-7: forward the recipient's receipt to the sender's live connections.
    if (m.status == ack_status::received_by_recipient && !suppress_presence_ && removed.has_sender) {
        services_.notify_routing_id(shm::notify_rings::make(shm::notify_kind::received_by_recipient, removed.sender,
                                                            removed.sender_message_id));
    }
}

void connection_handler::handle(protocol::envelope const& e, protocol::account_revoked const& m)
{
    if (!is_hex64(m.recipient_id)) {
        reply_ack(e.message_id, ack_status::failed);
        return;
    }
    // §7.5: the stored blob is our own re-encoding of the whole envelope.
    std::string const frame = protocol::encode_frame(e);
    config const& cfg = services_.cfg();
    shm::put_request rq;
    rq.recipient = m.recipient_id;
    rq.data = std::span(reinterpret_cast<std::uint8_t const*>(frame.data()), frame.size());
    rq.now = clock::relay_unix(); // blob ages ignore clock steps
    rq.max_blobs = cfg.max_blobs_per_user;
    rq.check_byte_quota = false;
    auto const r = services_.store().put(rq);
    reply_ack(e.message_id, r.status == shm::put_status::stored ? ack_status::stored : ack_status::failed);
    after_store(r, m.recipient_id);
}

void connection_handler::handle(protocol::envelope const& e, protocol::purge_request const& m)
{
    protocol::envelope reply;
    reply.message_id = e.message_id; // §7.10: echoes the request's id
    reply.timestamp = worker_services::now_unix();
    protocol::purge_response body;
    shm::store& st = services_.store();
    body.blobs_deleted = st.purge(routing_id_);
    if (m.include_device_sync)
        body.device_sync_deleted = st.purge(shm::blob_kind::device_sync, client_id_); // every device
    if (m.include_recovery_proofs && m.recovery_key_hash) {
        std::string const key = normalized_key_hash(*m.recovery_key_hash);
        if (!key.empty())
            body.recovery_proofs_deleted = st.purge(shm::blob_kind::recovery_proof, key) > 0 ? 1 : 0;
    }
    services_.count(counter::purges_total);
    reply.body = body;
    sink_.send_frame(protocol::encode_frame(reply));
}

void connection_handler::handle(protocol::envelope const& e, protocol::device_sync_message const& m)
{
    if (m.identity_id != client_id_) // §7.6: only for one's own identity
        return;
    if (!is_hex64(m.target_device_id) || !is_hex64(m.sender_device_id)) { // D-9
        reply_ack(e.message_id, ack_status::failed);
        return;
    }
    // The record keeps the device ids and version for delivery; no quota
    // applies (§7.6), only the store's capacity (D-8).
    auto const record =
        shm::device_sync_record::pack(m.target_device_id, m.sender_device_id, m.version, m.encrypted_payload);
    shm::put_request rq;
    rq.kind = shm::blob_kind::device_sync;
    rq.recipient = client_id_;
    rq.data = record;
    rq.now = clock::relay_unix(); // blob ages ignore clock steps
    auto const r = services_.store().put(rq);
    bool const stored = r.status == shm::put_status::stored;
    services_.count(stored ? counter::device_sync_stored_total : counter::store_failed_total);
    reply_ack(e.message_id, stored ? ack_status::stored : ack_status::failed);
}

void connection_handler::handle(protocol::envelope const&, protocol::device_sync_ack const& m)
{
    // §7.7: only a connection that named its device can acknowledge for it.
    auto const id = exact_uuid(m.message_id);
    if (device_id_.empty() || !id)
        return;
    services_.store().remove_device_sync(client_id_, device_id_, *id);
}

bool connection_handler::take_recovery_token()
{
    // §10.3: a second bucket per routing id, charged on top of the general one.
    if (services_.limiter().try_take(recovery_bucket, routing_id_, services_.cfg().recovery_rate_limit,
                                     clock::monotonic_ms()))
        return true;
    services_.count(counter::recovery_rate_limited_total);
    return false;
}

void connection_handler::handle(protocol::envelope const& e, protocol::recovery_proof_store const& m)
{
    if (!take_recovery_token())
        return;
    std::string const key = normalized_key_hash(m.key_hash);
    if (key.empty()) // §7.8 step 2: silent, the token is spent
        return;
    shm::put_request rq;
    rq.kind = shm::blob_kind::recovery_proof;
    rq.recipient = key;
    rq.data = m.proof_data;
    rq.now = clock::relay_unix(); // blob ages ignore clock steps
    rq.replace_existing = true;
    auto const r = services_.store().put(rq);
    bool const stored = r.status == shm::put_status::stored;
    services_.count(stored ? counter::recovery_proofs_stored_total : counter::store_failed_total);
    reply_ack(e.message_id, stored ? ack_status::stored : ack_status::failed);
}

void connection_handler::handle(protocol::envelope const&, protocol::recovery_proof_query const& m)
{
    if (!take_recovery_token())
        return;
    services_.count(counter::recovery_queries_total);
    std::uint64_t const now = clock::relay_unix();
    // Expired-but-not-swept proofs are never returned (§8.4).
    std::uint64_t const created_after = now > shm::recovery_proof_ttl_secs ? now - shm::recovery_proof_ttl_secs : 0;
    std::vector<std::string> keys;
    for (auto const& text : m.key_hashes) {
        std::string key = normalized_key_hash(text);
        if (!key.empty() && std::find(keys.begin(), keys.end(), key) == keys.end()) // duplicates collapse
            keys.push_back(std::move(key));
    }
    protocol::recovery_proof_response body;
    for (auto& key : keys) {
        if (auto proof = services_.store().find_recovery_proof(key, created_after))
            body.proofs.push_back({std::move(key), std::move(*proof)});
    }
    protocol::envelope reply;
    reply.message_id = random::new_uuid_string(); // §7.9: a fresh id, not the query's
    reply.timestamp = now;
    reply.body = std::move(body);
    sink_.send_frame(protocol::encode_frame(reply));
}

std::optional<std::string> connection_handler::load_device_sync(shm::blob_ref const& ref)
{
    auto d = services_.store().fetch(ref, shm::blob_kind::device_sync, client_id_);
    shm::device_sync_record::view record;
    if (!d || !shm::device_sync_record::unpack(d->data, record))
        return std::nullopt;
    protocol::envelope e;
    e.message_id = random::to_string(d->blob_id);
    e.timestamp = worker_services::now_unix();
    protocol::device_sync_message body;
    body.identity_id = client_id_;
    body.target_device_id = record.target_device_id;
    body.sender_device_id = record.sender_device_id;
    body.encrypted_payload.assign(record.payload.begin(), record.payload.end());
    body.version = record.version;
    e.body = std::move(body);
    services_.count(counter::device_sync_delivered_total);
    return protocol::encode_frame(e);
}

std::optional<connection_handler::outgoing> connection_handler::load_delivery(shm::blob_ref const& ref)
{
    if (ref.kind == shm::blob_kind::device_sync) {
        auto frame = load_device_sync(ref);
        return frame ? std::optional<outgoing>(outgoing{std::move(*frame), false}) : std::nullopt;
    }
    auto d = services_.store().fetch(ref, routing_id_);
    if (!d)
        return std::nullopt;
    outgoing out;
    out.frame =
        protocol::encode_delivery(random::to_string(d->blob_id), worker_services::now_unix(), routing_id_, d->data);
    out.delivered_due = d->delivered_due && !suppress_presence_;
    services_.count(counter::blobs_delivered_total);
    return out;
}

void connection_handler::on_delivery_written(shm::blob_ref const& ref)
{
    // D-7: the sender's live connections hear Delivered once the frame is on
    // this socket, not when it was read from the store: a frame skipped
    // (too large for Noise) or lost with the connection owes nothing yet.
    services_.store().mark_delivered(ref, routing_id_, [this](std::string_view sender, std::string_view message_id) {
        // Under the shard lock: this worker's own connections get it after.
        services_.notify_routing_id(shm::notify_rings::make(shm::notify_kind::delivered, sender, message_id),
                                    worker_services::local::later);
    });
    services_.dispatch_deferred();
}

void connection_handler::take_listing(shm::mailbox_listing const& listing)
{
    push_.take(listing, [this](shm::blob_ref const& ref) { return sink_.queue_blob(ref); });
}

void connection_handler::catch_up()
{
    if (handshaken_)
        take_listing(services_.store().list_after(routing_id_, push_.through_seq()));
}

void connection_handler::poll_mailbox()
{
    if (!handshaken_ || attached_)
        return;
    // Asks for a place in the presence table again: once one is free, pushes
    // reach this connection like any other.
    auto const attach = services_.store().attach(routing_id_, services_.slot(), push_.through_seq());
    attached_ = attach.registered;
    take_listing(attach);
}

void connection_handler::on_notification(shm::notify_entry const& entry)
{
    switch (static_cast<shm::notify_kind>(entry.kind)) {
    case shm::notify_kind::push_blob:
        // The blob may have been queued already: listed at attach or by a
        // catch-up while its push was on its way through a ring.
        if (push_.is_new(entry.blob_seq) &&
            sink_.queue_blob({entry.shard, shm::blob_kind::update, entry.blob_offset, entry.blob_seq}))
            push_.queued(entry.blob_seq);
        if (push_.wants_listing())
            catch_up();
        break;
    case shm::notify_kind::delivered:
    case shm::notify_kind::received_by_recipient: {
        auto const status = entry.kind == static_cast<std::uint8_t>(shm::notify_kind::delivered)
            ? ack_status::delivered
            : ack_status::received_by_recipient;
        reply_ack(std::string_view(entry.message_id, entry.message_id_len), status);
        sink_.touch();
        break;
    }
    }
}

} // namespace relay::worker
