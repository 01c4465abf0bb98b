// The client address behind trusted proxies: whatever X-Forwarded-For says, a peer that is not
// trusted is the client; otherwise the client is the peer or an address the header holds, and
// every hop to its right in the header is a trusted proxy. The input is "<peer>\n<header>".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/proxies.hpp"

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const kiln::core::TrustedProxies proxies({"127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"});
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto newline = input.find('\n');
    if (newline == std::string_view::npos) return -1;
    const auto peer = input.substr(0, newline);
    const auto header = input.substr(newline + 1);
    const auto client = proxies.client(peer, header);
    if (!proxies.contains(peer)) {
        if (client != peer) __builtin_trap();
        return 0;
    }
    if (client == peer) return 0;
    // The client is one of the header's hops, and every hop after it is a trusted proxy.
    std::vector<std::string_view> hops;
    for (std::size_t start = 0;;) {
        const auto comma = header.find(',', start);
        hops.push_back(trim(header.substr(start, comma == std::string_view::npos ? comma : comma - start)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    std::size_t at = hops.size();
    while (at > 0 && hops[at - 1] != client) --at;
    if (at == 0) __builtin_trap();
    for (std::size_t i = at; i < hops.size(); ++i) {
        if (!proxies.contains(hops[i])) __builtin_trap();
    }
    return 0;
}
