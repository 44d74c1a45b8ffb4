#include "bq/tokenizer/documents.h"
#include <string_view>

namespace bq {

namespace {

constexpr std::string_view kSpace = " \t\r\n\v\f";

bool isBlankLine(std::string_view line)
{
    return line.find_first_not_of(kSpace) == std::string_view::npos;
}

std::string trimmed(std::string_view s)
{
    const auto b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos)
        return {};
    const auto e = s.find_last_not_of(kSpace);
    return std::string(s.substr(b, e - b + 1));
}

} // namespace

std::vector<std::string> splitDocuments(const std::string& text)
{
    std::vector<std::string> docs;
    const std::string_view all(text);
    std::size_t docStart = std::string_view::npos; // start of the current document's first line
    std::size_t docEnd = 0;                        // end of its last non-blank line
    std::size_t pos = 0;
    while (pos <= all.size()) {
        std::size_t nl = all.find('\n', pos);
        if (nl == std::string_view::npos)
            nl = all.size();
        const std::string_view line = all.substr(pos, nl - pos);
        if (isBlankLine(line)) {
            if (docStart != std::string_view::npos) {
                if (auto d = trimmed(all.substr(docStart, docEnd - docStart)); !d.empty())
                    docs.push_back(std::move(d));
                docStart = std::string_view::npos;
            }
        } else {
            if (docStart == std::string_view::npos)
                docStart = pos;
            docEnd = nl;
        }
        if (nl == all.size())
            break;
        pos = nl + 1;
    }
    if (docStart != std::string_view::npos)
        if (auto d = trimmed(all.substr(docStart, docEnd - docStart)); !d.empty())
            docs.push_back(std::move(d));
    return docs;
}

} // namespace bq
