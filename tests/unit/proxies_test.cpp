// The client address behind reverse proxies (server.trusted_proxies).
#include "core/proxies.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::core {
namespace {

TEST(TrustedProxies, AddressesAndNetworksOfBothFamilies) {
    const TrustedProxies p({"127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "192.168.1.0/24"});
    EXPECT_TRUE(p.contains("127.0.0.1"));
    EXPECT_FALSE(p.contains("127.0.0.2"));
    EXPECT_TRUE(p.contains("10.255.3.4"));
    EXPECT_FALSE(p.contains("11.0.0.1"));
    EXPECT_TRUE(p.contains("192.168.1.200"));
    EXPECT_FALSE(p.contains("192.168.2.1"));
    EXPECT_TRUE(p.contains("::1"));
    EXPECT_TRUE(p.contains("fd12:3456::7"));
    EXPECT_FALSE(p.contains("fe80::1"));
    EXPECT_TRUE(p.contains("::ffff:10.1.2.3"));  // a dual-stack socket's view of an IPv4 peer
    EXPECT_FALSE(p.contains("not an address"));
    EXPECT_TRUE(TrustedProxies({"0.0.0.0/0"}).contains("203.0.113.9"));
    EXPECT_FALSE(TrustedProxies({"0.0.0.0/0"}).contains("2001:db8::1"));  // IPv4's whole space only
}

TEST(TrustedProxies, EntriesThatAreNeitherAreRefusedByName) {
    for (const std::string bad :
         {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x", "example.com", "", "1.2.3.4/-1"}) {
        try {
            const TrustedProxies p({"127.0.0.1", bad});
            ADD_FAILURE() << bad << " was taken";
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()), bad);
        }
    }
}

TEST(TrustedProxies, TheClientIsTheFirstUntrustedHopFromTheRight) {
    const TrustedProxies p({"127.0.0.1", "10.0.0.0/8"});
    // Not from a trusted peer: the header is anyone's to write.
    EXPECT_EQ(p.client("203.0.113.5", "198.51.100.1"), "203.0.113.5");
    // From the proxy: the address it appended.
    EXPECT_EQ(p.client("127.0.0.1", "198.51.100.1"), "198.51.100.1");
    // A client that sends its own header cannot pick its address: the proxy appends the real one.
    EXPECT_EQ(p.client("127.0.0.1", "1.1.1.1, 198.51.100.1"), "198.51.100.1");
    // Through two trusted proxies (an inner load balancer).
    EXPECT_EQ(p.client("127.0.0.1", "198.51.100.1, 10.0.0.7"), "198.51.100.1");
    // Every hop trusted: the leftmost.
    EXPECT_EQ(p.client("127.0.0.1", "10.0.0.9,10.0.0.7"), "10.0.0.9");
    // No header, or an empty one: the peer.
    EXPECT_EQ(p.client("127.0.0.1", ""), "127.0.0.1");
    // Garbage ends the walk at the last trusted hop.
    EXPECT_EQ(p.client("127.0.0.1", "198.51.100.1, junk, 10.0.0.7"), "10.0.0.7");
    EXPECT_EQ(p.client("127.0.0.1", "junk"), "127.0.0.1");
    EXPECT_EQ(p.client("127.0.0.1", " 2001:db8::5 "), "2001:db8::5");
    // Nothing trusted: the peer, always.
    EXPECT_EQ(TrustedProxies().client("127.0.0.1", "198.51.100.1"), "127.0.0.1");
}

}  // namespace
}  // namespace kiln::core
