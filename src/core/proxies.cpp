#include "core/proxies.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <optional>
#include <stdexcept>

namespace kiln::core {

namespace {

constexpr unsigned kMappedPrefix = 96;  // ::ffff:0:0/96 holds the IPv4 addresses

// An address as 16 bytes, IPv4 ones mapped into IPv6 so that one comparison serves both.
std::optional<std::array<std::uint8_t, 16>> bytes_of(std::string_view text) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    if (a.is_v4()) return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4()).to_bytes();
    return a.to_v6().to_bytes();
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

TrustedProxies::TrustedProxies(const std::vector<std::string>& entries) {
    for (const auto& entry : entries) {
        const auto slash = entry.find('/');
        const auto address = std::string_view(entry).substr(0, slash);
        const auto bytes = bytes_of(address);
        const bool v4 = address.find(':') == std::string_view::npos;
        unsigned prefix = 128;
        bool ok = bytes.has_value();
        if (ok && slash != std::string::npos) {
            const auto bits = std::string_view(entry).substr(slash + 1);
            unsigned n = 0;
            const auto [end, err] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
            ok = !bits.empty() && err == std::errc{} && end == bits.data() + bits.size() && n <= (v4 ? 32U : 128U);
            prefix = v4 ? kMappedPrefix + n : n;
        }
        if (!ok) throw std::invalid_argument(entry);
        networks_.push_back({*bytes, prefix});
    }
}

bool TrustedProxies::contains(std::string_view ip) const {
    const auto bytes = bytes_of(ip);
    if (!bytes) return false;
    for (const auto& net : networks_) {
        bool inside = true;
        for (unsigned bit = 0; bit < net.prefix && inside; ++bit) {
            const unsigned mask = 0x80U >> (bit % 8);
            inside = ((*bytes)[bit / 8] & mask) == (net.bytes[bit / 8] & mask);
        }
        if (inside) return true;
    }
    return false;
}

std::string TrustedProxies::client(std::string_view peer, std::string_view forwarded_for) const {
    std::string client(peer);
    if (forwarded_for.empty() || !contains(peer)) return client;
    for (auto rest = forwarded_for; !rest.empty();) {
        const auto comma = rest.rfind(',');
        const auto hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (!bytes_of(hop)) break;
        client = hop;
        if (!contains(hop)) break;
    }
    return client;
}

}  // namespace kiln::core
