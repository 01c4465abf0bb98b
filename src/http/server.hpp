#pragma once
// The HTTP/1.1 server: one io_context per I/O thread, one coroutine per connection, a
// deadline on every read and write, a body limit on every request, graceful drain on stop.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "core/proxies.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"

namespace kiln::http {

// N single-threaded io_contexts: a connection lives on one of them, so its coroutine never
// needs a strand and never hops threads except to the CPU pool.
class IoThreads {
public:
    explicit IoThreads(unsigned threads);
    ~IoThreads();
    IoThreads(const IoThreads&) = delete;
    IoThreads& operator=(const IoThreads&) = delete;

    boost::asio::io_context& at(std::size_t i) { return *contexts_[i]; }
    boost::asio::io_context& next();
    std::size_t size() const noexcept { return contexts_.size(); }
    void start();
    void stop();
    void join();

private:
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> next_{0};
};

class Server {
public:
    Server(const core::ServerConfig& config, const Router& router, Metrics& metrics, IoThreads& io);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens (throws when the address is taken); port 0 picks a free port.
    void listen();
    std::uint16_t port() const noexcept { return port_; }
    void start();
    // Stops accepting, lets in-flight requests finish within the grace period, then closes
    // whatever is left. Idle keep-alive connections and event streams are closed at once;
    // WebSockets are sent a close frame (1001) at once.
    boost::asio::awaitable<void> shutdown();
    std::size_t connections() const noexcept { return active_.load(); }

private:
    struct Session;
    boost::asio::awaitable<void> accept_loop();
    static boost::asio::awaitable<void> run_session(Server* self, boost::asio::ip::tcp::socket socket);
    boost::asio::awaitable<bool> handle_one(Session& s);
    boost::asio::awaitable<bool> handle_streamed_body(Session& s,
                                                      beast_http::request_parser<beast_http::empty_body>& head,
                                                      Router::Match& match, std::string request_id, std::size_t limit,
                                                      std::chrono::steady_clock::time_point start);
    boost::asio::awaitable<bool> respond(Session& s, Response& res, Verb method, std::string_view path,
                                         const std::string& request_id, bool keep_alive, std::size_t route_index,
                                         std::chrono::steady_clock::time_point start);
    boost::asio::awaitable<void> run_stream(Session& s, Request& req, Router::Match& match,
                                            std::chrono::steady_clock::time_point start);
    boost::asio::awaitable<void> run_websocket(Session& s, Request& req,
                                               const beast_http::request<beast_http::string_body>& upgrade,
                                               Router::Match& match, std::chrono::steady_clock::time_point start);
    boost::asio::awaitable<unsigned> refuse(Session& s, const Request& req, std::exception_ptr error);
    void finish_stream(const Request& req, std::size_t route_index, unsigned status,
                       std::chrono::steady_clock::time_point start, std::uint64_t bytes, const char* kind);
    void record(std::size_t route_index, Verb method, std::string_view path, unsigned status,
                std::chrono::steady_clock::time_point start, std::uint64_t bytes, std::string_view request_id,
                const char* kind = nullptr);
    static boost::asio::awaitable<void> linger(boost::beast::tcp_stream& stream);
    void register_session(Session* s);
    void unregister_session(Session* s);
    void close_sessions(bool idle_only);

    // The request's client: the peer, or whom X-Forwarded-For names when the peer is trusted.
    std::string_view client_of(Session& s, const beast_http::fields& header) const;

    const core::ServerConfig& config_;
    const core::TrustedProxies proxies_;
    const Router& router_;
    Metrics& metrics_;
    IoThreads& io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<bool> draining_{false};
    std::atomic<std::size_t> active_{0};
    std::mutex sessions_mutex_;
    std::unordered_map<Session*, boost::asio::any_io_executor> sessions_;
};

}  // namespace kiln::http
