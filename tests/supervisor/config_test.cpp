#include "supervisor/config_loader.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/config.hpp"

namespace {

using relay::config;
using relay::listen_address;
using relay::storage_backend;
using relay::supervisor::config_error;
using relay::supervisor::describe;
using relay::supervisor::load_config;
using relay::supervisor::load_result;
using relay::supervisor::parse_address;

using env_map = std::map<std::string, std::string>;

relay::supervisor::env_lookup lookup_in(env_map const& env)
{
    return [&env](char const* name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end())
            return std::nullopt;
        return it->second;
    };
}

/// load_config with `flags` after the program name and `env` as the environment.
load_result load(env_map const& env, std::vector<std::string> const& flags = {})
{
    std::vector<char const*> argv{"vauchi-relay"};
    for (auto const& f : flags)
        argv.push_back(f.c_str());
    return load_config(static_cast<int>(argv.size()), argv.data(), lookup_in(env));
}

/// The configuration, requiring that one was produced.
config cfg_of(env_map const& env, std::vector<std::string> const& flags = {})
{
    auto r = load(env, flags);
    BOOST_TEST_REQUIRE(r.cfg.has_value());
    BOOST_TEST(r.print.empty());
    return *r.cfg;
}

/// The config_error message, or "no error".
std::string error_of(env_map const& env, std::vector<std::string> const& flags = {})
{
    try {
        load(env, flags);
    } catch (config_error const& e) {
        return e.what();
    }
    return "no error";
}

bool contains(std::string const& text, std::string const& part) { return text.find(part) != std::string::npos; }

} // namespace

BOOST_AUTO_TEST_SUITE(config_loader)

// ===================== defaults =====================

BOOST_AUTO_TEST_CASE(defaults_equal_the_rust_relay_except_the_loopback_listen_address)
{
    auto const c = cfg_of({});
    BOOST_TEST(c.listen.host == "127.0.0.1"); // D-12 (Rust: 0.0.0.0)
    BOOST_TEST(c.listen.port == 8080u);
    BOOST_TEST(c.metrics.host == "127.0.0.1");
    BOOST_TEST(c.metrics.port == 8081u);
    BOOST_TEST(c.metrics_token.empty());
    BOOST_TEST(!c.tls_verified);
    BOOST_TEST(c.max_connections == 1000u);
    BOOST_TEST(c.max_message_size == 1048576u);
    BOOST_TEST(c.blob_ttl_secs == 2592000u);
    BOOST_TEST(c.rate_limit == 60u);
    BOOST_TEST(c.recovery_rate_limit == 10u);
    BOOST_TEST(c.cleanup_interval_secs == 3600u);
    BOOST_TEST(c.idle_timeout_secs == 300u);
    BOOST_TEST(c.max_blobs_per_user == 1000u);
    BOOST_TEST(c.max_storage_per_user == 50000000u);
    BOOST_TEST(c.max_storage_bytes == 1073741824u);
    BOOST_TEST((c.backend == storage_backend::file));
    BOOST_TEST(c.data_dir == "./data");
    BOOST_TEST(!c.require_noise);
}

BOOST_AUTO_TEST_CASE(defaults_of_our_own_settings)
{
    auto const c = cfg_of({});
    BOOST_TEST(c.handshake_timeout_secs == 10u);
    BOOST_TEST(c.shards == 32u);
    BOOST_TEST(c.log_level == "info");
    unsigned const cpus = std::max(1u, std::thread::hardware_concurrency());
    BOOST_TEST(c.workers == std::min(cpus, 64u));
    BOOST_TEST(c.shm_name == "/vauchi-relay-8080");
}

// ===================== environment variables =====================

BOOST_AUTO_TEST_CASE(every_numeric_variable_is_parsed)
{
    env_map const env{
        {"RELAY_MAX_CONNECTIONS", "7"},         {"RELAY_MAX_MESSAGE_SIZE", "65536"},
        {"RELAY_BLOB_TTL_SECS", "0"},           {"RELAY_RATE_LIMIT", "120"},
        {"RELAY_RECOVERY_RATE_LIMIT", "3"},     {"RELAY_CLEANUP_INTERVAL", "60"},
        {"RELAY_IDLE_TIMEOUT", "90"},           {"RELAY_HANDSHAKE_TIMEOUT", "5"},
        {"RELAY_MAX_BLOBS_PER_USER", "0"},      {"RELAY_MAX_STORAGE_PER_USER", "200"},
        {"RELAY_MAX_STORAGE_BYTES", "8388608"}, {"RELAY_WORKERS", "3"},
    };
    auto const c = cfg_of(env);
    BOOST_TEST(c.max_connections == 7u);
    BOOST_TEST(c.max_message_size == 65536u);
    BOOST_TEST(c.blob_ttl_secs == 0u);
    BOOST_TEST(c.rate_limit == 120u);
    BOOST_TEST(c.recovery_rate_limit == 3u);
    BOOST_TEST(c.cleanup_interval_secs == 60u);
    BOOST_TEST(c.idle_timeout_secs == 90u);
    BOOST_TEST(c.handshake_timeout_secs == 5u);
    BOOST_TEST(c.max_blobs_per_user == 0u);
    BOOST_TEST(c.max_storage_per_user == 200u);
    BOOST_TEST(c.max_storage_bytes == 8388608u);
    BOOST_TEST(c.workers == 3u);
}

BOOST_AUTO_TEST_CASE(string_and_address_variables_are_read)
{
    env_map const env{
        {"RELAY_METRICS_ADDR", "127.0.0.1:9100"}, {"RELAY_METRICS_TOKEN", "s3cret"},
        {"RELAY_DATA_DIR", "/var/lib/vauchi"},    {"RELAY_LOG_LEVEL", "debug"},
        {"RELAY_LISTEN_ADDR", "127.0.0.1:0"},
    };
    auto const c = cfg_of(env);
    BOOST_TEST(c.metrics.port == 9100u);
    BOOST_TEST(c.metrics_token == "s3cret");
    BOOST_TEST(c.data_dir == "/var/lib/vauchi");
    BOOST_TEST(c.log_level == "debug");
    BOOST_TEST(c.listen.port == 0u);
}

BOOST_AUTO_TEST_CASE(empty_data_dir_keeps_the_default)
{
    BOOST_TEST(cfg_of({{"RELAY_DATA_DIR", ""}}).data_dir == "./data");
}

BOOST_AUTO_TEST_CASE(invalid_numeric_values_throw_an_error_naming_the_variable)
{
    std::vector<std::pair<std::string, std::string>> const cases{
        {"RELAY_RATE_LIMIT", "lots"},
        {"RELAY_MAX_CONNECTIONS", "-1"},
        {"RELAY_MAX_CONNECTIONS", ""},
        {"RELAY_MAX_MESSAGE_SIZE", "12abc"},
        {"RELAY_MAX_MESSAGE_SIZE", " 100"},
        {"RELAY_MAX_MESSAGE_SIZE", "1.5"},
        {"RELAY_BLOB_TTL_SECS", "99999999999999999999999"},
        {"RELAY_HANDSHAKE_TIMEOUT", "soon"},
        {"RELAY_RECOVERY_RATE_LIMIT", "+3"},
        {"RELAY_MAX_BLOBS_PER_USER", "1e3"},
        {"RELAY_MAX_STORAGE_PER_USER", "0x10"},
        {"RELAY_WORKERS", "0"},
        {"RELAY_WORKERS", "65"},
    };
    for (auto const& [name, value] : cases) {
        BOOST_TEST_CONTEXT(name << "=\"" << value << "\"")
        {
            auto const message = error_of({{name, value}});
            BOOST_TEST(contains(message, name), message);
        }
    }
}

BOOST_AUTO_TEST_CASE(values_the_rust_relay_accepts_are_clamped_with_a_warning_not_refused)
{
    // The Rust relay reads RELAY_RATE_LIMIT as a u32, so 100000000 starts it.
    struct clamp_case {
        char const* name;
        char const* value;
        std::uint64_t config::*field;
        std::uint64_t used;
    };
    clamp_case const cases[] = {
        {"RELAY_RATE_LIMIT", "100000000", &config::rate_limit, 16777215},
        {"RELAY_RECOVERY_RATE_LIMIT", "4294967295", &config::recovery_rate_limit, 16777215},
        {"RELAY_MAX_CONNECTIONS", "4000000000", &config::max_connections, 1000000},
        {"RELAY_MAX_MESSAGE_SIZE", "10", &config::max_message_size, 64},
        {"RELAY_IDLE_TIMEOUT", "0", &config::idle_timeout_secs, 1},
        {"RELAY_CLEANUP_INTERVAL", "0", &config::cleanup_interval_secs, 1},
        {"RELAY_MAX_STORAGE_BYTES", "1024", &config::max_storage_bytes, 4u << 20},
        {"RELAY_BLOB_TTL_SECS", "18446744073709551615", &config::blob_ttl_secs, 429496729500},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.name << "=" << c.value)
        {
            auto const r = load({{c.name, c.value}});
            BOOST_TEST_REQUIRE(r.cfg.has_value());
            std::uint64_t const used = (*r.cfg).*c.field;
            BOOST_TEST(used == c.used);
            BOOST_TEST_REQUIRE(r.warnings.size() == 1u);
            BOOST_TEST(contains(r.warnings[0], c.name));
            BOOST_TEST(contains(r.warnings[0], "using " + std::to_string(c.used)));
        }
    }
    BOOST_TEST(load({{"RELAY_RATE_LIMIT", "60"}}).warnings.empty());
}

BOOST_AUTO_TEST_CASE(invalid_addresses_throw_an_error_naming_the_variable)
{
    for (std::string const name : {"RELAY_LISTEN_ADDR", "RELAY_METRICS_ADDR"}) {
        for (std::string const value : {"localhost:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", ":8080", ""}) {
            BOOST_TEST_CONTEXT(name << "=\"" << value << "\"")
            {
                auto const message = error_of({{name, value}, {"RELAY_TLS_VERIFIED", "true"}});
                BOOST_TEST(contains(message, name), message);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(booleans_accept_true_1_false_0_and_reject_anything_else)
{
    for (std::string const name : {"RELAY_TLS_VERIFIED", "RELAY_REQUIRE_NOISE_ENCRYPTION"}) {
        BOOST_TEST_CONTEXT(name)
        {
            auto field = [&](config const& c) {
                return name == "RELAY_TLS_VERIFIED" ? c.tls_verified : c.require_noise;
            };
            BOOST_TEST(field(cfg_of({{name, "true"}})));
            BOOST_TEST(field(cfg_of({{name, "1"}})));
            BOOST_TEST(!field(cfg_of({{name, "false"}})));
            BOOST_TEST(!field(cfg_of({{name, "0"}})));
            auto const message = error_of({{name, "yes"}});
            BOOST_TEST(contains(message, name), message);
        }
    }
}

BOOST_AUTO_TEST_CASE(storage_backend_memory_is_case_insensitive_and_anything_else_is_the_file)
{
    BOOST_TEST((cfg_of({{"RELAY_STORAGE_BACKEND", "MEMORY"}}).backend == storage_backend::memory));
    BOOST_TEST((cfg_of({{"RELAY_STORAGE_BACKEND", "memory"}}).backend == storage_backend::memory));
    BOOST_TEST((cfg_of({{"RELAY_STORAGE_BACKEND", "sqlite"}}).backend == storage_backend::file));
    BOOST_TEST((cfg_of({{"RELAY_STORAGE_BACKEND", "whatever"}}).backend == storage_backend::file));
}

// ===================== flags =====================

BOOST_AUTO_TEST_CASE(flags_override_the_environment)
{
    env_map const env{
        {"RELAY_WORKERS", "2"},          {"RELAY_LISTEN_ADDR", "127.0.0.1:9000"},
        {"RELAY_DATA_DIR", "/from/env"}, {"RELAY_STORAGE_BACKEND", "memory"},
        {"RELAY_LOG_LEVEL", "error"},
    };
    auto const c = cfg_of(env,
                          {"--workers", "5", "--listen", "[::1]:7000", "--data-dir", "/from/flag", "--storage", "file",
                           "--shards", "64", "--log-level", "warn"});
    BOOST_TEST(c.workers == 5u);
    BOOST_TEST(c.listen.host == "::1");
    BOOST_TEST(c.listen.port == 7000u);
    BOOST_TEST(c.data_dir == "/from/flag");
    BOOST_TEST((c.backend == storage_backend::file));
    BOOST_TEST(c.shards == 64u);
    BOOST_TEST(c.log_level == "warn");
}

BOOST_AUTO_TEST_CASE(short_flags_and_equals_syntax_are_accepted)
{
    auto const c = cfg_of({}, {"-w", "4", "--storage=memory", "-d", "/tmp/x"});
    BOOST_TEST(c.workers == 4u);
    BOOST_TEST((c.backend == storage_backend::memory));
    BOOST_TEST(c.data_dir == "/tmp/x");
}

BOOST_AUTO_TEST_CASE(invalid_flags_throw_an_error_naming_the_flag)
{
    std::vector<std::vector<std::string>> const cases{
        {"--workers", "0"},
        {"--workers", "65"},
        {"--shards", "3"},
        {"--shards", "0"},
        {"--shards", "2048"},
        {"--storage", "sqlite"},
        {"--listen", "localhost:80"},
    };
    for (auto const& flags : cases) {
        BOOST_TEST_CONTEXT(flags[0] << " " << flags[1])
        {
            auto const message = error_of({}, flags);
            BOOST_TEST(contains(message, flags[0]), message);
        }
    }
}

BOOST_AUTO_TEST_CASE(malformed_command_lines_throw_config_error)
{
    for (std::vector<std::string> const& flags :
         std::vector<std::vector<std::string>>{{"--bogus"}, {"--workers"}, {"--workers", "many"}, {"--shards", "-1"}}) {
        BOOST_TEST_CONTEXT(flags[0]) { BOOST_CHECK_THROW(load({}, flags), config_error); }
    }
}

BOOST_AUTO_TEST_CASE(invalid_log_level_throws_naming_the_variable_or_flag)
{
    BOOST_TEST(contains(error_of({}, {"--log-level", "verbose"}), "--log-level"));
    BOOST_TEST(contains(error_of({{"RELAY_LOG_LEVEL", "trace"}}), "RELAY_LOG_LEVEL"));
}

BOOST_AUTO_TEST_CASE(config_file_overrides_the_environment_and_rejects_unknown_settings)
{
    std::string const path = "/tmp/vauchi-config-test-" + std::to_string(::getpid()) + ".env";
    {
        std::ofstream out(path);
        out << "# comment\n\nRELAY_RATE_LIMIT=7\n  RELAY_DATA_DIR = \"/srv/relay\"\nRELAY_WORKERS=3\r\n";
    }
    auto const cfg = cfg_of({{"RELAY_RATE_LIMIT", "9"}, {"RELAY_IDLE_TIMEOUT", "20"}}, {"--config", path});
    BOOST_TEST(cfg.rate_limit == 7u);         // the file wins over the environment
    BOOST_TEST(cfg.idle_timeout_secs == 20u); // the environment still counts
    BOOST_TEST(cfg.data_dir == "/srv/relay");
    BOOST_TEST(cfg.workers == 3u);
    BOOST_TEST(cfg_of({}, {"--config", path, "--workers", "1"}).workers == 1u); // flags win over both
    {
        // The durability settings (docs/store.md) are settings like the others.
        std::ofstream out(path);
        out << "RELAY_SYNC_COMMIT=on\nRELAY_SYNC_INTERVAL_MS=250\nRELAY_STORE_PREFAULT=false\n";
    }
    auto const durable = cfg_of({}, {"--config", path});
    BOOST_TEST(durable.sync_commit);
    BOOST_TEST(durable.sync_interval_ms == 250u);
    BOOST_TEST(!durable.store_prefault);
    {
        std::ofstream out(path);
        out << "RELAY_RATE_LIMT=7\n";
    }
    BOOST_TEST(contains(error_of({}, {"--config", path}), "unknown setting RELAY_RATE_LIMT"));
    {
        std::ofstream out(path);
        out << "rate_limit 7\n";
    }
    BOOST_TEST(contains(error_of({}, {"--config", path}), "line 1"));
    std::remove(path.c_str());
    BOOST_TEST(contains(error_of({}, {"--config", path}), "cannot read"));
}

BOOST_AUTO_TEST_CASE(help_works_whatever_the_environment_holds)
{
    auto const r = load({{"RELAY_RATE_LIMIT", "lots"}}, {"--help"});
    BOOST_TEST(!r.cfg.has_value());
    BOOST_TEST(!r.print.empty());
}

BOOST_AUTO_TEST_CASE(a_flag_excuses_an_invalid_variable_it_overrides)
{
    BOOST_TEST(cfg_of({{"RELAY_WORKERS", "0"}}, {"--workers", "2"}).workers == 2u);
    BOOST_TEST(cfg_of({{"RELAY_LISTEN_ADDR", "nowhere"}}, {"--listen", "127.0.0.1:9"}).listen.port == 9);
}

BOOST_AUTO_TEST_CASE(help_returns_text_to_print_and_no_configuration)
{
    for (std::string const flag : {"--help", "-h"}) {
        BOOST_TEST_CONTEXT(flag)
        {
            auto const r = load({}, {flag});
            BOOST_TEST(!r.cfg.has_value());
            BOOST_TEST(contains(r.print, "--workers"));
            BOOST_TEST(contains(r.print, "--listen"));
        }
    }
}

BOOST_AUTO_TEST_CASE(help_wins_over_invalid_settings_given_after_it)
{
    auto const r = load({}, {"--help", "--workers", "99"});
    BOOST_TEST(!r.cfg.has_value());
    BOOST_TEST(!r.print.empty());
}

BOOST_AUTO_TEST_CASE(version_returns_text_to_print_and_no_configuration)
{
    auto const r = load({}, {"--version"});
    BOOST_TEST(!r.cfg.has_value());
    BOOST_TEST(contains(r.print, "vauchi-relay"));
}

// ===================== cross-setting rules =====================

BOOST_AUTO_TEST_CASE(non_loopback_listen_address_needs_tls_verified)
{
    for (std::string const addr : {"0.0.0.0:8080", "192.0.2.1:443", "[::]:8080", "[2001:db8::1]:80"}) {
        BOOST_TEST_CONTEXT(addr)
        {
            auto const message = error_of({{"RELAY_LISTEN_ADDR", addr}});
            BOOST_TEST(contains(message, "RELAY_TLS_VERIFIED"), message);
            BOOST_TEST(cfg_of({{"RELAY_LISTEN_ADDR", addr}, {"RELAY_TLS_VERIFIED", "true"}}).listen.port != 0u);
            BOOST_CHECK_THROW(load({}, {"--listen", addr}), config_error);
            BOOST_CHECK_NO_THROW(load({{"RELAY_TLS_VERIFIED", "1"}}, {"--listen", addr}));
        }
    }
}

BOOST_AUTO_TEST_CASE(loopback_addresses_need_no_tls_verified)
{
    for (std::string const addr : {"127.0.0.1:8080", "127.1.2.3:8080", "[::1]:8080"})
        BOOST_TEST_CONTEXT(addr) { BOOST_CHECK_NO_THROW(load({{"RELAY_LISTEN_ADDR", addr}})); }
}

BOOST_AUTO_TEST_CASE(handshake_timeout_is_clamped_to_the_idle_timeout)
{
    BOOST_TEST(cfg_of({{"RELAY_IDLE_TIMEOUT", "4"}}).handshake_timeout_secs == 4u);
    BOOST_TEST(cfg_of({{"RELAY_IDLE_TIMEOUT", "4"}, {"RELAY_HANDSHAKE_TIMEOUT", "30"}}).handshake_timeout_secs == 4u);
    BOOST_TEST(cfg_of({{"RELAY_IDLE_TIMEOUT", "40"}, {"RELAY_HANDSHAKE_TIMEOUT", "30"}}).handshake_timeout_secs == 30u);
}

BOOST_AUTO_TEST_CASE(store_capacity_must_hold_two_pages_per_shard)
{
    // 64 shards × 2 pages × 64 KiB = 8 MiB.
    BOOST_CHECK_NO_THROW(load({{"RELAY_MAX_STORAGE_BYTES", "8388608"}}, {"--shards", "64"}));
    auto const message = error_of({{"RELAY_MAX_STORAGE_BYTES", "8388607"}}, {"--shards", "64"});
    BOOST_TEST(contains(message, "RELAY_MAX_STORAGE_BYTES"), message);
}

// ===================== parse_address =====================

BOOST_AUTO_TEST_CASE(parse_address_reads_ipv4_and_bracketed_ipv6)
{
    auto const v4 = parse_address("192.0.2.7:8080");
    BOOST_TEST_REQUIRE(v4.has_value());
    BOOST_TEST(v4->host == "192.0.2.7");
    BOOST_TEST(v4->port == 8080u);
    auto const v6 = parse_address("[::1]:8080");
    BOOST_TEST_REQUIRE(v6.has_value());
    BOOST_TEST(v6->host == "::1");
    BOOST_TEST(v6->port == 8080u);
    auto const zero = parse_address("127.0.0.1:0");
    BOOST_TEST_REQUIRE(zero.has_value());
    BOOST_TEST(zero->port == 0u);
    auto const top = parse_address("127.0.0.1:65535");
    BOOST_TEST_REQUIRE(top.has_value());
    BOOST_TEST(top->port == 65535u);
}

BOOST_AUTO_TEST_CASE(parse_address_rejects_missing_or_out_of_range_ports_and_host_names)
{
    for (std::string const text : {"127.0.0.1", "127.0.0.1:", "[::1]", "[::1]:", "127.0.0.1:70000", "127.0.0.1:65536",
                                   "127.0.0.1:-1", "127.0.0.1:80x", "localhost:80", "example.org:443", ":80", "",
                                   "256.0.0.1:80", "::1:8080", "[127.0.0.1]:80"}) {
        BOOST_TEST_CONTEXT("\"" << text << "\"") { BOOST_TEST(!parse_address(text).has_value()); }
    }
}

BOOST_AUTO_TEST_CASE(is_loopback_covers_127_slash_8_and_ipv6_loopback)
{
    using relay::supervisor::is_loopback;
    BOOST_TEST(is_loopback(listen_address{"127.0.0.1", 1}));
    BOOST_TEST(is_loopback(listen_address{"127.255.0.9", 1}));
    BOOST_TEST(is_loopback(listen_address{"::1", 1}));
    BOOST_TEST(!is_loopback(listen_address{"0.0.0.0", 1}));
    BOOST_TEST(!is_loopback(listen_address{"10.0.0.1", 1}));
    BOOST_TEST(!is_loopback(listen_address{"localhost", 1}));
}

// ===================== describe =====================

BOOST_AUTO_TEST_CASE(describe_masks_the_metrics_token)
{
    auto const c = cfg_of({{"RELAY_METRICS_TOKEN", "hunter2-very-secret"}});
    auto const text = describe(c);
    BOOST_TEST(!contains(text, "hunter2"), text);
    BOOST_TEST(contains(text, "metrics_token=set"), text);
    BOOST_TEST(contains(describe(cfg_of({})), "metrics_token=unset"));
}

BOOST_AUTO_TEST_CASE(describe_lists_the_effective_settings)
{
    auto const text = describe(cfg_of({{"RELAY_RATE_LIMIT", "77"}}, {"--listen", "[::1]:9001", "--storage", "memory"}));
    BOOST_TEST(contains(text, "listen=[::1]:9001"), text);
    BOOST_TEST(contains(text, "storage=memory"), text);
    BOOST_TEST(contains(text, "rate_limit=77"), text);
}

BOOST_AUTO_TEST_SUITE_END()
