#include "noise/static_key.hpp"

#include "noise/base64url.hpp"
#include "noise/dh.hpp"

#include <openssl/crypto.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace relay::noise {
namespace {

using raw_pair = std::array<std::uint8_t, stored_pair_size>;

key_pair split_pair(std::uint8_t const* bytes)
{
    key_pair pair;
    std::copy_n(bytes, dh_size, pair.private_key.begin());
    std::copy_n(bytes + dh_size, dh_size, pair.public_key.begin());
    return pair;
}

std::string errno_text(int err) { return std::strerror(err); }

// Owns a file descriptor so that every early return closes it.
struct fd_guard {
    int fd = -1;
    ~fd_guard()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

std::string wrong_length_advice(std::string const& path, long long size)
{
    return path + " holds " + std::to_string(size) + " bytes, expected " + std::to_string(stored_pair_size) +
        " (32-byte private key then 32-byte public key); it was left untouched. Restore the right file, "
        "or set " +
        static_key_env +
        ", or remove the file to have a new key generated (clients that "
        "know the old public key will then fail to connect)";
}

// Reads an existing key file. Sets `missing` instead of an error when there is none.
std::optional<key_pair> read_key_file(std::string const& path, bool& missing, static_key_result& result)
{
    missing = false;
    fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) {
        if (errno == ENOENT) {
            missing = true;
            return std::nullopt;
        }
        result.error = "cannot open " + path + ": " + errno_text(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
        result.error = "cannot stat " + path + ": " + errno_text(errno);
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        result.error = path + " is not a regular file; it was left untouched";
        return std::nullopt;
    }
    if (st.st_size != static_cast<off_t>(stored_pair_size)) {
        result.error = wrong_length_advice(path, static_cast<long long>(st.st_size));
        return std::nullopt;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        result.warnings.push_back(path +
                                  " is readable by other users; it holds the relay's private key, "
                                  "consider chmod 600");
    raw_pair raw{};
    std::size_t got = 0;
    while (got < raw.size()) {
        ssize_t const n = ::read(file.fd, raw.data() + got, raw.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            OPENSSL_cleanse(raw.data(), raw.size());
            result.error = n == 0 ? wrong_length_advice(path, static_cast<long long>(got))
                                  : "cannot read " + path + ": " + errno_text(errno);
            return std::nullopt;
        }
        got += static_cast<std::size_t>(n);
    }
    key_pair pair = split_pair(raw.data());
    OPENSSL_cleanse(raw.data(), raw.size());
    return pair;
}

bool write_all(int fd, std::uint8_t const* data, std::size_t size)
{
    while (size > 0) {
        ssize_t const n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// Moves `from` to `to` unless `to` exists. RENAME_NOREPLACE keeps the move
// atomic without ever replacing a key another process saved meanwhile;
// link() is the fallback for file systems without it.
int rename_no_replace(char const* from, char const* to)
{
    if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    if (::link(from, to) != 0)
        return errno;
    ::unlink(from);
    return 0;
}

enum class save_outcome { saved, lost_race, failed };

// Writes the pair to a temporary file in the data directory, fsyncs it, moves
// it into place and fsyncs the directory, so that a crash leaves either no key
// file or a complete one, never a short file that would block the next start.
save_outcome save_key_file(std::filesystem::path const& data_dir, std::string const& path, key_pair const& pair,
                           static_key_result& result)
{
    std::string tmp = (data_dir / ("." + std::string(key_file_name) + ".XXXXXX")).string();
    fd_guard file{::mkstemp(tmp.data())}; // mkstemp creates the file with mode 0600
    if (file.fd < 0) {
        result.error = "cannot create a temporary key file in " + data_dir.string() + ": " + errno_text(errno);
        return save_outcome::failed;
    }
    raw_pair raw{};
    std::copy(pair.private_key.begin(), pair.private_key.end(), raw.begin());
    std::copy(pair.public_key.begin(), pair.public_key.end(), raw.begin() + dh_size);
    // fchmod: mkstemp's mode is 0600 on glibc, but say so rather than rely on it.
    bool const written = ::fchmod(file.fd, S_IRUSR | S_IWUSR) == 0 && write_all(file.fd, raw.data(), raw.size()) &&
        ::fsync(file.fd) == 0;
    int const write_errno = errno;
    OPENSSL_cleanse(raw.data(), raw.size());
    if (!written) {
        ::unlink(tmp.c_str());
        result.error = "cannot write " + tmp + ": " + errno_text(write_errno);
        return save_outcome::failed;
    }
    ::close(std::exchange(file.fd, -1));
    if (int const err = rename_no_replace(tmp.c_str(), path.c_str()); err != 0) {
        ::unlink(tmp.c_str());
        if (err == EEXIST)
            return save_outcome::lost_race;
        result.error = "cannot move " + tmp + " to " + path + ": " + errno_text(err);
        return save_outcome::failed;
    }
    fd_guard dir{::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir.fd >= 0)
        ::fsync(dir.fd); // best effort: the key is already in place
    return save_outcome::saved;
}

} // namespace

std::optional<key_pair> parse_key_pair(std::string_view base64url)
{
    auto bytes = base64url_decode(base64url);
    if (!bytes)
        return std::nullopt;
    std::optional<key_pair> pair;
    if (bytes->size() == stored_pair_size)
        pair = split_pair(bytes->data());
    OPENSSL_cleanse(bytes->data(), bytes->size());
    return pair;
}

void wipe(key_pair& pair) noexcept
{
    OPENSSL_cleanse(pair.private_key.data(), pair.private_key.size());
    OPENSSL_cleanse(pair.public_key.data(), pair.public_key.size());
}

static_key_result load_static_key(std::optional<std::string_view> env_value, std::filesystem::path const& data_dir)
{
    static_key_result result;
    if (env_value && !env_value->empty()) {
        if (auto pair = parse_key_pair(*env_value)) {
            result.keys = *pair;
            wipe(*pair);
            result.source = key_source::environment;
            return result;
        }
        // Never echo the value: it is meant to hold a private key.
        result.warnings.push_back(std::string(static_key_env) + " is set but is not base64url without padding of " +
                                  std::to_string(stored_pair_size) + " bytes; ignored");
    }

    std::string const path = (data_dir / key_file_name).string();
    for (int attempt = 0; attempt < 2; ++attempt) {
        bool missing = false;
        if (auto pair = read_key_file(path, missing, result)) {
            result.keys = *pair;
            wipe(*pair);
            result.source = key_source::file;
            return result;
        }
        if (!missing)
            return result;

        auto fresh = dh_key::generate();
        auto fresh_private = fresh ? fresh->private_key() : std::nullopt;
        if (!fresh_private) {
            result.error = "cannot generate an X25519 key pair (OpenSSL failure)";
            return result;
        }
        key_pair pair{*fresh_private, fresh->public_key()};
        OPENSSL_cleanse(fresh_private->data(), fresh_private->size());
        switch (save_key_file(data_dir, path, pair, result)) {
        case save_outcome::saved:
            result.keys = pair;
            wipe(pair);
            result.source = key_source::generated;
            return result;
        case save_outcome::failed:
            wipe(pair);
            return result;
        case save_outcome::lost_race:
            wipe(pair); // another process saved a key first: use that one
            break;
        }
    }
    result.error = path + " kept appearing and disappearing while the key was being created";
    return result;
}

} // namespace relay::noise
