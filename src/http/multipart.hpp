#pragma once
// A streaming multipart/form-data parser (RFC 7578 over RFC 2046 framing): bytes are fed as they
// arrive and come out as part headers and body pieces, so a file part never sits whole in memory.
// Malformed input throws a 400 core::Problem naming what was wrong.
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kiln::http {

// The boundary parameter of a multipart/form-data Content-Type; nullopt when the type is another
// or the boundary is missing or invalid (1–70 characters of RFC 2046's set).
std::optional<std::string> multipart_boundary(std::string_view content_type);

struct PartHeaders {
    std::string name;                     // Content-Disposition's name
    std::optional<std::string> filename;  // present for file fields (filename*=UTF-8'' preferred)
    std::string content_type;             // as declared; "" when absent
};

class MultipartParser {
public:
    struct Limits {
        std::size_t max_parts = 16;
        std::size_t max_header_bytes = 8192;  // one part's header block
    };

    enum class Kind {
        need_more,  // feed() more bytes (or finish() at the end of the body)
        part,       // a part begins: headers()
        data,       // a piece of the current part's body: data()
        part_end,   // the current part is complete
        done,       // the closing boundary was seen; anything after it (epilogue) is ignored
    };

    MultipartParser(std::string boundary, Limits limits);

    // Appends body bytes. Views returned by data() before this call become invalid.
    void feed(std::string_view bytes);
    // The body ended: a part or the closing boundary still missing is then an error.
    void finish();
    // The next event; a data piece holds at most `max_data` bytes.
    Kind next(std::size_t max_data = std::string::npos);

    const PartHeaders& headers() const noexcept { return headers_; }
    std::string_view data() const noexcept { return data_; }
    std::size_t parts() const noexcept { return parts_; }

private:
    enum class State { preamble, after_boundary, headers, body, epilogue };
    Kind after_boundary();
    Kind read_headers();
    Kind read_body(std::size_t max_data);
    void parse_header_line(std::string_view line);
    [[noreturn]] void fail(const std::string& what) const;
    std::string_view pending() const noexcept { return std::string_view(buffer_).substr(pos_); }

    std::string delimiter_;  // CRLF "--" boundary
    Limits limits_;
    std::string buffer_;
    std::size_t pos_ = 0;
    State state_ = State::preamble;
    bool finished_ = false;
    std::size_t parts_ = 0;
    PartHeaders headers_;
    std::string_view data_;
};

class BodyReader;

// A multipart/form-data request body read part by part from its BodyReader: a part's body is
// pulled in pieces (read), or whole when it is a small text field (read_text).
class MultipartReader {
public:
    MultipartReader(BodyReader& body, std::string boundary, MultipartParser::Limits limits = {});

    // The next part's headers, skipping what is left of the current one; nullopt after the last.
    boost::asio::awaitable<std::optional<PartHeaders>> next_part();
    // The current part's next bytes; 0 at its end.
    boost::asio::awaitable<std::size_t> read(std::span<char> out);
    // The rest of the current part; a 422 naming the field when it is longer than `max`.
    boost::asio::awaitable<std::string> read_text(std::size_t max);

private:
    boost::asio::awaitable<void> fill();

    BodyReader& body_;
    MultipartParser parser_;
    std::string chunk_;
    bool in_part_ = false;
};

}  // namespace kiln::http
