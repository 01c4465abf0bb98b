#include "http/response_writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

namespace asio = boost::asio;

namespace kiln::http {

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
}

ResponseWriter::ResponseWriter(boost::beast::tcp_stream& stream, std::chrono::milliseconds write_timeout,
                               std::function<void(Response&)> decorate)
    : stream_(stream), write_timeout_(write_timeout), decorate_(std::move(decorate)) {}

asio::awaitable<bool> ResponseWriter::start(Response head) {
    started_ = true;
    head.version(11);
    head.body().clear();
    decorate_(head);
    status_ = head.result_int();
    const auto length = head[beast_http::field::content_length];
    promised_ = length.empty() ? 0 : std::stoull(std::string(length));
    beast_http::response_serializer<beast_http::string_body> serializer(head);
    stream_.expires_after(write_timeout_);
    auto [ec, n] = co_await beast_http::async_write_header(stream_, serializer, kUseTuple);
    if (ec) broken_ = true;
    co_return !broken_;
}

asio::awaitable<bool> ResponseWriter::write(std::string_view data) {
    if (broken_ || !started_) co_return false;
    stream_.expires_after(write_timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(data), kUseTuple);
    written_ += n;
    if (ec || written_ > promised_) broken_ = true;
    co_return !broken_;
}

}  // namespace kiln::http
