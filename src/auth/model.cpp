#include "auth/model.hpp"

#include "auth/password.hpp"

#include <algorithm>
#include <cctype>

namespace kiln::auth {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

std::string normalize_email(std::string_view email) {
    std::string out(trim(email));
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

void check_email(core::Validator& v, const std::string& field, const std::string& email) {
    const auto e = normalize_email(email);
    const auto at = e.find('@');
    const bool shaped = at != std::string::npos && at > 0 && e.find('@', at + 1) == std::string::npos &&
                        e.find('.', at + 2) != std::string::npos && e.back() != '.' &&
                        std::none_of(e.begin(), e.end(), [](unsigned char c) { return std::isspace(c) || c < 0x20; });
    if (!shaped) return v.add(field, "must be an email address");
    if (e.size() > 254) v.add(field, "must be at most 254 characters");
}

void check_name(core::Validator& v, const std::string& field, const std::string& name) {
    const auto n = trim(name);
    if (n.empty()) return v.add(field, "must not be empty");
    if (n.size() > 200) v.add(field, "must be at most 200 characters");
}

void check_username(core::Validator& v, const std::string& field, const std::string& username) {
    if (username.size() < 3 || username.size() > 40) return v.add(field, "must be 3 to 40 characters");
    const bool ok = std::all_of(username.begin(), username.end(),
                                [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '.' || c == '-'; });
    if (!ok) v.add(field, "may contain only letters, digits, '_', '.' and '-'");
}

void RegisterRequest::validate(core::Validator& v) const {
    check_email(v, "email", email);
    check_name(v, "name", name);
    if (username) check_username(v, "username", *username);
    check_password_policy(v, "password", password, normalize_email(email), name);
    if (invitation_token) check_token(v, "invitation_token", *invitation_token);
}

void check_token(core::Validator& v, const std::string& field, const std::string& token) {
    const bool shaped = !token.empty() && token.size() <= 128 &&
                        std::all_of(token.begin(), token.end(),
                                    [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
    if (!shaped) v.add(field, "must be the token from the mail");
}

void PasswordResetRequest::validate(core::Validator& v) const {
    check_email(v, "email", email);
}

void PasswordResetConfirm::validate(core::Validator& v) const {
    check_token(v, "token", token);
    // The policy's checks against the email and name need the account: the service adds them.
    if (new_password.empty()) v.add("new_password", "must not be empty");
}

void VerifyEmailRequest::validate(core::Validator& v) const {
    check_token(v, "token", token);
}

void LoginRequest::validate(core::Validator& v) const {
    if (email.has_value() == username.has_value()) v.add("email", "give either email or username");
}

void UpdateMeRequest::validate(core::Validator& v) const {
    if (name) check_name(v, "name", *name);
    if (username) check_username(v, "username", *username);
}

}  // namespace kiln::auth
