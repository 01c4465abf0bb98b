#include "storage/secret_box.hpp"

#include <sodium/crypto_secretbox.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

#include <algorithm>

#include "core/crypto.hpp"

namespace kiln::storage {

static_assert(SecretBox::kKeyBytes == crypto_secretbox_KEYBYTES);

SecretBox::SecretBox(const Key& key) : key_(key) {}

SecretBox::~SecretBox() {
    sodium_memzero(key_.data(), key_.size());
}

std::optional<SecretBox> SecretBox::from_base64(std::string_view key) {
    auto raw = core::base64_decode(key);
    if (!raw || raw->size() != kKeyBytes) return std::nullopt;
    Key k{};
    std::copy(raw->begin(), raw->end(), reinterpret_cast<char*>(k.data()));
    sodium_memzero(raw->data(), raw->size());
    SecretBox box(k);
    sodium_memzero(k.data(), k.size());
    return box;
}

Sealed SecretBox::seal(std::string_view plaintext) const {
    Sealed s;
    s.nonce.resize(crypto_secretbox_NONCEBYTES);
    randombytes_buf(s.nonce.data(), s.nonce.size());
    s.ciphertext.resize(plaintext.size() + crypto_secretbox_MACBYTES);
    crypto_secretbox_easy(reinterpret_cast<unsigned char*>(s.ciphertext.data()),
                          reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                          reinterpret_cast<const unsigned char*>(s.nonce.data()), key_.data());
    return s;
}

std::optional<std::string> SecretBox::open(const Sealed& sealed) const {
    if (sealed.nonce.size() != crypto_secretbox_NONCEBYTES || sealed.ciphertext.size() < crypto_secretbox_MACBYTES) {
        return std::nullopt;
    }
    std::string out(sealed.ciphertext.size() - crypto_secretbox_MACBYTES, '\0');
    if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(sealed.ciphertext.data()),
                                   sealed.ciphertext.size(),
                                   reinterpret_cast<const unsigned char*>(sealed.nonce.data()), key_.data()) != 0) {
        return std::nullopt;
    }
    return out;
}

}  // namespace kiln::storage
