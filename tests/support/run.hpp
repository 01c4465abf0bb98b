#pragma once
// Runs a coroutine to completion on a private io_context, for tests.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace kiln::testing {

template <typename T>
T run(boost::asio::io_context& ctx, boost::asio::awaitable<T> task) {
    auto future = boost::asio::co_spawn(ctx, std::move(task), boost::asio::use_future);
    ctx.restart();
    ctx.run();
    return future.get();
}

template <typename T>
T run(boost::asio::awaitable<T> task) {
    boost::asio::io_context ctx;
    return run(ctx, std::move(task));
}

}  // namespace kiln::testing
