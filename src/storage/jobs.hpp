#pragma once
// The storage sweep, a built-in cron task: expired tus uploads and abandoned 'uploading' files.
#include "core/config.hpp"
#include "jobs/registry.hpp"
#include "storage/tus_service.hpp"

namespace kiln::storage {

void add_jobs(jobs::Registry& registry, TusService& tus, const core::StorageConfig& config);

}  // namespace kiln::storage
