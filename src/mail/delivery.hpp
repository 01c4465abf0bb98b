#pragma once
// Delivers one message, blocking: SMTP through libcurl when mail.smtp_url is set, else an
// RFC 5322 .eml file in the mail directory. Runs on the CPU pool, never on an I/O thread.
// Kept apart from the sender loop so that the job engine can run it as a job kind.
#include <filesystem>
#include <stdexcept>
#include <string>

#include "core/config.hpp"
#include "mail/model.hpp"

namespace kiln::mail {

// A delivery that failed; the message may succeed on a later attempt. what() never holds a
// secret (no credentials, no body).
class DeliveryError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Delivery {
public:
    // `home` is $KILN_HOME (may be empty): the default mail directory is its mail/ folder.
    Delivery(const core::MailConfig& config, const std::string& home);

    void deliver(const Outgoing& m) const;
    bool smtp() const noexcept { return !config_.smtp_url.empty(); }
    const std::filesystem::path& dir() const noexcept { return dir_; }

private:
    void write_file(const Outgoing& m, const std::string& text) const;
    void send_smtp(const Outgoing& m, const std::string& text) const;

    const core::MailConfig& config_;
    std::filesystem::path dir_;
};

}  // namespace kiln::mail
