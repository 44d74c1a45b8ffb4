// The option schema of a quantization method: one entry per option with its type, default, range or choices and
// a one-line help. Defaults and validation come from it (mergeOptions), and the studio builds its options editor
// and tooltips from it, so a method states each option once, in its own file.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bq::quant {

enum class OptionType {
    Bool,   // true / false
    Int,    // an integer in [min, max], or one of `choices` (words that stand for a special value, e.g. "row")
    Float,  // a number in [min, max]
    Choice, // one of `choices`
};

struct OptionSpec {
    std::string name;
    OptionType type = OptionType::Bool;
    nlohmann::json defaultValue;      // the paper default; its JSON type is the one results and run files keep
    double min = 0, max = 0;          // Int and Float: the inclusive range
    std::vector<std::string> choices; // Choice: the allowed values; Int: the words accepted instead of a number
    std::string help;                 // one line (the studio's tooltip)
};

OptionSpec boolOption(std::string name, bool defaultValue, std::string help);
OptionSpec intOption(std::string name, int defaultValue, int min, int max, std::string help);
// An integer option that also accepts some words (a scale group: "row", "tensor" or a column count).
OptionSpec intOption(std::string name, nlohmann::json defaultValue, int min, int max, std::vector<std::string> words,
                     std::string help);
OptionSpec floatOption(std::string name, double defaultValue, double min, double max, std::string help);
OptionSpec choiceOption(std::string name, std::string defaultValue, std::vector<std::string> choices,
                        std::string help);

// What a value of the option may be, for messages and tooltips: "an integer in 1..4", "\"row\" or an integer in
// 1..16777216", "a number in [0, 10]", "hessian | magnitude", "true or false".
std::string allowedValues(const OptionSpec& option);

// Every option with its default, as one JSON object.
nlohmann::json optionDefaults(const std::vector<OptionSpec>& schema);

// The defaults with `overrides` (null or a JSON object) merged over them, every value checked against the
// schema. Throws std::invalid_argument naming the method, the option, the value and what is allowed:
//   "residual: option 'k' = 9, expected an integer in 1..4", "arb: unknown option 'nope' (known: ...)".
nlohmann::json mergeOptions(const std::string& method, const std::vector<OptionSpec>& schema,
                            const nlohmann::json& overrides);

} // namespace bq::quant
