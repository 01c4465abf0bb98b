#pragma once
// What every worker has: the kind `batch` (a batch parent that only reports how its children
// ended) and the `jobs.retention` schedule.
#include "core/config.hpp"
#include "jobs/registry.hpp"
#include "jobs/store.hpp"

namespace kiln::jobs {

void add_builtin(Registry& registry, Store& store, const core::JobsConfig& config);

}  // namespace kiln::jobs
