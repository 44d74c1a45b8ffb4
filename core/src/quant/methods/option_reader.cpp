#include "option_reader.h"
#include "bq/jobs/job.h"
#include <stdexcept>

namespace bq::quant::methods {

OptionReader::OptionReader(std::string method, const nlohmann::json& defaults, const nlohmann::json& options)
    : m_method(std::move(method)), m_merged(defaults)
{
    if (options.is_null()) return;
    if (!options.is_object()) throw std::invalid_argument(m_method + ": options must be a JSON object");
    for (const auto& [key, v] : options.items()) {
        if (!defaults.contains(key)) {
            std::string known;
            for (const auto& [k, unused] : defaults.items()) known += (known.empty() ? "" : ", ") + k;
            throw std::invalid_argument(m_method + ": unknown option '" + key + "' (known: " + known + ")");
        }
        m_merged[key] = v;
    }
}

void OptionReader::fail(const char* name, const std::string& expected) const
{
    throw std::invalid_argument(m_method + ": option '" + name + "' = " + value(name).dump() + ", expected " +
                                expected);
}

const nlohmann::json& OptionReader::value(const char* name) const
{
    const auto it = m_merged.find(name);
    if (it == m_merged.end()) throw std::logic_error(m_method + ": option '" + name + "' has no default");
    return *it;
}

int OptionReader::integer(const char* name, int lo, int hi) const
{
    const auto& v = value(name);
    const std::string range = "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
    if (!v.is_number_integer()) fail(name, range);
    const auto x = v.get<long long>();
    if (x < lo || x > hi) fail(name, range);
    return int(x);
}

double OptionReader::number(const char* name, double lo, double hi) const
{
    const auto& v = value(name);
    const std::string range = "a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (!v.is_number()) fail(name, range);
    const double x = v.get<double>();
    if (!(x >= lo && x <= hi)) fail(name, range);
    return x;
}

bool OptionReader::flag(const char* name) const
{
    const auto& v = value(name);
    if (!v.is_boolean()) fail(name, "true or false");
    return v.get<bool>();
}

std::string OptionReader::choice(const char* name, std::initializer_list<const char*> allowed) const
{
    const auto& v = value(name);
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : " | ") + std::string(a);
    if (!v.is_string()) fail(name, list);
    const std::string s = v.get<std::string>();
    for (const char* a : allowed)
        if (s == a) return s;
    fail(name, list);
}

int OptionReader::group(const char* name, bool allowTensor) const
{
    const auto& v = value(name);
    const std::string expected = std::string(allowTensor ? "\"tensor\", " : "") + "\"row\" or a positive column count";
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (s == "row") return 0;
        if (allowTensor && s == "tensor") return -1;
        fail(name, expected);
    }
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > (1 << 24)) fail(name, expected);
    return int(v.get<long long>());
}

const MatrixXfR& requireWeight(const QuantizeRequest& request, const char* method)
{
    if (!request.weight || request.weight->size() == 0)
        throw std::invalid_argument(std::string(method) + ": " + request.tensor + ": no weight given");
    return *request.weight;
}

const Eigen::MatrixXd& requireGram(const QuantizeRequest& request, const char* method)
{
    const auto m = requireWeight(request, method).cols();
    if (!request.stats.gram)
        throw std::invalid_argument(std::string(method) + ": " + request.tensor +
                                    ": needs the calibration Gram (LayerStatistics::gram)");
    if (request.stats.gram->rows() != m || request.stats.gram->cols() != m)
        throw std::invalid_argument(std::string(method) + ": " + request.tensor + ": Gram is not " +
                                    std::to_string(m) + "×" + std::to_string(m));
    return *request.stats.gram;
}

void checkCancel(const QuantizeRequest& request)
{
    if (request.cancel) request.cancel->throwIfRequested();
}

QuantizedLinear emptyResult(const QuantizeRequest& request, const char* method)
{
    QuantizedLinear q;
    q.tensor = request.tensor;
    q.method = method;
    q.rows = request.weight ? request.weight->rows() : 0;
    q.cols = request.weight ? request.weight->cols() : 0;
    return q;
}

} // namespace bq::quant::methods
