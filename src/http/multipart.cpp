#include "http/multipart.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>
#include <vector>

#include "core/problem.hpp"

namespace kiln::http {

namespace {

constexpr std::size_t kMaxBoundary = 70;
// Spaces and tabs a boundary line may carry before its CRLF (RFC 2046's transport padding).
constexpr std::size_t kMaxPadding = 64;
constexpr std::string_view kCrlf = "\r\n";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// `value; key=token; key="quoted \" string"` → the value before the first ';' and the parameters
// (keys lower-cased); nullopt when a quoted string is not closed.
struct Parameters {
    std::string_view value;
    std::vector<std::pair<std::string, std::string>> params;
    const std::string* find(std::string_view key) const {
        for (const auto& [k, v] : params) {
            if (k == key) return &v;
        }
        return nullptr;
    }
};

std::optional<Parameters> parse_parameters(std::string_view text) {
    Parameters out;
    const auto semi = text.find(';');
    out.value = trim(text.substr(0, semi));
    std::size_t i = semi == std::string_view::npos ? text.size() : semi + 1;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == ';')) ++i;
        if (i >= text.size()) break;
        const auto eq = text.find('=', i);
        if (eq == std::string_view::npos) return std::nullopt;
        std::string key = lower(trim(text.substr(i, eq - i)));
        i = eq + 1;
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        std::string value;
        if (i < text.size() && text[i] == '"') {
            ++i;
            bool closed = false;
            while (i < text.size()) {
                const char c = text[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\' && i < text.size()) {
                    value.push_back(text[i++]);
                } else {
                    value.push_back(c);
                }
            }
            if (!closed) return std::nullopt;
        } else {
            const auto end = std::min(text.find(';', i), text.size());
            value = std::string(trim(text.substr(i, end - i)));
            i = end;
        }
        out.params.emplace_back(std::move(key), std::move(value));
    }
    return out;
}

bool boundary_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 5987 ext-value `UTF-8''percent%20encoded`; nullopt for other charsets or bad escapes.
std::optional<std::string> decode_ext_value(std::string_view v) {
    const auto q = v.find("''");
    if (q == std::string_view::npos || lower(v.substr(0, q)) != "utf-8") return std::nullopt;
    std::string out;
    for (std::size_t i = q + 2; i < v.size(); ++i) {
        if (v[i] != '%') {
            out.push_back(v[i]);
            continue;
        }
        if (i + 2 >= v.size()) return std::nullopt;
        const int hi = hex_value(v[i + 1]);
        const int lo = hex_value(v[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>((hi << 4) | lo));
        i += 2;
    }
    return out;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
    auto parsed = parse_parameters(content_type);
    if (!parsed || lower(parsed->value) != "multipart/form-data") return std::nullopt;
    const auto* boundary = parsed->find("boundary");
    if (boundary == nullptr || boundary->empty() || boundary->size() > kMaxBoundary || boundary->back() == ' ' ||
        !std::ranges::all_of(*boundary, boundary_char)) {
        return std::nullopt;
    }
    return *boundary;
}

MultipartParser::MultipartParser(std::string boundary, Limits limits)
    : delimiter_("\r\n--" + boundary), limits_(limits), buffer_(kCrlf) {}  // a body may open with the boundary

void MultipartParser::feed(std::string_view bytes) {
    if (state_ == State::epilogue) return;
    buffer_.erase(0, pos_);
    pos_ = 0;
    buffer_.append(bytes);
}

void MultipartParser::finish() {
    finished_ = true;
}

void MultipartParser::fail(const std::string& what) const {
    throw core::Problem::bad_request("Malformed multipart body: " + what + ".");
}

MultipartParser::Kind MultipartParser::next(std::size_t max_data) {
    data_ = {};
    for (;;) {
        switch (state_) {
            case State::preamble: {
                const auto p = pending();
                const auto at = p.find(delimiter_);
                if (at != std::string_view::npos) {
                    pos_ += at + delimiter_.size();
                    state_ = State::after_boundary;
                    continue;
                }
                // Keep only what could be the start of a split boundary.
                if (p.size() >= delimiter_.size()) pos_ += p.size() - (delimiter_.size() - 1);
                if (finished_) fail("no boundary found");
                return Kind::need_more;
            }
            case State::after_boundary: {
                const auto kind = after_boundary();
                if (kind != Kind::part_end) return kind;  // part_end here means: go on
                continue;
            }
            case State::headers:
                return read_headers();
            case State::body:
                return read_body(max_data == 0 ? 1 : max_data);
            case State::epilogue:
                return Kind::done;
        }
    }
}

// After a delimiter: "--" closes the body; otherwise optional padding, CRLF and a new part.
MultipartParser::Kind MultipartParser::after_boundary() {
    const auto p = pending();
    if (p.size() < 2) {
        if (finished_) fail("the body ended after a boundary");
        return Kind::need_more;
    }
    if (p.starts_with("--")) {
        state_ = State::epilogue;
        buffer_.clear();
        pos_ = 0;
        return Kind::done;
    }
    const auto eol = p.find(kCrlf);
    if (eol == std::string_view::npos) {
        if (p.size() >= kMaxPadding + kCrlf.size() || finished_) fail("a boundary line is not followed by CRLF");
        return Kind::need_more;
    }
    // The padding's bound holds however the bytes arrived (fuzz/multipart found a body that
    // parsed whole and failed in pieces).
    if (eol > kMaxPadding || !std::ranges::all_of(p.substr(0, eol), [](char c) { return c == ' ' || c == '\t'; })) {
        fail("a boundary line is not followed by CRLF");
    }
    pos_ += eol + kCrlf.size();
    if (++parts_ > limits_.max_parts) fail("more than " + std::to_string(limits_.max_parts) + " parts");
    headers_ = {};
    state_ = State::headers;
    return Kind::part_end;
}

MultipartParser::Kind MultipartParser::read_headers() {
    const auto p = pending();
    std::size_t end = 0;  // length of the header block, its final CRLF CRLF excluded
    std::size_t skip = 0;
    if (p.starts_with(kCrlf)) {
        skip = kCrlf.size();
    } else {
        end = p.find("\r\n\r\n");
        if (end == std::string_view::npos || end > limits_.max_header_bytes) {
            if (p.size() > limits_.max_header_bytes + 4 || (end != std::string_view::npos)) {
                fail("a part's header exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
            }
            if (finished_) fail("the body ended inside a part's header");
            return Kind::need_more;
        }
        skip = end + 4;
    }
    auto block = p.substr(0, end);
    while (!block.empty()) {
        const auto eol = std::min(block.find(kCrlf), block.size());
        parse_header_line(block.substr(0, eol));
        block.remove_prefix(std::min(eol + kCrlf.size(), block.size()));
    }
    pos_ += skip;
    if (headers_.name.empty()) fail("a part has no Content-Disposition: form-data with a name");
    state_ = State::body;
    return Kind::part;
}

void MultipartParser::parse_header_line(std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line.front() == ' ' || line.front() == '\t') {
        fail("a part's header line is malformed");
    }
    const auto name = lower(trim(line.substr(0, colon)));
    const auto value = trim(line.substr(colon + 1));
    if (name == "content-type") {
        headers_.content_type = std::string(value);
        return;
    }
    if (name != "content-disposition") return;
    const auto parsed = parse_parameters(value);
    if (!parsed || lower(parsed->value) != "form-data") fail("a part's Content-Disposition is not form-data");
    if (const auto* n = parsed->find("name")) headers_.name = *n;
    if (const auto* ext = parsed->find("filename*")) headers_.filename = decode_ext_value(*ext);
    if (const auto* f = parsed->find("filename"); f != nullptr && !headers_.filename) headers_.filename = *f;
}

MultipartParser::Kind MultipartParser::read_body(std::size_t max_data) {
    const auto p = pending();
    const auto at = p.find(delimiter_);
    std::size_t available = at;
    if (at == 0) {
        pos_ += delimiter_.size();
        state_ = State::after_boundary;
        return Kind::part_end;
    }
    if (at == std::string_view::npos) {
        // The tail might be the beginning of a delimiter split across two reads: held back.
        available = p.size() >= delimiter_.size() ? p.size() - (delimiter_.size() - 1) : 0;
        if (available == 0) {
            if (finished_) fail("the body ended before the closing boundary");
            return Kind::need_more;
        }
    }
    const auto n = std::min(available, max_data);
    data_ = p.substr(0, n);
    pos_ += n;
    return Kind::data;
}

}  // namespace kiln::http
