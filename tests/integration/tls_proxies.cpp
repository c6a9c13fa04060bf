#include "tls_proxies.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace relay::testing {

namespace {

std::string make_temp_dir(char const* prefix)
{
    std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw std::runtime_error("mkdtemp failed");
    // nginx's worker processes run as nobody when the test runs as root.
    ::chmod(tmpl.c_str(), 0755);
    return tmpl;
}

void run(std::string const& command)
{
    int const status = std::system(command.c_str());
    if (status != 0)
        throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command);
}

std::string read_file(std::string const& path)
{
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(std::string const& path, std::string const& text)
{
    std::ofstream out(path);
    out << text;
}

/// Replaces `from` (which must occur) with `to` everywhere in `text`, so that
/// a change to the deploy example that the test does not know fails loudly.
void substitute(std::string& text, std::string const& from, std::string const& to)
{
    auto at = text.find(from);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "deploy example lacks \"" << from << "\"");
    while (at != std::string::npos) {
        text.replace(at, from.size(), to);
        at = text.find(from, at + to.size());
    }
}

/// A loopback port nothing listens on now (the proxy binds it right after).
std::uint16_t free_port()
{
    int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool accepts(std::uint16_t port)
{
    int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool const ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

std::string nginx_config(std::string const& dir, tls_material const& tls, proxy_options const& o, std::uint16_t port)
{
    std::string site = deploy_file("nginx/vauchi-relay.conf");
    substitute(site, "server 127.0.0.1:8080;", "server 127.0.0.1:" + std::to_string(o.relay_port) + ";");
    substitute(site, "listen 443 ssl;", "listen 127.0.0.1:" + std::to_string(port) + " ssl;");
    substitute(site, "listen [::]:443 ssl;", "");
    substitute(site, "/etc/ssl/vauchi-relay/fullchain.pem", tls.cert_file());
    substitute(site, "/etc/ssl/vauchi-relay/privkey.pem", tls.key_file());
    std::string const timeout = std::to_string(o.idle_timeout.count()) + "s;";
    substitute(site, "proxy_read_timeout 360s;", "proxy_read_timeout " + timeout);
    substitute(site, "proxy_send_timeout 360s;", "proxy_send_timeout " + timeout);
    write_file(dir + "/site.conf", site);
    // The minimal main configuration around the site: everything nginx
    // writes stays in `dir`.
    return "worker_processes 1;\n"
           "pid " +
        dir + "/nginx.pid;\n" + "error_log " + dir + "/error.log info;\n" +
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  access_log off;\n"
        "  client_body_temp_path " +
        dir + "/body;\n  proxy_temp_path " + dir + "/proxy;\n  fastcgi_temp_path " + dir +
        "/fastcgi;\n  uwsgi_temp_path " + dir + "/uwsgi;\n  scgi_temp_path " + dir + "/scgi;\n  include " + dir +
        "/site.conf;\n}\n";
}

std::string haproxy_config(tls_material const& tls, proxy_options const& o, std::uint16_t port)
{
    std::string cfg = deploy_file("haproxy/haproxy.cfg");
    substitute(cfg, "bind :443 ssl crt /etc/haproxy/certs/vauchi-relay.pem",
               "bind 127.0.0.1:" + std::to_string(port) + " ssl crt " + tls.combined_file());
    substitute(cfg, "server relay1 127.0.0.1:8080 send-proxy-v2 check port 8081",
               "server relay1 127.0.0.1:" + std::to_string(o.relay_port) + " send-proxy-v2 check port " +
                   std::to_string(o.relay_metrics_port));
    std::string const timeout = std::to_string(o.idle_timeout.count()) + "s";
    substitute(cfg, "timeout client 360s", "timeout client " + timeout);
    substitute(cfg, "timeout server 360s", "timeout server " + timeout);
    return cfg;
}

} // namespace

std::string deploy_file(std::string const& relative)
{
    std::string const text = read_file(std::string(VAUCHI_DEPLOY_DIR) + "/" + relative);
    BOOST_REQUIRE_MESSAGE(!text.empty(), "deploy/" << relative << " is missing");
    return text;
}

tls_material::tls_material() : dir_(make_temp_dir("vauchi-tls"))
{
    std::string const d = dir_;
    std::string const quiet = " >/dev/null 2>&1";
    run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=vauchi-test-ca -keyout " + d + "/ca.key -out " +
        d + "/ca.pem" + quiet);
    run("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout " + d + "/server.key -out " + d +
        "/server.csr" + quiet);
    write_file(d + "/san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    run("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
        "/ca.key -CAcreateserial -days 2 -extfile " + d + "/san.ext -out " + d + "/server.pem" + quiet);
    write_file(combined_file(), read_file(cert_file()) + read_file(key_file()));
}

tls_material::~tls_material()
{
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

proxy_process::proxy_process(tls_material const& tls, proxy_options const& options)
    : dir_(make_temp_dir(options.kind == proxy_kind::nginx ? "vauchi-nginx" : "vauchi-haproxy"))
{
    // A few tries: another process may take the free port before the proxy binds it.
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = free_port();
        std::vector<std::string> argv;
        if (options.kind == proxy_kind::nginx) {
            write_file(dir_ + "/nginx.conf", nginx_config(dir_, tls, options, port_));
            argv = {"/usr/sbin/nginx",    "-p", dir_,         "-e", dir_ + "/error.log", "-c",
                    dir_ + "/nginx.conf", "-g", "daemon off;"};
        } else {
            write_file(dir_ + "/haproxy.cfg", haproxy_config(tls, options, port_));
            argv = {"/usr/sbin/haproxy", "-f", dir_ + "/haproxy.cfg", "-db"};
        }
        pid_ = ::fork();
        if (pid_ == 0) {
            int const out = ::open((dir_ + "/output.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(out, 1);
            ::dup2(out, 2);
            std::vector<char*> args;
            for (auto& a : argv)
                args.push_back(a.data());
            args.push_back(nullptr);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            if (accepts(port_))
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    BOOST_FAIL("the proxy did not start; its output:\n" << log());
}

proxy_process::~proxy_process()
{
    if (pid_ > 0) {
        // nginx's fast shutdown and HAProxy's hard stop are both SIGTERM.
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 100 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string proxy_process::log() const { return read_file(dir_ + "/output.log") + read_file(dir_ + "/error.log"); }

std::string proxy_process::version(proxy_kind kind)
{
    std::string const command =
        kind == proxy_kind::nginx ? "/usr/sbin/nginx -v 2>&1" : "/usr/sbin/haproxy -v 2>&1 | head -1";
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
        std::array<char, 256> buf{};
        while (std::fgets(buf.data(), buf.size(), p))
            out += buf.data();
        ::pclose(p);
    }
    while (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

} // namespace relay::testing
