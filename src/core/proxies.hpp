#pragma once
// The client's address behind reverse proxies. X-Forwarded-For is believed only from peers the
// operator lists (server.trusted_proxies), and only as far back as the chain stays among them:
// anyone can send the header, so an address it names is the client's only when a trusted proxy
// appended it.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::core {

class TrustedProxies {
public:
    TrustedProxies() = default;
    // Each entry an IP address or a CIDR network ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8").
    // Throws std::invalid_argument naming the first entry that is neither.
    explicit TrustedProxies(const std::vector<std::string>& entries);

    bool empty() const noexcept { return networks_.empty(); }
    // Whether `ip` (text; an IPv4-mapped IPv6 address counts as its IPv4 one) is a trusted proxy.
    bool contains(std::string_view ip) const;
    // The client address of a request from `peer` carrying `forwarded_for` (its X-Forwarded-For
    // values in order, joined by commas): the peer unless it is trusted; else, reading the chain
    // from the right, the first address that is not a trusted proxy — or the leftmost when all
    // are. An entry that is not an address ends the walk at the last trusted hop.
    std::string client(std::string_view peer, std::string_view forwarded_for) const;

private:
    struct Network {
        std::array<std::uint8_t, 16> bytes{};  // IPv4 as IPv4-mapped IPv6
        unsigned prefix = 0;                   // bits, of the 128
    };
    std::vector<Network> networks_;
};

}  // namespace kiln::core
