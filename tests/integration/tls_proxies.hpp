#pragma once
// Real TLS proxies in front of the relay under test, for tls_proxy_test.cpp:
// a throwaway CA and server certificate made with the openssl command, and
// nginx or HAProxy started as the test's own process on a free loopback port,
// with the configuration of deploy/nginx/ or deploy/haproxy/ (only ports,
// certificate paths and timeouts replaced). Never the system's services.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace relay::testing {

/// A CA, and a certificate for 127.0.0.1 and localhost signed by it, in a
/// temporary directory removed at destruction.
class tls_material {
public:
    tls_material();
    ~tls_material();
    tls_material(tls_material const&) = delete;
    tls_material& operator=(tls_material const&) = delete;

    std::string const& dir() const { return dir_; }
    std::string ca_file() const { return dir_ + "/ca.pem"; }
    std::string cert_file() const { return dir_ + "/server.pem"; }
    std::string key_file() const { return dir_ + "/server.key"; }
    /// Chain and key in one file, as HAProxy's `crt` wants it.
    std::string combined_file() const { return dir_ + "/server-combined.pem"; }

private:
    std::string dir_;
};

enum class proxy_kind { nginx, haproxy };

struct proxy_options {
    proxy_kind kind = proxy_kind::nginx;
    std::uint16_t relay_port = 0;
    std::uint16_t relay_metrics_port = 0;
    /// The proxy's client and server idle timeouts, in place of the example's 360 s.
    std::chrono::seconds idle_timeout{360};
};

class proxy_process {
public:
    proxy_process(tls_material const& tls, proxy_options const& options);
    ~proxy_process();
    proxy_process(proxy_process const&) = delete;
    proxy_process& operator=(proxy_process const&) = delete;

    /// The TLS port clients connect to.
    std::uint16_t port() const { return port_; }
    /// The proxy's own log (nginx's error log, HAProxy's output).
    std::string log() const;
    /// The version line the binary prints.
    static std::string version(proxy_kind kind);

private:
    std::string dir_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

/// The text of a file in deploy/.
std::string deploy_file(std::string const& relative);

} // namespace relay::testing
