#include "mail/model.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/crypto.hpp"

namespace kiln::mail {

namespace {

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// RFC 2047 "B" encoding, so a subject with non-ASCII characters survives any relay.
std::string encode_header(const std::string& value) {
    if (is_ascii(value)) return value;
    std::string b64 = core::base64url_encode(value);
    std::replace(b64.begin(), b64.end(), '-', '+');
    std::replace(b64.begin(), b64.end(), '_', '/');
    while (b64.size() % 4 != 0) b64.push_back('=');
    return "=?UTF-8?B?" + b64 + "?=";
}

// Header values never carry a line break (that would let a value add headers).
std::string one_line(std::string s) {
    std::replace_if(
        s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
    return s;
}

std::string duration(unsigned seconds) {
    if (seconds % 86400 == 0) return fmt::format("{} day{}", seconds / 86400, seconds == 86400 ? "" : "s");
    if (seconds % 3600 == 0) return fmt::format("{} hour{}", seconds / 3600, seconds == 3600 ? "" : "s");
    if (seconds % 60 == 0) return fmt::format("{} minute{}", seconds / 60, seconds == 60 ? "" : "s");
    return fmt::format("{} second{}", seconds, seconds == 1 ? "" : "s");
}

}  // namespace

std::string address_of(const std::string& mailbox) {
    const auto open = mailbox.rfind('<');
    const auto close = mailbox.rfind('>');
    if (open == std::string::npos || close == std::string::npos || close < open) return mailbox;
    return mailbox.substr(open + 1, close - open - 1);
}

std::string format_rfc5322(const Message& m, const std::string& from, const core::Uuid& id, std::time_t date) {
    std::tm tm{};
    gmtime_r(&date, &tm);
    std::array<char, 64> when{};
    const auto n = std::strftime(when.data(), when.size(), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    const auto from_address = address_of(from);
    const auto at = from_address.find('@');
    const std::string domain = at == std::string::npos ? "kiln.local" : from_address.substr(at + 1);

    std::string out;
    out += "From: " + one_line(from) + "\r\n";
    out += "To: " + one_line(m.to) + "\r\n";
    out += "Subject: " + encode_header(one_line(m.subject)) + "\r\n";
    out += "Date: " + std::string(when.data(), n) + "\r\n";
    out += "Message-ID: <" + id.str() + "@" + domain + ">\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: 8bit\r\n";
    out += "\r\n";
    for (std::size_t start = 0; start <= m.body.size();) {
        auto end = m.body.find('\n', start);
        if (end == std::string::npos) end = m.body.size();
        std::string line = m.body.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out += line + "\r\n";
        start = end + 1;
    }
    return out;
}

std::chrono::milliseconds backoff(int attempts, std::chrono::milliseconds base) {
    constexpr std::chrono::milliseconds kMax = std::chrono::hours(1);
    const int doublings = std::clamp(attempts - 1, 0, 30);
    const auto wait = base.count() * (std::int64_t{1} << doublings);
    return std::min(kMax, std::chrono::milliseconds(wait));
}

std::string link(const std::string& base, const std::string& path, const std::string& token) {
    std::string out = base;
    while (!out.empty() && out.back() == '/') out.pop_back();
    return out + path + "?token=" + token;
}

Message password_reset_mail(const std::string& to, const std::string& link, unsigned ttl_s) {
    return {to, "Reset your Kiln password",
            fmt::format("Someone (hopefully you) asked to reset the password of the Kiln account {}.\n\n"
                        "Choose a new password here:\n\n{}\n\n"
                        "The link works once, for {}. Resetting signs you out everywhere.\n"
                        "If you did not ask for this, ignore this message: your password stays as it is.\n",
                        to, link, duration(ttl_s))};
}

Message verification_mail(const std::string& to, const std::string& link, unsigned ttl_s) {
    return {to, "Confirm your email address for Kiln",
            fmt::format("Welcome to Kiln. Please confirm that {} is your address:\n\n{}\n\n"
                        "The link works once, for {}.\n",
                        to, link, duration(ttl_s))};
}

Message invitation_mail(const std::string& to, const std::string& workspace, const std::string& role,
                        const std::string& link, unsigned ttl_s) {
    return {to, fmt::format("You are invited to {} on Kiln", one_line(workspace)),
            fmt::format("You are invited to join the workspace \"{}\" on Kiln as {} {}.\n\n"
                        "Accept the invitation here (sign in or create an account with this address, {}):\n\n{}\n\n"
                        "The link works once, for {}.\n",
                        workspace, role == "admin" || role == "owner" ? "an" : "a", role, to, link, duration(ttl_s))};
}

}  // namespace kiln::mail
