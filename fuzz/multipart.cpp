// MultipartParser on any body, fed in pieces whose sizes the input also picks (the parser must
// give the same parts however the bytes arrive). Only a 400 Problem may come out of it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/problem.hpp"
#include "http/multipart.hpp"

namespace {

struct Parsed {
    std::string events;  // "P<name>|<filename>|<type>", data bytes, "E" per part end, "D" at done
    bool failed = false;
    std::string error;
};

// `split` picks piece sizes (1-64) from its bytes in turn; empty means one piece.
Parsed parse(std::string_view body, std::string_view split) {
    kiln::http::MultipartParser parser("kilnfuzz", {.max_parts = 8, .max_header_bytes = 512});
    Parsed out;
    std::size_t at = 0;
    std::size_t turn = 0;
    try {
        for (;;) {
            const auto kind = parser.next(7);
            switch (kind) {
                case kiln::http::MultipartParser::Kind::need_more:
                    if (at == body.size()) {
                        parser.finish();
                        continue;
                    }
                    {
                        const std::size_t n = split.empty()
                                                  ? body.size()
                                                  : 1 + static_cast<unsigned char>(split[turn++ % split.size()]) % 64;
                        parser.feed(body.substr(at, n));
                        at += std::min(n, body.size() - at);
                    }
                    continue;
                case kiln::http::MultipartParser::Kind::part: {
                    const auto& h = parser.headers();
                    out.events += "P" + h.name + "|" + h.filename.value_or("-") + "|" + h.content_type;
                    continue;
                }
                case kiln::http::MultipartParser::Kind::data:
                    if (parser.data().size() > 7) __builtin_trap();
                    out.events += parser.data();
                    continue;
                case kiln::http::MultipartParser::Kind::part_end:
                    out.events += "E";
                    continue;
                case kiln::http::MultipartParser::Kind::done:
                    out.events += "D";
                    return out;
            }
        }
    } catch (const kiln::core::Problem& p) {
        if (p.status() != 400) __builtin_trap();
        out.failed = true;
        out.error = p.detail();
    }
    return out;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // The first 8 bytes pick the piece sizes; the rest is the body.
    const auto split = input.substr(0, std::min<std::size_t>(8, input.size()));
    const auto body = input.substr(split.size());
    const auto whole = parse(body, {});
    const auto pieces = parse(body, split);
    // Pieces and the whole body give the same parts, data and outcome.
    if (whole.failed != pieces.failed) {
        (void)std::fprintf(stderr, "whole: %s\npieces: %s\n", whole.failed ? whole.error.c_str() : "parsed",
                           pieces.failed ? pieces.error.c_str() : "parsed");
        __builtin_trap();
    }
    if (!whole.failed && whole.events != pieces.events) {
        (void)std::fprintf(stderr, "whole:  %s\npieces: %s\n", whole.events.c_str(), pieces.events.c_str());
        __builtin_trap();
    }
    return 0;
}
