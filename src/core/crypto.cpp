#include "core/crypto.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <stdexcept>
#include <utility>
#include <vector>

namespace kiln::core {

void init_crypto() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string random_token(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    randombytes_buf(raw.data(), raw.size());
    std::string out = base64url_encode({reinterpret_cast<const char*>(raw.data()), raw.size()});
    sodium_memzero(raw.data(), raw.size());
    return out;
}

Digest sha256(std::string_view data) {
    Sha256 sha;
    sha.update(data);
    return sha.finish();
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
        EVP_MD_CTX_free(ctx_);
        throw std::runtime_error("SHA-256: cannot initialise OpenSSL's digest");
    }
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(ctx_);
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
    std::swap(ctx_, other.ctx_);
    return *this;
}

// OpenSSL's SHA-256 fails only on a context that was not initialised (a moved-from one).
void Sha256::update(std::string_view data) {
    if (ctx_ == nullptr || EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) {
        throw std::logic_error("SHA-256: update on a finished or moved-from digest");
    }
}

Digest Sha256::finish() {
    Digest d{};
    unsigned int n = 0;
    if (ctx_ == nullptr || EVP_DigestFinal_ex(ctx_, d.data(), &n) != 1 || n != d.size()) {
        throw std::logic_error("SHA-256: finish on a finished or moved-from digest");
    }
    return d;
}

Digest hmac_sha256(std::string_view key, std::string_view data) {
    Digest d{};
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    crypto_auth_hmacsha256_final(&st, d.data());
    sodium_memzero(&st, sizeof st);
    return d;
}

std::string md5_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> d{};
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), d.data(), &n, EVP_md5(), nullptr) != 1) {
        throw std::runtime_error("MD5 failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::size_t{n} * 2);
    for (unsigned int i = 0; i < n; ++i) {
        out.push_back(kHex[d[i] >> 4U]);
        out.push_back(kHex[d[i] & 0x0fU]);
    }
    return out;
}

std::string to_hex(const Digest& d) {
    std::string out(d.size() * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), d.data(), d.size());
    out.pop_back();
    return out;
}

std::optional<Digest> digest_from_hex(std::string_view hex) {
    const auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    Digest d{};
    if (hex.size() != d.size() * 2) return std::nullopt;
    for (std::size_t i = 0; i < d.size(); ++i) {
        const int hi = nibble(hex[2 * i]);
        const int lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        d[i] = static_cast<std::uint8_t>((hi << 4) | lo);
    }
    return d;
}

std::string_view as_bytes(const Digest& d) {
    return {reinterpret_cast<const char*>(d.data()), d.size()};
}

namespace {
std::string encode_base64(std::string_view data, int variant) {
    std::string out(sodium_base64_encoded_len(data.size(), variant), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                      variant);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}
}  // namespace

std::string base64_encode(std::string_view data) {
    return encode_base64(data, sodium_base64_VARIANT_ORIGINAL);
}

std::string base64url_encode(std::string_view data) {
    return encode_base64(data, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

namespace {

std::optional<std::string> decode_base64(std::string_view text, int variant) {
    std::string out(text.size() * 3 / 4 + 3, '\0');
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                          &len, &end, variant) != 0 ||
        end != text.data() + text.size()) {
        return std::nullopt;
    }
    out.resize(len);
    return out;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
    return decode_base64(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::optional<std::string> base64_decode(std::string_view text) {
    return decode_base64(text, sodium_base64_VARIANT_ORIGINAL);
}

bool equal_constant_time(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kiln::core
