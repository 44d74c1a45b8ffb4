// Text as documents: the unit perplexity (`docs` mode) scores and calibration samples from.
#pragma once
#include <string>
#include <vector>

namespace bq {

// Splits text into blank-line separated documents (one or more empty lines separate; surrounding
// whitespace trimmed; empty documents dropped).
std::vector<std::string> splitDocuments(const std::string& text);

} // namespace bq
