#pragma once
// The effective configuration of one relay, shared by every process role.
// Parsed by supervisor/config_loader from the Rust relay's environment
// variables (docs/protocol.md#s12) and our command-line flags; children inherit it
// across fork().

#include <cstdint>
#include <string>

#include "common/ip_address.hpp"

namespace relay {

enum class storage_backend { file, memory };

struct listen_address {
    std::string host = "127.0.0.1"; ///< literal IPv4 or IPv6 address
    std::uint16_t port = 8080;
    bool operator==(listen_address const&) const = default;
};

struct config {
    listen_address listen;                      ///< RELAY_LISTEN_ADDR / --listen (D-12 default)
    listen_address metrics{"127.0.0.1", 8081};  ///< RELAY_METRICS_ADDR
    std::string metrics_token;                  ///< RELAY_METRICS_TOKEN
    bool tls_verified = false;                  ///< RELAY_TLS_VERIFIED
    std::uint64_t max_connections = 1000;       ///< RELAY_MAX_CONNECTIONS, whole relay (D-11)
    std::uint64_t max_connections_per_ip = 64;  ///< RELAY_MAX_CONNECTIONS_PER_IP, whole relay, 0 = unlimited (ours)
    bool per_ip_exempt_loopback = true;         ///< RELAY_PER_IP_EXEMPT_LOOPBACK: judged on the client address
    ip_block_list trusted_proxies;              ///< RELAY_TRUSTED_PROXIES: peers whose word on the client we take
    bool proxy_protocol = false;                ///< RELAY_PROXY_PROTOCOL: every connection starts with a PROXY header
    std::uint64_t max_message_size = 1048576;   ///< RELAY_MAX_MESSAGE_SIZE, frame bytes incl. prefix
    std::uint64_t blob_ttl_secs = 2592000;      ///< RELAY_BLOB_TTL_SECS (30 days)
    std::uint64_t rate_limit = 60;              ///< RELAY_RATE_LIMIT, messages/minute/routing id
    std::uint64_t recovery_rate_limit = 10;     ///< RELAY_RECOVERY_RATE_LIMIT
    std::uint64_t cleanup_interval_secs = 3600; ///< RELAY_CLEANUP_INTERVAL
    std::uint64_t idle_timeout_secs = 300;      ///< RELAY_IDLE_TIMEOUT
    std::uint64_t handshake_timeout_secs = 10;  ///< RELAY_HANDSHAKE_TIMEOUT (D-1)
    std::uint64_t heartbeat_timeout_secs = 10;  ///< RELAY_HEARTBEAT_TIMEOUT: a silent worker is killed
    std::uint64_t max_blobs_per_user = 1000;    ///< RELAY_MAX_BLOBS_PER_USER, 0 = unlimited
    std::uint64_t max_storage_per_user = 50000000;   ///< RELAY_MAX_STORAGE_PER_USER, 0 = unlimited
    std::uint64_t max_storage_bytes = 1073741824;    ///< RELAY_MAX_STORAGE_BYTES: store capacity
    storage_backend backend = storage_backend::file; ///< RELAY_STORAGE_BACKEND
    bool store_prefault = false;                     ///< RELAY_STORE_PREFAULT: fault the whole store in at start (ours)
    bool sync_commit = false;              ///< RELAY_SYNC_COMMIT: Stored only once on disk (ours, docs/store.md)
    std::uint64_t sync_interval_ms = 1000; ///< RELAY_SYNC_INTERVAL_MS: background flush period when off (ours)
    std::string data_dir = "./data";       ///< RELAY_DATA_DIR / --data-dir
    bool require_noise = false;            ///< RELAY_REQUIRE_NOISE_ENCRYPTION
    std::string noise_static_key;          ///< RELAY_NOISE_STATIC_KEY (base64url), empty = the key file
    unsigned workers = 0;                  ///< --workers, 0 = number of CPUs (resolved at load)
    unsigned shards = 32;                  ///< --shards; only used when the store is created
    std::string log_level = "info";        ///< RELAY_LOG_LEVEL / --log-level
    std::string shm_name;                  ///< POSIX shm object name for the memory backend
    bool check_store_only = false;         ///< --check-store: verify the store and exit
    std::string export_path;               ///< --export FILE: write every record to FILE and exit
    std::string import_path;               ///< --import FILE: load FILE into a new store and exit
};

} // namespace relay
