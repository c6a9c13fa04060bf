#include "noise/static_key.hpp"

#include "noise/base64url.hpp"
#include "noise/dh.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

// The relay static key (docs/protocol.md#s9-3): variable, then file, then a new
// pair saved with mode 0600; a file of the wrong length is never overwritten.

namespace relay::noise {
namespace {

namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;

// A data directory of our own, named after the pid (hermetic).
struct temp_dir {
    fs::path path;
    temp_dir()
    {
        static int counter = 0;
        path = fs::temp_directory_path() /
            ("noise_key_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path key_file() const { return path / key_file_name; }
};

bytes read_file(fs::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(fs::path const& p, bytes const& data)
{
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<char const*>(data.data()), static_cast<std::streamsize>(data.size()));
}

bytes concat(key_pair const& pair)
{
    bytes out(pair.private_key.begin(), pair.private_key.end());
    out.insert(out.end(), pair.public_key.begin(), pair.public_key.end());
    return out;
}

key_pair fresh_pair()
{
    auto k = dh_key::generate();
    BOOST_REQUIRE(k);
    auto priv = k->private_key();
    BOOST_REQUIRE(priv);
    return {*priv, k->public_key()};
}

std::size_t entries(fs::path const& dir)
{
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

} // namespace

// For Boost.Test's failure messages.
std::ostream& operator<<(std::ostream& os, key_source s)
{
    switch (s) {
    case key_source::environment:
        return os << "environment";
    case key_source::file:
        return os << "file";
    case key_source::generated:
        return os << "generated";
    }
    return os << "?";
}

BOOST_AUTO_TEST_SUITE(static_key)

BOOST_AUTO_TEST_CASE(creates_a_key_file_with_mode_0600_when_there_is_none)
{
    temp_dir dir;
    auto const r = load_static_key(std::nullopt, dir.path);
    BOOST_TEST_REQUIRE(r.error == "");
    BOOST_REQUIRE(r.keys);
    BOOST_TEST(r.source == key_source::generated);
    BOOST_TEST(r.warnings.empty());

    struct stat st {};
    BOOST_REQUIRE(::stat(dir.key_file().c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    BOOST_TEST(read_file(dir.key_file()) == concat(*r.keys));
    BOOST_TEST(entries(dir.path) == 1u); // no temporary file left behind

    // The stored public half belongs to the private half.
    auto k = dh_key::from_private(r.keys->private_key);
    BOOST_REQUIRE(k);
    BOOST_TEST(k->public_key() == r.keys->public_key);
}

BOOST_AUTO_TEST_CASE(reloads_the_same_key_from_the_file)
{
    temp_dir dir;
    auto const first = load_static_key(std::nullopt, dir.path);
    BOOST_REQUIRE(first.keys);
    auto const second = load_static_key(std::nullopt, dir.path);
    BOOST_TEST_REQUIRE(second.error == "");
    BOOST_REQUIRE(second.keys);
    BOOST_TEST(second.source == key_source::file);
    BOOST_TEST(concat(*second.keys) == concat(*first.keys));
}

BOOST_AUTO_TEST_CASE(the_public_half_of_the_file_is_taken_as_is)
{
    temp_dir dir;
    auto const a = fresh_pair();
    auto const b = fresh_pair();
    key_pair const mixed{a.private_key, b.public_key};
    write_file(dir.key_file(), concat(mixed));
    ::chmod(dir.key_file().c_str(), 0600);
    auto const r = load_static_key(std::nullopt, dir.path);
    BOOST_REQUIRE(r.keys);
    BOOST_TEST(r.keys->public_key == b.public_key);
    BOOST_TEST(r.keys->private_key == a.private_key);
}

BOOST_AUTO_TEST_CASE(a_file_of_the_wrong_length_is_refused_and_left_untouched)
{
    for (std::size_t size : {std::size_t{0}, std::size_t{32}, std::size_t{63}, std::size_t{65}, std::size_t{128}}) {
        temp_dir dir;
        bytes const junk(size, 0x42);
        write_file(dir.key_file(), junk);
        auto const r = load_static_key(std::nullopt, dir.path);
        BOOST_TEST(!r.keys, "size " << size);
        BOOST_TEST(r.error.find(dir.key_file().string()) != std::string::npos, r.error);
        BOOST_TEST(r.error.find("expected 64") != std::string::npos, r.error);
        BOOST_TEST(r.error.find("remove the file") != std::string::npos, r.error);
        BOOST_TEST(read_file(dir.key_file()) == junk); // never overwritten
        BOOST_TEST(entries(dir.path) == 1u);
    }
}

BOOST_AUTO_TEST_CASE(a_readable_key_file_gets_a_warning)
{
    temp_dir dir;
    write_file(dir.key_file(), concat(fresh_pair()));
    ::chmod(dir.key_file().c_str(), 0644);
    auto const r = load_static_key(std::nullopt, dir.path);
    BOOST_REQUIRE(r.keys);
    BOOST_TEST(r.warnings.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_valid_variable_takes_priority_over_the_file)
{
    temp_dir dir;
    auto const file_pair = fresh_pair();
    write_file(dir.key_file(), concat(file_pair));
    auto const env_pair = fresh_pair();
    std::string const value = base64url_encode(concat(env_pair));
    BOOST_TEST(value.size() == 86u);

    auto const r = load_static_key(value, dir.path);
    BOOST_REQUIRE(r.keys);
    BOOST_TEST(r.source == key_source::environment);
    BOOST_TEST(concat(*r.keys) == concat(env_pair));
    BOOST_TEST(r.warnings.empty());
    BOOST_TEST(read_file(dir.key_file()) == concat(file_pair));
}

BOOST_AUTO_TEST_CASE(a_valid_variable_needs_no_file)
{
    temp_dir dir;
    auto const env_pair = fresh_pair();
    auto const r = load_static_key(base64url_encode(concat(env_pair)), dir.path);
    BOOST_REQUIRE(r.keys);
    BOOST_TEST(r.source == key_source::environment);
    BOOST_TEST(!fs::exists(dir.key_file()));
}

BOOST_AUTO_TEST_CASE(an_invalid_variable_is_ignored_with_a_warning_that_hides_its_value)
{
    auto const pair = fresh_pair();
    std::string const good = base64url_encode(concat(pair));
    std::string const padded = base64url_encode(concat(pair)) + "==";
    std::string const short_one = base64url_encode(bytes(63, 1));
    std::string const long_one = base64url_encode(bytes(65, 1));
    std::string const bad_chars = good.substr(0, 85) + "+";
    for (std::string const& value : {padded, short_one, long_one, bad_chars, std::string("not base64!")}) {
        temp_dir dir;
        auto const r = load_static_key(value, dir.path);
        BOOST_REQUIRE(r.keys);
        BOOST_TEST(r.source == key_source::generated, value);
        BOOST_REQUIRE(r.warnings.size() == 1u);
        BOOST_TEST(r.warnings[0].find(static_key_env) != std::string::npos);
        BOOST_TEST(r.warnings[0].find(value) == std::string::npos);
        BOOST_TEST(fs::exists(dir.key_file()));
    }
}

BOOST_AUTO_TEST_CASE(an_empty_variable_counts_as_unset)
{
    temp_dir dir;
    auto const r = load_static_key(std::string_view{}, dir.path);
    BOOST_REQUIRE(r.keys);
    BOOST_TEST(r.source == key_source::generated);
    BOOST_TEST(r.warnings.empty());
}

BOOST_AUTO_TEST_CASE(a_missing_data_directory_is_an_error)
{
    temp_dir dir;
    auto const r = load_static_key(std::nullopt, dir.path / "absent");
    BOOST_TEST(!r.keys);
    BOOST_TEST(r.error.find("absent") != std::string::npos, r.error);
}

BOOST_AUTO_TEST_CASE(parse_key_pair_needs_exactly_64_bytes)
{
    auto const pair = fresh_pair();
    auto parsed = parse_key_pair(base64url_encode(concat(pair)));
    BOOST_REQUIRE(parsed);
    BOOST_TEST(concat(*parsed) == concat(pair));
    BOOST_TEST(!parse_key_pair(base64url_encode(bytes(32, 1))));
    BOOST_TEST(!parse_key_pair(""));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace relay::noise
