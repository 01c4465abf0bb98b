#include "mail/delivery.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

namespace kiln::mail {

namespace {

std::filesystem::path mail_dir(const core::MailConfig& c, const std::string& home) {
    if (!c.dir.empty()) return c.dir;
    if (!home.empty()) return std::filesystem::path(home) / "mail";
    return std::filesystem::path(".kiln") / "mail";
}

// Feeds the message to libcurl's upload callback.
struct Upload {
    const std::string* text = nullptr;
    std::size_t sent = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* up = static_cast<Upload*>(user);
    const std::size_t n = std::min(size * count, up->text->size() - up->sent);
    std::copy_n(up->text->data() + up->sent, n, buffer);
    up->sent += n;
    return n;
}

struct CurlFree {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void ensure_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw DeliveryError(fmt::format("cannot create the mail directory {}: {}", dir.string(), ec.message()));
    // Messages hold live links: only the server's user may read them.
    if (::chmod(dir.c_str(), S_IRWXU) != 0) {
        throw DeliveryError(
            fmt::format("cannot restrict the mail directory {}: {}", dir.string(), std::strerror(errno)));
    }
}

}  // namespace

Delivery::Delivery(const core::MailConfig& config, const std::string& home)
    : config_(config), dir_(mail_dir(config, home)) {
    static std::once_flag curl_ready;
    std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void Delivery::deliver(const Outgoing& m) const {
    const auto text = format_rfc5322(m.message, config_.from, m.id, std::time(nullptr));
    if (smtp()) {
        send_smtp(m, text);
    } else {
        write_file(m, text);
    }
}

void Delivery::write_file(const Outgoing& m, const std::string& text) const {
    ensure_dir(dir_);
    // Named by the id (UUIDv7: sorts by time); written aside and renamed, so a reader never
    // sees half a message, and a retried delivery replaces rather than duplicates.
    const auto final_path = dir_ / (m.id.str() + ".eml");
    const auto temp_path = dir_ / ("." + m.id.str() + ".tmp");
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0) throw DeliveryError(fmt::format("cannot write {}: {}", temp_path.string(), std::strerror(errno)));
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = std::strerror(errno);
            ::close(fd);
            ::unlink(temp_path.c_str());
            throw DeliveryError(fmt::format("cannot write {}: {}", temp_path.string(), why));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(temp_path.c_str(), final_path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        ::unlink(temp_path.c_str());
        throw DeliveryError(fmt::format("cannot write {}: {}", final_path.string(), why));
    }
}

void Delivery::send_smtp(const Outgoing& m, const std::string& text) const {
    std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
    if (!curl) throw DeliveryError("libcurl could not start a transfer");
    CURL* c = curl.get();
    const std::string from = "<" + address_of(config_.from) + ">";
    const std::string to = "<" + m.message.to + ">";
    std::unique_ptr<curl_slist, SlistFree> rcpt(curl_slist_append(nullptr, to.c_str()));
    Upload up{&text};
    std::array<char, CURL_ERROR_SIZE> error{};
    curl_easy_setopt(c, CURLOPT_URL, config_.smtp_url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (!config_.smtp_user.empty()) {
        curl_easy_setopt(c, CURLOPT_USERNAME, config_.smtp_user.c_str());
        curl_easy_setopt(c, CURLOPT_PASSWORD, config_.smtp_password.c_str());
    }
    curl_easy_setopt(c, CURLOPT_USE_SSL, config_.smtp_require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(text.size()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error.data());
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        long reply = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
        // libcurl's messages name the step and the server's reply code, never the credentials.
        throw DeliveryError(
            fmt::format("smtp: {} (reply {})", error[0] != '\0' ? error.data() : curl_easy_strerror(rc), reply));
    }
}

}  // namespace kiln::mail
