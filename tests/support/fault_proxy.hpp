#pragma once
// An HTTP/1.1 proxy in front of s3rver, on its own thread, that injects the failures S3 has (503
// SlowDown, 500s, a server that never answers) by a rule over each request line, records the
// request lines and how many requests it held at once.
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kiln::testing {

class FaultProxy {
public:
    // What to do with one request: forward it (status 0), answer `status` with an S3 error body,
    // or never answer; `drop_bytes` forwards the body without its last bytes (a store that kept
    // less than it was sent).
    struct Action {
        unsigned status = 0;
        bool stall = false;
        std::size_t drop_bytes = 0;
    };
    // Called with "METHOD target" under the proxy's lock, once per request.
    using Rule = std::function<Action(const std::string& line)>;
    enum class Mode { pass, fail_part2_once, fail_part2_always, stall };

    FaultProxy(boost::asio::ip::tcp::endpoint upstream, Rule rule)
        : upstream_(std::move(upstream)), rule_(std::move(rule)) {
        acceptor_.open(boost::asio::ip::tcp::v4());
        acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen();
        boost::asio::co_spawn(io_, accept_loop(this), [](const std::exception_ptr&) {});
        thread_ = std::thread([this] { io_.run(); });
    }
    FaultProxy(boost::asio::ip::tcp::endpoint upstream, Mode mode) : FaultProxy(std::move(upstream), rule_for(mode)) {}
    ~FaultProxy() {
        io_.stop();
        thread_.join();
    }
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    std::string endpoint() const { return fmt::format("http://127.0.0.1:{}", acceptor_.local_endpoint().port()); }
    std::vector<std::string> seen() {
        const std::lock_guard lock(mutex_);
        return seen_;
    }
    std::size_t count(std::string_view needle) {
        const auto all = seen();
        return static_cast<std::size_t>(
            std::count_if(all.begin(), all.end(), [&](const std::string& s) { return s.find(needle) != s.npos; }));
    }
    // The most requests that were between read and answered at one time.
    std::size_t max_in_flight() {
        const std::lock_guard lock(mutex_);
        return max_in_flight_;
    }

    // S3's multipart part 2 (the blob store tests' cases).
    static Rule rule_for(Mode mode) {
        return [mode, failed_once = false](const std::string& line) mutable -> Action {
            if (mode == Mode::stall) return {.status = 0, .stall = true, .drop_bytes = 0};
            const bool part2 = line.find("partNumber=2&") != std::string::npos;
            if (part2 && mode == Mode::fail_part2_always) return {.status = 500, .stall = false, .drop_bytes = 0};
            if (part2 && mode == Mode::fail_part2_once && !failed_once) {
                failed_once = true;
                return {.status = 503, .stall = false, .drop_bytes = 0};
            }
            return {};
        };
    }

private:
    static constexpr std::uint64_t kBodyLimit = std::uint64_t{64} << 20U;

    static boost::asio::awaitable<void> accept_loop(FaultProxy* self) {
        for (;;) {
            auto socket = co_await self->acceptor_.async_accept(boost::asio::use_awaitable);
            boost::asio::co_spawn(self->io_, serve(self, std::move(socket)), [](const std::exception_ptr&) {});
        }
    }

    static boost::asio::awaitable<void> serve(FaultProxy* self, boost::asio::ip::tcp::socket socket) {
        namespace asio = boost::asio;
        namespace beast = boost::beast;
        namespace bhttp = boost::beast::http;
        beast::tcp_stream client(std::move(socket));
        beast::flat_buffer buffer;
        for (;;) {
            bhttp::request_parser<bhttp::string_body> parser;
            parser.body_limit(kBodyLimit);
            const auto read = co_await bhttp::async_read(client, buffer, parser, asio::as_tuple(asio::use_awaitable));
            if (std::get<0>(read)) co_return;
            auto req = parser.release();
            const std::string line = std::string(req.method_string()) + " " + std::string(req.target());
            Action action;
            {
                const std::lock_guard lock(self->mutex_);
                self->seen_.push_back(line);
                action = self->rule_(line);
                self->max_in_flight_ = std::max(self->max_in_flight_, ++self->in_flight_);
            }
            if (action.stall) {
                // Never answer: wait for the client to give up and close.
                std::array<char, 1> byte{};
                co_await client.async_read_some(asio::buffer(byte), asio::as_tuple(asio::use_awaitable));
                co_return;
            }
            if (action.status != 0) {
                bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(action.status), 11};
                res.body() =
                    action.status == 503
                        ? "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                        : "<Error><Code>InternalError</Code><Message>Injected.</Message></Error>";
                res.prepare_payload();
                self->done();
                co_await bhttp::async_write(client, res, asio::use_awaitable);
                continue;
            }
            if (action.drop_bytes > 0) {
                req.body().resize(req.body().size() - std::min(action.drop_bytes, req.body().size()));
                req.prepare_payload();
            }
            beast::tcp_stream upstream(co_await asio::this_coro::executor);
            co_await upstream.async_connect(self->upstream_, asio::use_awaitable);
            co_await bhttp::async_write(upstream, req, asio::use_awaitable);
            beast::flat_buffer up_buffer;
            bhttp::response_parser<bhttp::string_body> res;
            res.body_limit(kBodyLimit);
            res.skip(req.method() == bhttp::verb::head);  // its Content-Length announces no body
            co_await bhttp::async_read(upstream, up_buffer, res, asio::use_awaitable);
            auto answer = res.release();
            self->done();
            co_await bhttp::async_write(client, answer, asio::use_awaitable);
        }
    }

    void done() {
        const std::lock_guard lock(mutex_);
        --in_flight_;
    }

    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_{io_};
    boost::asio::ip::tcp::endpoint upstream_;
    Rule rule_;
    std::mutex mutex_;
    std::vector<std::string> seen_;
    std::size_t in_flight_ = 0;
    std::size_t max_in_flight_ = 0;
    std::thread thread_;
};

}  // namespace kiln::testing
