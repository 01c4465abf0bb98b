// MultipartReader: the parser fed from a request body as a handler pulls parts (the parser itself,
// pure, is in multipart.cpp).
#include <utility>

#include "core/problem.hpp"
#include "http/body_reader.hpp"
#include "http/multipart.hpp"

namespace kiln::http {

namespace {
constexpr std::size_t kChunk = std::size_t{64} * 1024;
}

MultipartReader::MultipartReader(BodyReader& body, std::string boundary, MultipartParser::Limits limits)
    : body_(body), parser_(std::move(boundary), limits), chunk_(kChunk, '\0') {}

boost::asio::awaitable<void> MultipartReader::fill() {
    const auto n = co_await body_.read(chunk_);
    if (n == 0) {
        parser_.finish();
    } else {
        parser_.feed(std::string_view(chunk_).substr(0, n));
    }
}

boost::asio::awaitable<std::optional<PartHeaders>> MultipartReader::next_part() {
    for (;;) {
        const auto kind = parser_.next();
        switch (kind) {
            case MultipartParser::Kind::need_more:
                co_await fill();
                break;
            case MultipartParser::Kind::part:
                in_part_ = true;
                co_return parser_.headers();
            case MultipartParser::Kind::data:
                break;  // the rest of a part nobody read
            case MultipartParser::Kind::part_end:
                in_part_ = false;
                break;
            case MultipartParser::Kind::done:
                co_return std::nullopt;
        }
    }
}

boost::asio::awaitable<std::size_t> MultipartReader::read(std::span<char> out) {
    while (in_part_ && !out.empty()) {
        const auto kind = parser_.next(out.size());
        if (kind == MultipartParser::Kind::need_more) {
            co_await fill();
        } else if (kind == MultipartParser::Kind::data) {
            const auto data = parser_.data();
            std::copy(data.begin(), data.end(), out.begin());
            co_return data.size();
        } else {
            in_part_ = false;  // part_end: the parser cannot yield anything else inside a part
        }
    }
    co_return 0;
}

boost::asio::awaitable<std::string> MultipartReader::read_text(std::size_t max) {
    const auto field = parser_.headers().name;
    std::string out;
    std::array<char, 1024> buf{};
    for (;;) {
        const auto n = co_await read(buf);
        if (n == 0) break;
        out.append(buf.data(), n);
        if (out.size() > max) {
            throw core::Problem::validation({{field, "must be at most " + std::to_string(max) + " bytes"}});
        }
    }
    co_return out;
}

}  // namespace kiln::http
