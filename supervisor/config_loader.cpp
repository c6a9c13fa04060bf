#include "supervisor/config_loader.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "shm/layout.hpp"
#include "shm/rate_limiter.hpp"

namespace po = boost::program_options;

namespace relay::supervisor {
namespace {

std::uint64_t parse_u64(std::string const& name, std::string const& text, std::uint64_t min, std::uint64_t max)
{
    std::uint64_t value = 0;
    auto const* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty() || value < min || value > max)
        throw config_error(name + "=\"" + text + "\" is invalid: expected a whole number from " + std::to_string(min) +
                           " to " + std::to_string(max));
    return value;
}

bool parse_bool(std::string const& name, std::string const& text)
{
    // docs/protocol.md#s12-1: true only for exactly "true" or "1". Anything else that is
    // not a clear "false" is a typo an operator wants to hear about.
    if (text == "true" || text == "1")
        return true;
    if (text == "false" || text == "0" || text.empty())
        return false;
    throw config_error(name + "=\"" + text + "\" is invalid: expected true, 1, false or 0");
}

/// Our on/off switches, in any letter case; anything else names the variable.
bool parse_on_off(std::string const& name, std::string const& text)
{
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower != "on" && lower != "off")
        throw config_error(name + " \"" + text + "\" is invalid: expected on or off");
    return lower == "on";
}

listen_address parse_address_or_throw(std::string const& name, std::string const& text)
{
    if (auto a = parse_address(text))
        return *a;
    throw config_error(name + "=\"" + text +
                       "\" is invalid: expected a literal ip:port such as 127.0.0.1:8080 or "
                       "[::1]:8080 (host names are not resolved)");
}

struct env_reader {
    env_lookup const& env;
    std::vector<std::string>& warnings;
    /// A whole number the Rust relay accepts (it reads these as u32, u64 or
    /// usize): anything outside this relay's range is clamped to it, with a
    /// warning naming the value used. Text that is not a whole number, or
    /// one beyond 2^64, still stops start-up.
    void u64(char const* name, std::uint64_t& field, std::uint64_t min, std::uint64_t max) const
    {
        auto v = env(name);
        if (!v)
            return;
        std::uint64_t const wanted = parse_u64(name, *v, 0, UINT64_MAX);
        field = std::clamp(wanted, min, max);
        if (field != wanted)
            warnings.push_back(std::string(name) + "=" + *v + " is outside what this relay supports (" +
                               std::to_string(min) + " to " + std::to_string(max) + "); using " +
                               std::to_string(field));
    }
};

} // namespace

env_lookup process_environment()
{
    return [](char const* name) -> std::optional<std::string> {
        if (char const* v = std::getenv(name))
            return std::string(v);
        return std::nullopt;
    };
}

std::optional<listen_address> parse_address(std::string const& text)
{
    auto const colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size())
        return std::nullopt;
    std::string host = text.substr(0, colon);
    bool const bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed)
        host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    auto const addr = boost::asio::ip::make_address(host, ec);
    // IPv6 needs brackets ("[::1]:8080"), IPv4 must not have them.
    if (ec || addr.is_v6() != bracketed)
        return std::nullopt;
    std::uint64_t port = 0;
    auto const* end = text.data() + text.size();
    auto [ptr, pec] = std::from_chars(text.data() + colon + 1, end, port);
    if (pec != std::errc{} || ptr != end || port > 65535)
        return std::nullopt;
    return listen_address{addr.to_string(), static_cast<std::uint16_t>(port)};
}

bool is_loopback(listen_address const& address)
{
    boost::system::error_code ec;
    auto const addr = boost::asio::ip::make_address(address.host, ec);
    return !ec && addr.is_loopback();
}

/// Every variable the relay reads (docs/protocol.md#s12-1 plus ours); federation ones
/// are accepted so that a Rust relay's file works unchanged.
bool known_setting(std::string const& key)
{
    static constexpr char const* names[] = {"RELAY_LISTEN_ADDR",
                                            "RELAY_METRICS_ADDR",
                                            "RELAY_METRICS_TOKEN",
                                            "RELAY_TLS_VERIFIED",
                                            "RELAY_MAX_CONNECTIONS",
                                            "RELAY_MAX_CONNECTIONS_PER_IP",
                                            "RELAY_PER_IP_EXEMPT_LOOPBACK",
                                            "RELAY_TRUSTED_PROXIES",
                                            "RELAY_PROXY_PROTOCOL",
                                            "RELAY_MAX_MESSAGE_SIZE",
                                            "RELAY_BLOB_TTL_SECS",
                                            "RELAY_RATE_LIMIT",
                                            "RELAY_RECOVERY_RATE_LIMIT",
                                            "RELAY_CLEANUP_INTERVAL",
                                            "RELAY_IDLE_TIMEOUT",
                                            "RELAY_HANDSHAKE_TIMEOUT",
                                            "RELAY_HEARTBEAT_TIMEOUT",
                                            "RELAY_MAX_BLOBS_PER_USER",
                                            "RELAY_MAX_STORAGE_PER_USER",
                                            "RELAY_MAX_STORAGE_BYTES",
                                            "RELAY_STORAGE_BACKEND",
                                            "RELAY_STORE_PREFAULT",
                                            "RELAY_SYNC_COMMIT",
                                            "RELAY_SYNC_INTERVAL_MS",
                                            "RELAY_DATA_DIR",
                                            "RELAY_REQUIRE_NOISE_ENCRYPTION",
                                            "RELAY_NOISE_STATIC_KEY",
                                            "RELAY_LOG_LEVEL",
                                            "RELAY_WORKERS",
                                            "RELAY_FEDERATION_ENABLED",
                                            "RELAY_FEDERATION_PEERS",
                                            "RELAY_FEDERATION_RELAY_ID",
                                            "RELAY_FEDERATION_OFFLOAD_THRESHOLD",
                                            "RELAY_FEDERATION_OFFLOAD_REFUSE",
                                            "RELAY_FEDERATION_DRAIN_TIMEOUT",
                                            "RELAY_FEDERATION_PEER_TIMEOUT",
                                            "RELAY_FEDERATION_CAPACITY_INTERVAL",
                                            "RELAY_FEDERATION_GOSSIP_ENABLED",
                                            "RELAY_FEDERATION_GOSSIP_INTERVAL",
                                            "RELAY_FEDERATION_PEER_TTL",
                                            "RELAY_FEDERATION_TLS_CERT",
                                            "RELAY_FEDERATION_TLS_KEY",
                                            "RELAY_FEDERATION_TLS_CA",
                                            "RELAY_FEDERATION_MTLS_ADDR"};
    return std::find(std::begin(names), std::end(names), key) != std::end(names);
}

std::map<std::string, std::string> read_config_file(std::string const& path)
{
    std::ifstream in(path);
    if (!in)
        throw config_error("--config " + path + ": cannot read the file (check the path and its permissions)");
    std::map<std::string, std::string> values;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        auto const first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#')
            continue;
        auto const eq = line.find('=');
        std::string key = line.substr(first, eq == std::string::npos ? std::string::npos : eq - first);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t'))
            key.pop_back();
        if (eq == std::string::npos || key.rfind("RELAY_", 0) != 0)
            throw config_error(path + " line " + std::to_string(number) +
                               ": expected RELAY_NAME=value (the format of deploy/vauchi-relay.env.example)");
        if (!known_setting(key))
            throw config_error(path + " line " + std::to_string(number) + ": unknown setting " + key +
                               " (a typo? the settings are listed in deploy/vauchi-relay.env.example)");
        std::string value = line.substr(eq + 1);
        value.erase(0, std::min(value.size(), value.find_first_not_of(" \t")));
        while (!value.empty() && (value.back() == '\r' || value.back() == ' ' || value.back() == '\t'))
            value.pop_back();
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        values[key] = value;
    }
    return values;
}

load_result load_config(int argc, char const* const* argv, env_lookup const& process_env)
{
    // Flags first: --help works whatever the environment holds, and a flag
    // overrides (and so excuses) its variable.
    po::options_description flags("vauchi-relay options (each overrides the environment variable in brackets)");
    std::string listen, data_dir, log_level, backend;
    unsigned workers = 0, shards = 0;
    flags.add_options()("help,h", "print this help and exit")("version", "print the version and exit")(
        "check-store", "verify the store in the data directory (safe while the relay runs) and exit")(
        "export", po::value<std::string>(),
        "write every record of the store to a new file and exit (safe while the relay runs)")(
        "import", po::value<std::string>(), "load an --export file into a new store in the data directory and exit")(
        "config,c", po::value<std::string>(),
        "RELAY_*=value file read at start and on SIGHUP; overrides the environment")(
        "workers,w", po::value(&workers), "worker processes, 1-64 [RELAY_WORKERS; default: CPU count]")(
        "listen,l", po::value(&listen), "client address ip:port [RELAY_LISTEN_ADDR; default 127.0.0.1:8080]")(
        "data-dir,d", po::value(&data_dir), "data directory holding the store [RELAY_DATA_DIR; default ./data]")(
        "storage", po::value(&backend), "file (persistent) or memory (volatile) [RELAY_STORAGE_BACKEND]")(
        "shards", po::value(&shards), "store shards when a new store is created, power of two 1-1024 (default 32)")(
        "log-level", po::value(&log_level), "debug, info, warn or error [RELAY_LOG_LEVEL; default info]");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(flags).run(), vm);
        po::notify(vm);
    } catch (po::error const& e) {
        throw config_error(std::string("command line: ") + e.what() + " (see --help)");
    }
    load_result result;
    if (vm.count("help")) {
        std::ostringstream out;
        out << "vauchi-relay " << VAUCHI_RELAY_VERSION
            << ": store-and-forward relay for Vauchi, wire-compatible with the Rust relay 1.1.0\n\n"
            << flags
            << "\nEvery RELAY_* environment variable of the Rust relay is read with the same default;\n"
               "see README.md.\n";
        result.print = out.str();
        return result;
    }
    if (vm.count("version")) {
        result.print = std::string("vauchi-relay ") + VAUCHI_RELAY_VERSION + "\n";
        return result;
    }

    // --config values override the process environment; SIGHUP re-reads them.
    std::map<std::string, std::string> file_values;
    if (vm.count("config"))
        file_values = read_config_file(vm["config"].as<std::string>());
    env_lookup const env = [&](char const* name) -> std::optional<std::string> {
        // Every variable read here must be one a --config file may set: a
        // name missing from known_setting() fails every configuration test.
        if (!known_setting(name))
            throw std::logic_error(std::string("config_loader reads ") + name +
                                   ", which known_setting() does not list");
        if (auto it = file_values.find(name); it != file_values.end())
            return it->second;
        return process_env(name);
    };

    config cfg;
    env_reader r{env, result.warnings};
    if (auto v = env("RELAY_LISTEN_ADDR"); v && !vm.count("listen"))
        cfg.listen = parse_address_or_throw("RELAY_LISTEN_ADDR", *v);
    if (auto v = env("RELAY_METRICS_ADDR"))
        cfg.metrics = parse_address_or_throw("RELAY_METRICS_ADDR", *v);
    if (auto v = env("RELAY_METRICS_TOKEN"))
        cfg.metrics_token = *v;
    if (auto v = env("RELAY_TLS_VERIFIED"))
        cfg.tls_verified = parse_bool("RELAY_TLS_VERIFIED", *v);
    if (auto v = env("RELAY_STORE_PREFAULT"))
        cfg.store_prefault = parse_bool("RELAY_STORE_PREFAULT", *v);
    if (auto v = env("RELAY_SYNC_COMMIT"))
        cfg.sync_commit = parse_on_off("RELAY_SYNC_COMMIT", *v);
    if (auto v = env("RELAY_PER_IP_EXEMPT_LOOPBACK"))
        cfg.per_ip_exempt_loopback = parse_bool("RELAY_PER_IP_EXEMPT_LOOPBACK", *v);
    if (auto v = env("RELAY_TRUSTED_PROXIES")) {
        std::string bad;
        auto list = ip_block_list::parse(*v, bad);
        if (!list)
            throw config_error("RELAY_TRUSTED_PROXIES entry \"" + bad +
                               "\" is invalid: expected an IPv4 or IPv6 address or CIDR block such as 127.0.0.1/32, "
                               "::1/128 or 10.0.0.0/8 (no host bits below the prefix, no names)");
        cfg.trusted_proxies = std::move(*list);
    }
    if (auto v = env("RELAY_PROXY_PROTOCOL"))
        cfg.proxy_protocol = parse_on_off("RELAY_PROXY_PROTOCOL", *v);
    constexpr std::uint64_t u32max = 0xffffffffu;
    r.u64("RELAY_MAX_CONNECTIONS", cfg.max_connections, 0, 1000000);
    r.u64("RELAY_MAX_CONNECTIONS_PER_IP", cfg.max_connections_per_ip, 0, 1000000);
    r.u64("RELAY_MAX_MESSAGE_SIZE", cfg.max_message_size, 64, 64u << 20);
    r.u64("RELAY_BLOB_TTL_SECS", cfg.blob_ttl_secs, 0, u32max * 100);
    r.u64("RELAY_RATE_LIMIT", cfg.rate_limit, 0, shm::rate_limiter::max_per_minute);
    r.u64("RELAY_RECOVERY_RATE_LIMIT", cfg.recovery_rate_limit, 0, shm::rate_limiter::max_per_minute);
    r.u64("RELAY_CLEANUP_INTERVAL", cfg.cleanup_interval_secs, 1, 86400 * 7);
    r.u64("RELAY_IDLE_TIMEOUT", cfg.idle_timeout_secs, 1, 86400);
    r.u64("RELAY_HANDSHAKE_TIMEOUT", cfg.handshake_timeout_secs, 1, 86400);
    r.u64("RELAY_HEARTBEAT_TIMEOUT", cfg.heartbeat_timeout_secs, 2, 3600);
    r.u64("RELAY_MAX_BLOBS_PER_USER", cfg.max_blobs_per_user, 0, u32max);
    r.u64("RELAY_MAX_STORAGE_PER_USER", cfg.max_storage_per_user, 0, std::uint64_t{1} << 40);
    r.u64("RELAY_MAX_STORAGE_BYTES", cfg.max_storage_bytes, 4u << 20, std::uint64_t{1} << 40);
    r.u64("RELAY_SYNC_INTERVAL_MS", cfg.sync_interval_ms, 10, 3600000);
    if (auto v = env("RELAY_STORAGE_BACKEND")) {
        std::string lower = *v;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        // docs/protocol.md#s12-1: "memory" selects volatile storage; any other value the
        // persistent default (the Rust relay's "sqlite" is our mapped file).
        cfg.backend = lower == "memory" ? storage_backend::memory : storage_backend::file;
    }
    if (auto v = env("RELAY_DATA_DIR"); v && !v->empty())
        cfg.data_dir = *v;
    // Read here, not by the key loader from the process environment, so that
    // the --config file can set it like every other variable.
    if (auto v = env("RELAY_NOISE_STATIC_KEY"))
        cfg.noise_static_key = *v;
    if (auto v = env("RELAY_REQUIRE_NOISE_ENCRYPTION"))
        cfg.require_noise = parse_bool("RELAY_REQUIRE_NOISE_ENCRYPTION", *v);
    if (auto v = env("RELAY_LOG_LEVEL"); v && !vm.count("log-level"))
        cfg.log_level = *v;
    if (auto v = env("RELAY_WORKERS"); v && !vm.count("workers"))
        cfg.workers = static_cast<unsigned>(parse_u64("RELAY_WORKERS", *v, 1, shm::max_worker_slots));

    if (vm.count("workers")) {
        if (workers < 1 || workers > shm::max_worker_slots)
            throw config_error("--workers " + std::to_string(workers) + " is invalid: expected 1 to " +
                               std::to_string(shm::max_worker_slots));
        cfg.workers = workers;
    }
    if (vm.count("listen"))
        cfg.listen = parse_address_or_throw("--listen", listen);
    if (vm.count("data-dir"))
        cfg.data_dir = data_dir;
    if (vm.count("storage")) {
        if (backend != "file" && backend != "memory")
            throw config_error("--storage " + backend + " is invalid: expected file or memory");
        cfg.backend = backend == "memory" ? storage_backend::memory : storage_backend::file;
    }
    if (vm.count("shards")) {
        if (shards < 1 || shards > 1024 || (shards & (shards - 1)) != 0)
            throw config_error("--shards " + std::to_string(shards) +
                               " is invalid: expected a power of two from 1 to 1024");
        cfg.shards = shards;
    }
    if (vm.count("log-level"))
        cfg.log_level = log_level;
    cfg.check_store_only = vm.count("check-store") > 0;
    if (vm.count("export"))
        cfg.export_path = vm["export"].as<std::string>();
    if (vm.count("import"))
        cfg.import_path = vm["import"].as<std::string>();
    if (cfg.log_level != "debug" && cfg.log_level != "info" && cfg.log_level != "warn" && cfg.log_level != "error")
        throw config_error(std::string(vm.count("log-level") ? "--log-level" : "RELAY_LOG_LEVEL") + " \"" +
                           cfg.log_level + "\" is invalid: expected debug, info, warn or error");

    if (cfg.workers == 0) {
        unsigned const cpus = std::max(1u, std::thread::hardware_concurrency());
        cfg.workers = std::min(cpus, shm::max_worker_slots);
    }
    // D-1: the handshake deadline never exceeds the idle timeout.
    cfg.handshake_timeout_secs = std::min(cfg.handshake_timeout_secs, cfg.idle_timeout_secs);
    if (cfg.max_storage_bytes < std::uint64_t{cfg.shards} * 2 * shm::page_size)
        throw config_error("RELAY_MAX_STORAGE_BYTES=" + std::to_string(cfg.max_storage_bytes) + " is too small for " +
                           std::to_string(cfg.shards) + " shards: expected at least " +
                           std::to_string(std::uint64_t{cfg.shards} * 2 * shm::page_size));
    if (cfg.sync_commit && cfg.backend == storage_backend::memory)
        throw config_error("RELAY_SYNC_COMMIT=on needs a store on disk, and RELAY_STORAGE_BACKEND=memory keeps it in "
                           "memory: set RELAY_SYNC_COMMIT=off or use the file backend");
    // docs/protocol.md#s12-3: a non-loopback listener needs TLS terminated in front.
    if (!is_loopback(cfg.listen) && !cfg.tls_verified)
        throw config_error("RELAY_LISTEN_ADDR " + cfg.listen.host + ":" + std::to_string(cfg.listen.port) +
                           " is not a loopback address and RELAY_TLS_VERIFIED is not set: terminate TLS in a reverse "
                           "proxy in front of the relay and set RELAY_TLS_VERIFIED=true, or listen on 127.0.0.1");
    // docs/proxies.md: in PROXY mode only trusted peers may connect at all.
    if (cfg.proxy_protocol && cfg.trusted_proxies.empty())
        throw config_error("RELAY_PROXY_PROTOCOL=on but RELAY_TRUSTED_PROXIES is empty: list the addresses of the "
                           "proxies that send the PROXY header (e.g. 127.0.0.1/32), or set RELAY_PROXY_PROTOCOL=off");
    cfg.shm_name = "/vauchi-relay-" + std::to_string(cfg.listen.port ? cfg.listen.port : ::getpid());
    result.cfg = cfg;
    return result;
}

std::string describe(config const& c)
{
    std::ostringstream o;
    auto addr = [](listen_address const& a) {
        return (a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
    };
    o << "listen=" << addr(c.listen) << " workers=" << c.workers
      << " storage=" << (c.backend == storage_backend::file ? "file" : "memory") << " data_dir=" << c.data_dir
      << " max_storage_bytes=" << c.max_storage_bytes << " shards(new store)=" << c.shards
      << " store_prefault=" << (c.store_prefault ? "true" : "false")
      << " sync_commit=" << (c.sync_commit ? "on" : "off") << " sync_interval_ms=" << c.sync_interval_ms
      << " max_connections=" << c.max_connections << " max_connections_per_ip=" << c.max_connections_per_ip
      << (c.per_ip_exempt_loopback ? " (loopback exempt)" : " (loopback included)")
      << " max_message_size=" << c.max_message_size << " blob_ttl_secs=" << c.blob_ttl_secs
      << " rate_limit=" << c.rate_limit << " recovery_rate_limit=" << c.recovery_rate_limit
      << " cleanup_interval=" << c.cleanup_interval_secs << " idle_timeout=" << c.idle_timeout_secs
      << " handshake_timeout=" << c.handshake_timeout_secs << " heartbeat_timeout=" << c.heartbeat_timeout_secs
      << " max_blobs_per_user=" << c.max_blobs_per_user << " max_storage_per_user=" << c.max_storage_per_user
      << " metrics=" << addr(c.metrics) << " metrics_token=" << (c.metrics_token.empty() ? "unset" : "set")
      << " tls_verified=" << (c.tls_verified ? "true" : "false")
      << " trusted_proxies=" << (c.trusted_proxies.empty() ? "none" : c.trusted_proxies.to_string())
      << " client_address_from="
      << (c.proxy_protocol                ? "proxy-protocol"
              : c.trusted_proxies.empty() ? "peer"
                                          : "x-forwarded-for")
      << " require_noise=" << (c.require_noise ? "true" : "false")
      << " noise_static_key=" << (c.noise_static_key.empty() ? "unset" : "set") << " log_level=" << c.log_level;
    return o.str();
}

} // namespace relay::supervisor
