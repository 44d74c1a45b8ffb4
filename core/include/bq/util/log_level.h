// Severity of a log line, shared by the core's event sinks and the front ends' log views.
#pragma once
#include <cstdint>

namespace bq {

enum class LogLevel : std::uint8_t { Debug, Info, Warning, Error };

} // namespace bq
