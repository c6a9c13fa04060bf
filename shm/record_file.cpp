#include "shm/record_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "shm/record_crc.hpp"

namespace relay::shm {
namespace {

constexpr char header_magic[8] = {'V', 'R', 'L', 'Y', 'E', 'X', 'P', '\0'};
constexpr char trailer_magic[8] = {'V', 'R', 'L', 'Y', 'E', 'N', 'D', '\0'};
constexpr std::uint32_t format_version = 1;
constexpr std::size_t fixed_part = 8 + 2 * key_size + 16 + 8 + 8; // from kind to data length
/// Larger than any record the relay stores (RELAY_MAX_MESSAGE_SIZE tops at 64 MiB).
constexpr std::uint64_t max_record = std::uint64_t{1} << 30;

template <class T>
void append(std::vector<std::uint8_t>& out, T value)
{
    auto const* p = reinterpret_cast<std::uint8_t const*>(&value);
    out.insert(out.end(), p, p + sizeof value);
}

template <class T>
T read_at(std::uint8_t const* p)
{
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

} // namespace

record_file_writer::record_file_writer(std::string const& path) : path_(path)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        throw record_file_error{"cannot create " + path + ": " + std::strerror(errno) +
                                (errno == EEXIST ? " (an export never overwrites a file: choose another name)" : "")};
    file_ = ::fdopen(fd, "wb");
    std::vector<std::uint8_t> h(header_magic, header_magic + 8);
    append(h, format_version);
    append(h, std::uint32_t{0});
    append(h, static_cast<std::uint64_t>(std::time(nullptr)));
    put(h.data(), h.size());
}

record_file_writer::~record_file_writer()
{
    if (file_ != nullptr)
        std::fclose(file_);
    if (!finished_)
        ::unlink(path_.c_str()); // never leave a file that looks like a whole export
}

void record_file_writer::put(void const* bytes, std::size_t n)
{
    if (std::fwrite(bytes, 1, n, file_) != n)
        throw record_file_error{"cannot write " + path_ + ": " + std::strerror(errno)};
    crc_ = crc32c_extend(crc_, bytes, n);
}

void record_file_writer::write(stored_record const& r)
{
    std::vector<std::uint8_t> body;
    body.reserve(fixed_part + r.sender_message_id.size() + r.data.size() + 4);
    bool const has_sender = r.sender.size() == key_size;
    append(body, static_cast<std::uint8_t>(r.kind));
    append(body, static_cast<std::uint8_t>((has_sender ? 1 : 0) | (r.delivered_sent ? 2 : 0)));
    append(body, static_cast<std::uint16_t>(has_sender ? r.sender_message_id.size() : 0));
    append(body, std::uint32_t{0});
    char key[key_size] = {}, sender[key_size] = {};
    std::memcpy(key, r.key.data(), std::min(r.key.size(), key_size));
    if (has_sender)
        std::memcpy(sender, r.sender.data(), key_size);
    body.insert(body.end(), key, key + key_size);
    body.insert(body.end(), sender, sender + key_size);
    body.insert(body.end(), r.blob_id.begin(), r.blob_id.end());
    append(body, r.created_unix);
    append(body, static_cast<std::uint64_t>(r.data.size()));
    if (has_sender)
        body.insert(body.end(), r.sender_message_id.begin(), r.sender_message_id.end());
    body.insert(body.end(), r.data.begin(), r.data.end());
    append(body, ~crc32c_extend(~0u, body.data(), body.size()));
    auto const length = static_cast<std::uint32_t>(body.size() - 4);
    put(&length, 4);
    put(body.data(), body.size());
    ++records_;
    data_bytes_ += r.data.size();
}

void record_file_writer::finish()
{
    std::vector<std::uint8_t> t(trailer_magic, trailer_magic + 8);
    append(t, records_);
    append(t, data_bytes_);
    std::uint32_t const whole = ~crc_;
    if (std::fwrite(t.data(), 1, t.size(), file_) != t.size() || std::fwrite(&whole, 1, 4, file_) != 4 ||
        std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
        throw record_file_error{"cannot write " + path_ + ": " + std::strerror(errno)};
    std::fclose(file_);
    file_ = nullptr;
    finished_ = true;
}

record_file_reader::record_file_reader(std::string const& path) : path_(path)
{
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr)
        throw record_file_error{"cannot open " + path + ": " + std::strerror(errno)};
    std::uint8_t h[24];
    get(h, sizeof h);
    if (std::memcmp(h, header_magic, 8) != 0)
        throw record_file_error{path + " is not a vauchi-relay export (made by vauchi-relay --export)"};
    if (read_at<std::uint32_t>(h + 8) != format_version)
        throw record_file_error{path + " has export format " + std::to_string(read_at<std::uint32_t>(h + 8)) +
                                "; this binary reads format " + std::to_string(format_version)};
}

record_file_reader::~record_file_reader()
{
    if (file_ != nullptr)
        std::fclose(file_);
}

void record_file_reader::get(void* bytes, std::size_t n)
{
    if (std::fread(bytes, 1, n, file_) != n)
        throw record_file_error{path_ +
                                " ends early: it is truncated (the export did not finish, or the copy did "
                                "not): export again"};
    crc_ = crc32c_extend(crc_, bytes, n);
}

bool record_file_reader::next(stored_record& r)
{
    std::uint32_t const crc_before = crc_;
    std::uint8_t lead[4];
    get(lead, 4);
    if (std::memcmp(lead, trailer_magic, 4) == 0) {
        // The trailer: the rest of its magic, the counts, the checksum of
        // every byte before it. A record's length can never read "VRLY".
        std::uint8_t rest[4 + 8 + 8 + 4];
        get(rest, sizeof rest);
        if (std::memcmp(rest, trailer_magic + 4, 4) != 0 || read_at<std::uint64_t>(rest + 4) != records_ ||
            read_at<std::uint64_t>(rest + 12) != data_bytes_ || read_at<std::uint32_t>(rest + 20) != ~crc_before)
            throw record_file_error{path_ + " is damaged: its trailer disagrees with its records (" +
                                    std::to_string(records_) + " read)"};
        return false;
    }
    std::uint32_t const length = read_at<std::uint32_t>(lead);
    if (length < fixed_part || length > max_record)
        throw record_file_error{path_ + " is damaged: a record of " + std::to_string(length) + " bytes"};
    std::vector<std::uint8_t> body(length + 4);
    get(body.data(), body.size());
    if (read_at<std::uint32_t>(body.data() + length) != ~crc32c_extend(~0u, body.data(), length))
        throw record_file_error{path_ + " is damaged: record " + std::to_string(records_ + 1) + " fails its checksum"};
    std::uint8_t const* p = body.data();
    std::uint16_t const id_len = read_at<std::uint16_t>(p + 2);
    std::uint64_t const data_len = read_at<std::uint64_t>(p + 8 + 2 * key_size + 16 + 8);
    if (p[0] >= blob_kind_count || fixed_part + id_len + data_len != length)
        throw record_file_error{path_ + " is damaged: record " + std::to_string(records_ + 1) + " is malformed"};
    r.kind = static_cast<blob_kind>(p[0]);
    bool const has_sender = p[1] & 1;
    r.delivered_sent = (p[1] & 2) != 0;
    r.key.assign(reinterpret_cast<char const*>(p + 8), key_size);
    r.sender.assign(has_sender ? std::string(reinterpret_cast<char const*>(p + 8 + key_size), key_size)
                               : std::string());
    std::memcpy(r.blob_id.data(), p + 8 + 2 * key_size, 16);
    r.created_unix = read_at<std::uint64_t>(p + 8 + 2 * key_size + 16);
    r.sender_message_id.assign(reinterpret_cast<char const*>(p + fixed_part), id_len);
    r.data.assign(p + fixed_part + id_len, p + fixed_part + id_len + data_len);
    ++records_;
    data_bytes_ += data_len;
    return true;
}

} // namespace relay::shm
