#include "bq/util/limits.h"
#include "bq/util/errors.h"

namespace bq {

int jsonNestingDepth(std::string_view text, int maxDepth) noexcept
{
    int depth = 0, deepest = 0;
    bool inString = false, escape = false;
    for (const char ch : text) {
        if (inString) {
            if (escape)
                escape = false;
            else if (ch == '\\')
                escape = true;
            else if (ch == '"')
                inString = false;
            continue;
        }
        switch (ch) {
        case '"': inString = true; break;
        case '[':
        case '{':
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > maxDepth)
                    return deepest;
            }
            break;
        case ']':
        case '}':
            if (depth > 0)
                --depth;
            break;
        default: break;
        }
    }
    return deepest;
}

void checkJsonDepth(std::string_view text, const std::string& path, const std::string& field)
{
    if (jsonNestingDepth(text) > limits::kMaxJsonDepth)
        throw FormatError(path, field,
                          "JSON nested at most " + std::to_string(limits::kMaxJsonDepth) +
                              " levels deep (the depth limit; this text nests deeper)");
}

} // namespace bq
