#include "worker/protocol/strict_json.hpp"

#include "worker/protocol/byte_array_scan.hpp"
#include "worker/protocol/codec.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <cassert>
#include <cstdint>
#include <stdexcept>

namespace relay::protocol::detail {

namespace json = boost::json;

namespace {

// A basic_parser handler that builds the value the way boost::json::parser
// does (through a value_stack), with two additions.
//
// Duplicate keys: it counts the key/value pairs in the text. Boost collapses
// duplicate keys while building each object, so the finished tree holds fewer
// pairs than the text exactly when some key repeated. (Checking keys per
// object as they arrive would mean copying every key into a set: keys can
// arrive in parts, and a 1 MiB message can hold a 100 000-key object.)
//
// Byte arrays: while the innermost open container is an array whose elements
// so far are all integers 0..255, they go to `pending_` instead of the value
// stack. If the array ends that way it becomes a byte array (see
// strict_document); as soon as anything else turns up in it, the pending
// bytes are pushed as ordinary values and the array is built normally.
class tree_builder {
public:
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    tree_builder(unsigned char* temp_buffer, std::size_t temp_size) noexcept : stack_({}, temp_buffer, temp_size) {}

    json::value_stack& stack() noexcept { return stack_; }
    std::size_t pairs_in_text() const noexcept { return pairs_in_text_; }
    std::vector<bytes> take_byte_arrays() noexcept { return std::move(byte_arrays_); }
    /// Byte arrays the fast path took out of the text (byte_array_scan.hpp);
    /// each placeholder literal in the text stands for the next one.
    void use_prescanned(std::vector<bytes>* arrays) noexcept { prescanned_ = arrays; }

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }

    bool on_object_begin(json::error_code&)
    {
        stop_collecting();
        return true;
    }
    bool on_object_end(std::size_t n, json::error_code&)
    {
        pairs_in_text_ += n;
        stack_.push_object(n);
        return true;
    }

    bool on_array_begin(json::error_code&)
    {
        stop_collecting(); // the enclosing array now holds a container
        collecting_ = true;
        return true;
    }
    bool on_array_end(std::size_t n, json::error_code&)
    {
        if (collecting_ && n > 0) {
            assert(pending_.size() == n);
            stack_.push_uint64(byte_arrays_.size());
            byte_arrays_.push_back(std::move(pending_));
            pending_ = {};
        } else {
            stop_collecting();
            stack_.push_array(n);
        }
        // Any enclosing array stopped collecting when this one began.
        collecting_ = false;
        return true;
    }

    bool on_key_part(json::string_view s, std::size_t, json::error_code&)
    {
        stack_.push_chars(s);
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code&)
    {
        stack_.push_key(s);
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, json::error_code&)
    {
        stop_collecting();
        stack_.push_chars(s);
        return true;
    }
    bool on_string(json::string_view s, std::size_t, json::error_code&)
    {
        stop_collecting();
        stack_.push_string(s);
        return true;
    }

    bool on_number_part(json::string_view, json::error_code&) { return true; }
    bool on_int64(std::int64_t i, json::string_view text, json::error_code&)
    {
        // parse_strict hands the parser the whole document in one call, so
        // `text` is the complete number here, sign included.
        if (i == 0 && !text.empty() && text.front() == '-') {
            stop_collecting();
            stack_.push_double(-0.0);
        } else if (collecting_ && i >= 0 && i <= 255) {
            pending_.push_back(static_cast<std::uint8_t>(i));
        } else {
            stop_collecting();
            stack_.push_int64(i);
        }
        return true;
    }
    bool on_uint64(std::uint64_t u, json::string_view text, json::error_code&)
    {
        stop_collecting();
        if (prescanned_ && next_prescanned_ < prescanned_->size() &&
            std::string_view(text.data(), text.size()) == byte_array_placeholder) {
            stack_.push_uint64(byte_arrays_.size());
            byte_arrays_.push_back(std::move((*prescanned_)[next_prescanned_++]));
            return true;
        }
        stack_.push_uint64(u);
        return true;
    }
    bool on_double(double d, json::string_view, json::error_code&)
    {
        stop_collecting();
        stack_.push_double(d);
        return true;
    }
    bool on_bool(bool b, json::error_code&)
    {
        stop_collecting();
        stack_.push_bool(b);
        return true;
    }
    bool on_null(json::error_code&)
    {
        stop_collecting();
        stack_.push_null();
        return true;
    }

    // Comments are disabled in the parse options; these are never called.
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

private:
    // The current array is not binary after all: give its bytes to the stack.
    void stop_collecting()
    {
        if (!collecting_)
            return;
        for (auto const b : pending_)
            stack_.push_int64(b);
        pending_.clear();
        collecting_ = false;
    }

    json::value_stack stack_;
    std::size_t pairs_in_text_ = 0;
    bool collecting_ = false;
    bytes pending_;
    std::vector<bytes> byte_arrays_;
    std::vector<bytes>* prescanned_ = nullptr;
    std::size_t next_prescanned_ = 0;
};

// Depth is bounded by max_json_depth, so the recursion is too.
std::size_t pairs_in_tree(json::value const& v) noexcept
{
    if (auto const* object = v.if_object()) {
        std::size_t n = object->size();
        for (auto const& member : *object)
            n += pairs_in_tree(member.value());
        return n;
    }
    if (auto const* array = v.if_array()) {
        std::size_t n = 0;
        for (auto const& element : *array)
            if (element.is_structured())
                n += pairs_in_tree(element);
        return n;
    }
    return 0;
}

json::parse_options strict_options() noexcept
{
    json::parse_options options;
    options.max_depth = max_json_depth;
    options.allow_comments = false;
    options.allow_trailing_commas = false;
    options.allow_invalid_utf8 = false;
    return options;
}

} // namespace

boost::system::result<strict_document> parse_strict(std::string_view text, json::storage_ptr storage)
{
    // Scratch space for the value_stack; typical envelopes fit, larger ones
    // spill to the heap.
    unsigned char temp[1024];
    json::basic_parser<tree_builder> parser(strict_options(), temp, sizeof temp);
    parser.handler().stack().reset(std::move(storage));
    auto prescanned = extract_byte_arrays(text, static_cast<unsigned>(max_json_depth));
    if (prescanned) {
        parser.handler().use_prescanned(&prescanned->byte_arrays);
        text = prescanned->text;
    }

    json::error_code ec;
    std::size_t consumed = 0;
    try {
        consumed = parser.write_some(false, text.data(), text.size(), ec);
    } catch (std::length_error const&) {
        // Boost.JSON's size limits (strings of about 2 GiB); unreachable with
        // bounded frames, but still caused by input, so not an exception.
        return decode_error::bad_json;
    }
    if (ec)
        return ec == json::error::too_deep ? decode_error::too_deep : decode_error::bad_json;
    if (consumed != text.size())
        return decode_error::bad_json; // bytes after the document

    strict_document document{parser.handler().stack().release(), parser.handler().take_byte_arrays()};
    if (pairs_in_tree(document.root) != parser.handler().pairs_in_text())
        return decode_error::duplicate_key;
    return document;
}

} // namespace relay::protocol::detail
