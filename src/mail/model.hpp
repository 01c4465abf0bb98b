#pragma once
// Mail: what the outbox holds and how a message looks on the wire (RFC 5322).
#include <chrono>
#include <ctime>
#include <string>

#include "core/uuid.hpp"

namespace kiln::mail {

struct Message {
    std::string to;  // one address, already validated (no CR/LF)
    std::string subject;
    std::string body;  // plain text, lines separated by \n
};

// A claimed outbox row.
struct Outgoing {
    core::Uuid id;
    Message message;
    int attempts = 0;  // including the one now being made
};

// The message as RFC 5322 text with CRLF line ends: From, To, Subject (RFC 2047-encoded when
// not ASCII), Date, Message-ID, MIME headers, then the body as UTF-8 text.
std::string format_rfc5322(const Message& m, const std::string& from, const core::Uuid& id, std::time_t date);

// The address part of "Name <addr>" (or the whole string when it has no angle brackets).
std::string address_of(const std::string& mailbox);

// How long to wait before the next attempt after `attempts` failed ones: base * 2^(attempts-1),
// at most an hour.
std::chrono::milliseconds backoff(int attempts, std::chrono::milliseconds base);

// The messages Kiln sends. `link` carries the token; it is built by the caller from
// server.public_url.
Message password_reset_mail(const std::string& to, const std::string& link, unsigned ttl_s);
Message verification_mail(const std::string& to, const std::string& link, unsigned ttl_s);
Message invitation_mail(const std::string& to, const std::string& workspace, const std::string& role,
                        const std::string& link, unsigned ttl_s);

// `base` + `path` + "?token=" + token, with one slash between base and path.
std::string link(const std::string& base, const std::string& path, const std::string& token);

}  // namespace kiln::mail
