#include "bq/util/errors.h"

namespace bq {

static std::string formatMessage(const std::string& path, const std::string& field, const std::string& expected,
                                 std::int64_t offset)
{
    std::string msg = path + ": " + field;
    if (offset >= 0)
        msg += " (at byte " + std::to_string(offset) + ")";
    msg += ": expected " + expected;
    return msg;
}

FormatError::FormatError(std::string path, std::string field, std::string expected, std::int64_t offset)
    : std::runtime_error(formatMessage(path, field, expected, offset)), m_path(std::move(path)),
      m_field(std::move(field)), m_expected(std::move(expected)), m_offset(offset)
{
}

} // namespace bq
