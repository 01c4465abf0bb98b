#pragma once
// Seals the secrets of storage connections with libsodium's crypto_secretbox (XSalsa20-Poly1305)
// under the deployment's master key (storage.master_key): each seal takes a fresh random nonce,
// stored beside the ciphertext, and opening checks the authentication tag.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::storage {

struct Sealed {
    std::string nonce;       // crypto_secretbox_NONCEBYTES (24) raw bytes
    std::string ciphertext;  // the plaintext's length + crypto_secretbox_MACBYTES (16)
};

class SecretBox {
public:
    static constexpr std::size_t kKeyBytes = 32;
    using Key = std::array<unsigned char, kKeyBytes>;

    explicit SecretBox(const Key& key);
    // From storage.master_key as configured (base64 of 32 bytes); nullopt when it is empty or
    // malformed (Config::resolve_secrets refuses a malformed one at start).
    static std::optional<SecretBox> from_base64(std::string_view key);
    ~SecretBox();
    SecretBox(const SecretBox& other) = default;
    SecretBox& operator=(const SecretBox& other) = default;
    SecretBox(SecretBox&& other) noexcept = default;
    SecretBox& operator=(SecretBox&& other) noexcept = default;

    Sealed seal(std::string_view plaintext) const;
    // nullopt when the nonce or ciphertext is malformed, or the tag does not verify (another
    // key, or altered bytes).
    std::optional<std::string> open(const Sealed& sealed) const;

private:
    Key key_{};
};

}  // namespace kiln::storage
