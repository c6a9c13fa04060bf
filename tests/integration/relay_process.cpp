#include "relay_process.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace relay::testing {

std::string relay_binary()
{
    if (char const* p = std::getenv("VAUCHI_RELAY_BINARY"))
        return p;
    return VAUCHI_RELAY_BINARY;
}

relay_process::relay_process(relay_options options) : options_(std::move(options))
{
    if (options_.data_dir.empty()) {
        char tmpl[] = "/tmp/vauchi-relay-it-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        options_.data_dir = tmpl;
        own_dir_ = true;
    }
    log_path_ = options_.data_dir + "/relay.log";
    start();
}

relay_process::~relay_process()
{
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    // Sanitizer reports from any relay process land in the log; a worker that
    // aborted on one may have been respawned without the test noticing.
    log_offset_ = 0;
    std::string const all = log();
    for (char const* marker : {"runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer"})
        BOOST_CHECK_MESSAGE(all.find(marker) == std::string::npos,
                            "sanitizer report in the relay log " << log_path_ << ":\n"
                                                                 << all);
    // Privacy (docs/protocol.md#s12-5): client ids, routing tokens, device ids
    // and key hashes are 64 hex characters; no run of 32 or more hex
    // characters may appear in a log, whatever the test did.
    std::size_t run = 0;
    for (char c : all) {
        bool const hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        run = hex ? run + 1 : 0;
        if (run == 32) {
            BOOST_ERROR("an id-like hex string appears in the relay log " << log_path_);
            break;
        }
    }
    if (own_dir_ && !std::getenv("VAUCHI_KEEP_TEST_DIRS")) {
        std::error_code ec;
        std::filesystem::remove_all(options_.data_dir, ec);
    }
}

void relay_process::start()
{
    {
        std::ifstream in(log_path_, std::ios::ate);
        log_offset_ = in ? static_cast<std::size_t>(in.tellg()) : 0;
    }
    std::vector<std::string> args{relay_binary(), "--listen", options_.listen, "--data-dir",
                                  options_.data_dir + "/data"};
    if (options_.workers != 0) {
        args.push_back("--workers");
        args.push_back(std::to_string(options_.workers));
    }
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
        int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        // A small store keeps each test's start-up cheap; tests that care set it.
        ::setenv("RELAY_MAX_STORAGE_BYTES", "67108864", 1);
        // Tests run relays side by side: a free metrics port each.
        ::setenv("RELAY_METRICS_ADDR", "127.0.0.1:0", 1);
        for (auto const& [k, v] : options_.env)
            ::setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    if (!options_.expect_ready)
        return;
    // The supervisor logs "relay ready: listening on 127.0.0.1:PORT" once every
    // worker is listening.
    std::string const marker = "relay ready: listening on 127.0.0.1:";
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        std::string const text = log();
        if (auto at = text.find(marker); at != std::string::npos) {
            port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + marker.size())));
            std::string const metrics_marker = "metrics on ";
            if (auto m = text.find(metrics_marker, at); m != std::string::npos) {
                auto const colon = text.find(':', m + metrics_marker.size());
                metrics_port_ = static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1)));
            }
            return;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("relay exited during start-up:\n" + text);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("relay not ready within 20 s:\n" + log());
}

std::string relay_process::log() const
{
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    return all.size() > log_offset_ ? all.substr(log_offset_) : std::string{};
}

bool relay_process::wait_for_log(std::string const& text, std::chrono::milliseconds timeout) const
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    do {
        if (log().find(text) != std::string::npos)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

int relay_process::stop(std::chrono::seconds timeout)
{
    if (pid_ <= 0)
        return -1;
    ::kill(pid_, SIGTERM);
    return wait_exit(timeout);
}

int relay_process::wait_exit(std::chrono::seconds timeout)
{
    if (pid_ <= 0)
        return -1;
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill_hard();
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    return status;
}

void relay_process::kill_hard()
{
    if (pid_ <= 0)
        return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

void relay_process::restart()
{
    if (pid_ > 0)
        stop();
    start();
}

std::vector<pid_t> relay_process::children() const
{
    std::vector<pid_t> out;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children");
    pid_t p;
    while (in >> p)
        out.push_back(p);
    return out;
}

} // namespace relay::testing

namespace relay::testing {

std::map<unsigned, pid_t> relay_process::worker_pids() const
{
    std::map<unsigned, pid_t> out;
    std::string const text = log();
    std::string const marker = "started worker ";
    for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
        unsigned slot = 0;
        int pid = 0;
        if (std::sscanf(text.c_str() + at, "started worker %u (pid %d)", &slot, &pid) == 2)
            out[slot] = pid;
    }
    return out;
}

} // namespace relay::testing
