#include "bq/quant/methods/method_options.h"
#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace bq::quant {

namespace {

std::string number(double x)
{
    std::ostringstream s;
    s << x;
    return s.str();
}

std::string integer(double x) { return std::to_string(static_cast<long long>(x)); }

bool isChoice(const OptionSpec& option, const nlohmann::json& value)
{
    return value.is_string() &&
           std::find(option.choices.begin(), option.choices.end(), value.get<std::string>()) != option.choices.end();
}

bool inRange(const OptionSpec& option, double x) { return x >= option.min && x <= option.max; }

bool isValid(const OptionSpec& option, const nlohmann::json& value)
{
    switch (option.type) {
    case OptionType::Bool: return value.is_boolean();
    case OptionType::Int:
        return isChoice(option, value) ||
               (value.is_number_integer() && inRange(option, double(value.get<long long>())));
    case OptionType::Float: return value.is_number() && inRange(option, value.get<double>());
    case OptionType::Choice: return isChoice(option, value);
    }
    return false;
}

} // namespace

OptionSpec boolOption(std::string name, bool defaultValue, std::string help)
{
    return {std::move(name), OptionType::Bool, defaultValue, 0, 0, {}, std::move(help)};
}

OptionSpec intOption(std::string name, int defaultValue, int min, int max, std::string help)
{
    return intOption(std::move(name), nlohmann::json(defaultValue), min, max, {}, std::move(help));
}

OptionSpec intOption(std::string name, nlohmann::json defaultValue, int min, int max, std::vector<std::string> words,
                     std::string help)
{
    return {std::move(name), OptionType::Int, std::move(defaultValue), double(min), double(max), std::move(words),
            std::move(help)};
}

OptionSpec floatOption(std::string name, double defaultValue, double min, double max, std::string help)
{
    return {std::move(name), OptionType::Float, defaultValue, min, max, {}, std::move(help)};
}

OptionSpec choiceOption(std::string name, std::string defaultValue, std::vector<std::string> choices,
                        std::string help)
{
    return {std::move(name), OptionType::Choice, std::move(defaultValue), 0, 0, std::move(choices), std::move(help)};
}

std::string allowedValues(const OptionSpec& option)
{
    std::string words;
    for (const std::string& c : option.choices)
        words += (words.empty() ? "" : option.type == OptionType::Choice ? " | " : ", ") +
                 (option.type == OptionType::Choice ? c : "\"" + c + "\"");
    switch (option.type) {
    case OptionType::Bool: return "true or false";
    case OptionType::Int:
        return (words.empty() ? "" : words + " or ") + "an integer in " + integer(option.min) + ".." +
               integer(option.max);
    case OptionType::Float: return "a number in [" + number(option.min) + ", " + number(option.max) + "]";
    case OptionType::Choice: return words;
    }
    return {};
}

nlohmann::json optionDefaults(const std::vector<OptionSpec>& schema)
{
    nlohmann::json defaults = nlohmann::json::object();
    for (const OptionSpec& option : schema)
        defaults[option.name] = option.defaultValue;
    return defaults;
}

nlohmann::json mergeOptions(const std::string& method, const std::vector<OptionSpec>& schema,
                            const nlohmann::json& overrides)
{
    nlohmann::json merged = optionDefaults(schema);
    if (overrides.is_null())
        return merged;
    if (!overrides.is_object())
        throw std::invalid_argument(method + ": options must be a JSON object, got " + overrides.dump());
    for (const auto& [key, value] : overrides.items()) {
        if (!merged.contains(key)) {
            std::string known;
            for (const OptionSpec& option : schema)
                known += (known.empty() ? "" : ", ") + option.name;
            throw std::invalid_argument(method + ": unknown option '" + key + "' (known: " +
                                        (known.empty() ? "none" : known) + ")");
        }
        merged[key] = value;
    }
    for (const OptionSpec& option : schema)
        if (!isValid(option, merged[option.name]))
            throw std::invalid_argument(method + ": option '" + option.name + "' = " + merged[option.name].dump() +
                                        ", expected " + allowedValues(option));
    return merged;
}

} // namespace bq::quant
