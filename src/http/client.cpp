#include "http/client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace asio = boost::asio;

namespace kiln::http {

namespace {

// A sink is handed the body in chunks of about this size; the transfer pauses past it.
constexpr std::size_t kSinkChunk = std::size_t{256} * 1024;
// A BodySource is read this much at a time, one chunk ahead of the one being sent.
constexpr std::size_t kSourceChunk = std::size_t{1} << 20U;
constexpr std::size_t kUploadBuffer = std::size_t{512} * 1024;

[[noreturn]] void throw_aborted() {
    throw boost::system::system_error(asio::error::operation_aborted);
}

// A socket curl asked us to watch. The descriptor never owns the fd: curl closes it, after
// release() took it out of the reactor (so a reused fd number is never confused with it).
struct Socket {
    Socket(const asio::any_io_executor& ex, curl_socket_t fd) : fd(fd), descriptor(ex, fd) {}
    curl_socket_t fd;
    asio::posix::stream_descriptor descriptor;
    int want = 0;
    bool reading = false;
    bool writing = false;
    bool closed = false;
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

}  // namespace

struct Transfer;

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
    explicit Impl(asio::any_io_executor executor);
    ~Impl() { shutdown(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void attach(Transfer* t);
    void detach(Transfer* t);
    void act(curl_socket_t fd, int events);
    void collect_done();
    void watch(const std::shared_ptr<Socket>& s);
    void forget(curl_socket_t fd);
    void shutdown();

    static int on_socket(CURL* easy, curl_socket_t fd, int what, void* user, void* socketp);
    static int on_timer(CURLM* multi, long timeout_ms, void* user);
    static int on_close(void* user, curl_socket_t fd);

    asio::any_io_executor ex;
    asio::steady_timer timer;
    CURLM* multi;
    std::map<curl_socket_t, std::shared_ptr<Socket>> sockets;
    std::set<Transfer*> transfers;
};

// One request in flight; lives in the frame of the perform() awaiting it.
struct Transfer {
    Transfer(Client::Impl* owner, ClientRequest req) : owner(owner), request(std::move(req)), wake(owner->ex) {}
    ~Transfer() {
        if (attached) owner->detach(this);
        if (easy != nullptr) curl_easy_cleanup(easy);
        if (headers != nullptr) curl_slist_free_all(headers);
    }
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    void configure();
    void signal() {
        signalled = true;
        wake.cancel();
    }
    bool to_sink() const { return request.sink != nullptr && status >= 200 && status < 300; }

    std::size_t read_source(char* data, std::size_t n);
    bool wants_source() const { return request.source != nullptr && !upload.back_ready && !upload.ended && !done; }

    static std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user);
    static std::size_t on_read(char* data, std::size_t size, std::size_t count, void* user);
    static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user);

    Client::Impl* owner;
    ClientRequest request;
    ClientResponse response;
    asio::steady_timer wake;  // waited on by perform(); cancelled to wake it
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    long status = 0;      // of the response being received (interim ones included)
    std::string pending;  // for the sink, not yet written
    bool paused = false;  // the write callback refused data until the sink catches up
    // The body from a BodySource: curl sends `front` while perform() reads the next chunk into `back`.
    struct Upload {
        std::vector<char> front;
        std::vector<char> back;
        std::size_t at = 0;        // sent of front
        std::size_t end = 0;       // filled of front
        std::size_t back_end = 0;  // filled of back
        bool back_ready = false;
        bool ended = false;   // the source said 0
        bool paused = false;  // the read callback had nothing to give
    } upload;
    bool attached = false;
    bool done = false;
    bool aborted = false;
    bool signalled = false;
    CURLcode code = CURLE_OK;
    std::exception_ptr error;
    std::array<char, CURL_ERROR_SIZE> error_buffer{};
};

// ---- Transfer -------------------------------------------------------------------------------

std::size_t Transfer::on_write(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    if (!t->to_sink()) {
        if (t->response.body.size() + n > t->request.max_body) {
            t->error = std::make_exception_ptr(
                std::runtime_error(fmt::format("response body larger than {} bytes", t->request.max_body)));
            return 0;
        }
        t->response.body.append(data, n);
        return n;
    }
    if (t->pending.size() >= kSinkChunk) {
        t->paused = true;
        return CURL_WRITEFUNC_PAUSE;  // curl keeps this data and hands it over again on unpause
    }
    t->pending.append(data, n);
    if (t->pending.size() >= kSinkChunk) t->signal();
    return n;
}

std::size_t Transfer::on_read(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    if (t->request.source != nullptr) return t->read_source(data, size * count);
    if (!t->request.body) return 0;
    try {
        return t->request.body(std::span<char>(data, size * count));
    } catch (...) {
        t->error = std::current_exception();
        return CURL_READFUNC_ABORT;
    }
}

std::size_t Transfer::read_source(char* data, std::size_t n) {
    auto& u = upload;
    if (u.at == u.end && u.back_ready) {
        std::swap(u.front, u.back);
        u.at = 0;
        u.end = u.back_end;
        u.back_ready = false;
        signal();  // perform() reads the next chunk
    }
    if (u.at < u.end) {
        const std::size_t k = std::min(n, u.end - u.at);
        std::memcpy(data, u.front.data() + u.at, k);
        u.at += k;
        return k;
    }
    if (u.ended) return 0;
    u.paused = true;
    signal();
    return CURL_READFUNC_PAUSE;  // perform() unpauses once the next chunk is read
}

std::size_t Transfer::on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    const std::string_view line(data, n);
    if (line.starts_with("HTTP/")) {
        // A new response (after a 100 Continue, say): its headers replace the previous ones.
        t->response.headers.clear();
        const auto sp = line.find(' ');
        if (sp != std::string_view::npos) {
            long code = 0;
            std::from_chars(line.data() + sp + 1, line.data() + line.size(), code);
            t->status = code;
        }
        return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    std::string name(trim(line.substr(0, colon)));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    t->response.headers.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
    return n;
}

void Transfer::configure() {
    easy = curl_easy_init();
    if (easy == nullptr) throw std::runtime_error("curl_easy_init failed");
    auto check = [](CURLcode rc, const char* what) {
        if (rc != CURLE_OK) throw std::runtime_error(fmt::format("curl option {}: {}", what, curl_easy_strerror(rc)));
    };
    check(curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str()), "url");
    check(curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols");
    curl_easy_setopt(easy, CURLOPT_PRIVATE, this);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer.data());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, request.low_speed_limit);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.low_speed_time.count()));
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Transfer::on_read);
    curl_easy_setopt(easy, CURLOPT_READDATA, this);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &Client::Impl::on_close);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, owner);

    // No 100-continue round trip: the servers we talk to answer errors after the body anyway.
    headers = curl_slist_append(headers, "Expect:");
    for (const auto& [name, value] : request.headers) {
        // "Name;" is curl's spelling of a header with an empty value.
        std::string line = name;
        if (value.empty()) {
            line += ";";
        } else {
            line.append(": ").append(value);
        }
        auto* next = curl_slist_append(headers, line.c_str());
        if (next == nullptr) throw std::bad_alloc();
        headers = next;
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    if (!request.aws_sigv4.empty()) {
        check(curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str()), "aws_sigv4");
        curl_easy_setopt(easy, CURLOPT_USERPWD, request.user_password.c_str());
    }

    const auto& m = request.method;
    const bool has_body = request.body || request.source != nullptr;
    // A streamed body goes out in bigger writes than curl's 64 KiB default: fewer callbacks and
    // send()s per MiB.
    if (request.source != nullptr) curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, static_cast<long>(kUploadBuffer));
    const auto size = request.body_size ? static_cast<curl_off_t>(*request.body_size) : curl_off_t{-1};
    if (m == "HEAD") {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (m == "PUT") {
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, has_body ? size : curl_off_t{0});
    } else if (has_body) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, size);
        if (m != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m.c_str());
    } else if (m == "POST") {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t{0});
    } else if (m != "GET") {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m.c_str());
    }
}

// ---- Impl: the multi handle and its callbacks -------------------------------------------------

Client::Impl::Impl(asio::any_io_executor executor) : ex(std::move(executor)), timer(ex), multi(curl_multi_init()) {
    if (multi == nullptr) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
}

void Client::Impl::attach(Transfer* t) {
    const auto rc = curl_multi_add_handle(multi, t->easy);
    if (rc != CURLM_OK) throw std::runtime_error(fmt::format("curl_multi_add_handle: {}", curl_multi_strerror(rc)));
    t->attached = true;
    transfers.insert(t);
}

void Client::Impl::detach(Transfer* t) {
    if (!t->attached) return;
    t->attached = false;
    transfers.erase(t);
    if (multi != nullptr) curl_multi_remove_handle(multi, t->easy);
}

void Client::Impl::act(curl_socket_t fd, int events) {
    if (multi == nullptr) return;
    int running = 0;
    curl_multi_socket_action(multi, fd, events, &running);
    collect_done();
}

void Client::Impl::collect_done() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        // Read everything before detaching: the message dies with remove_handle.
        const CURLcode code = msg->data.result;  // NOLINT(cppcoreguidelines-pro-type-union-access): curl's API
        char* priv = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        auto* t = reinterpret_cast<Transfer*>(priv);
        detach(t);
        t->code = code;
        t->done = true;
        t->signal();
    }
}

void Client::Impl::watch(const std::shared_ptr<Socket>& s) {
    auto arm = [this, &s](bool write) {
        bool& busy = write ? s->writing : s->reading;
        if (busy) return;
        busy = true;
        const auto type = write ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read;
        s->descriptor.async_wait(type, [weak = weak_from_this(), s, write](boost::system::error_code ec) {
            (write ? s->writing : s->reading) = false;
            auto self = weak.lock();
            if (!self || s->closed || ec == asio::error::operation_aborted) return;
            int events = write ? CURL_CSELECT_OUT : CURL_CSELECT_IN;
            if (ec) events = CURL_CSELECT_ERR;
            self->act(s->fd, events);
            if (!s->closed) self->watch(s);
        });
    };
    if ((s->want & CURL_POLL_IN) != 0) arm(false);
    if ((s->want & CURL_POLL_OUT) != 0) arm(true);
}

void Client::Impl::forget(curl_socket_t fd) {
    const auto it = sockets.find(fd);
    if (it == sockets.end()) return;
    it->second->closed = true;
    // Pending waits finish with operation_aborted; the fd stays curl's.
    it->second->descriptor.release();
    sockets.erase(it);
}

int Client::Impl::on_socket(CURL* /*easy*/, curl_socket_t fd, int what, void* user, void* /*socketp*/) {
    auto* self = static_cast<Impl*>(user);
    if (what == CURL_POLL_REMOVE) {
        self->forget(fd);
        return 0;
    }
    auto& s = self->sockets[fd];
    if (!s) {
        try {
            s = std::make_shared<Socket>(self->ex, fd);
        } catch (const std::exception&) {
            self->sockets.erase(fd);
            return -1;
        }
    }
    s->want = what;
    self->watch(s);
    return 0;
}

int Client::Impl::on_timer(CURLM* /*multi*/, long timeout_ms, void* user) {
    auto* self = static_cast<Impl*>(user);
    if (timeout_ms < 0) {
        self->timer.cancel();
        return 0;
    }
    // Never act from inside a curl callback: a zero timeout still goes through the reactor.
    self->timer.expires_after(std::chrono::milliseconds(timeout_ms));
    self->timer.async_wait([weak = self->weak_from_this()](boost::system::error_code ec) {
        if (ec) return;
        if (auto s = weak.lock()) s->act(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
}

int Client::Impl::on_close(void* user, curl_socket_t fd) {
    static_cast<Impl*>(user)->forget(fd);
    return ::close(fd);
}

void Client::Impl::shutdown() {
    if (multi == nullptr) return;
    const std::vector<Transfer*> live(transfers.begin(), transfers.end());
    for (auto* t : live) {
        detach(t);
        t->aborted = true;
        t->done = true;
        t->signal();
    }
    curl_multi_cleanup(multi);  // closes pooled connections through on_close
    multi = nullptr;
    for (auto& [fd, s] : sockets) {
        s->closed = true;
        s->descriptor.release();
    }
    sockets.clear();
    timer.cancel();
}

// ---- Client ----------------------------------------------------------------------------------

std::optional<std::string> ClientResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return a == std::tolower(static_cast<unsigned char>(b));
            })) {
            return v;
        }
    }
    return std::nullopt;
}

bool ClientError::timed_out() const noexcept {
    return code == CURLE_OPERATION_TIMEDOUT;
}

Client::Client(asio::any_io_executor ex) {
    static std::once_flag curl_ready;
    std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    impl_ = std::make_shared<Impl>(std::move(ex));
}

Client::~Client() {
    impl_->shutdown();
}

asio::awaitable<ClientResponse> Client::perform(ClientRequest request) {
    // The frame keeps the state alive: the Client may be destroyed while this waits.
    const auto impl = impl_;
    const auto ex = co_await asio::this_coro::executor;
    if (&asio::query(ex, asio::execution::context) != &asio::query(impl->ex, asio::execution::context)) {
        throw std::logic_error("http::Client::perform called from another io_context");
    }
    if (impl->multi == nullptr) throw_aborted();
    Transfer t(impl.get(), std::move(request));
    t.configure();
    if (t.request.source != nullptr) {
        t.upload.front.resize(kSourceChunk);
        t.upload.back.resize(kSourceChunk);
    }
    impl->attach(&t);
    for (;;) {
        if (t.wants_source()) {
            auto& u = t.upload;
            const std::size_t n = co_await t.request.source->read(u.back);
            u.back_end = n;
            if (n == 0) {
                u.ended = true;
            } else {
                u.back_ready = true;
            }
            if (u.paused && t.attached) {
                u.paused = false;
                curl_easy_pause(t.easy, CURLPAUSE_CONT);  // may call on_read at once
            }
            continue;
        }
        if (!t.pending.empty() && (t.pending.size() >= kSinkChunk || t.done)) {
            std::string chunk;
            chunk.swap(t.pending);
            co_await t.request.sink->write(chunk);
            if (t.paused && t.attached) {
                t.paused = false;
                curl_easy_pause(t.easy, CURLPAUSE_CONT);  // may hand data to on_write at once
            }
            continue;
        }
        if (t.done) break;
        t.signalled = false;
        t.wake.expires_at(asio::steady_timer::time_point::max());
        co_await t.wake.async_wait(asio::as_tuple(asio::use_awaitable));
        // Woken without a signal: the awaiting coroutine was cancelled (its slot cancelled the wait).
        if (!t.signalled) throw_aborted();
    }
    if (t.error) std::rethrow_exception(t.error);
    if (t.aborted) throw_aborted();
    if (t.code != CURLE_OK) {
        const std::string detail = t.error_buffer[0] != '\0' ? t.error_buffer.data() : curl_easy_strerror(t.code);
        throw ClientError(static_cast<int>(t.code), fmt::format("{} {}: {}", t.request.method, t.code, detail));
    }
    t.response.status = t.status;
    co_return std::move(t.response);
}

}  // namespace kiln::http
