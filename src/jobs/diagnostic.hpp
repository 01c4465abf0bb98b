#pragma once
#include "jobs/registry.hpp"

namespace kiln::jobs {

// system.sleep {"ms": n} sleeps n ms in steps, reporting progress and honouring cancel;
// system.fail {"message": "…", "fail_attempts": n} fails (only its first n attempts, when given);
// system.effect {"ms": n} sleeps, then records a side effect with its success (job_effects);
// system.capped {"ms": n} sleeps, at most two at once across all workers.
// system.noop returns at once with {"started_at": RFC 3339 with microseconds}.
// Registered when jobs.diagnostic_kinds is on: operators and black-box tests exercise the
// engine with them.
void add_diagnostic_kinds(Registry& registry);

}  // namespace kiln::jobs
