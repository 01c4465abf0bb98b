#include "core/thread_pool.hpp"

namespace kiln::core {

ThreadPool::ThreadPool(std::size_t threads, std::size_t max_queued)
    : threads_(threads), max_queued_(max_queued), pool_(threads) {}

ThreadPool::~ThreadPool() {
    stop();
}

void ThreadPool::stop() {
    pool_.stop();
    pool_.join();
}

}  // namespace kiln::core
