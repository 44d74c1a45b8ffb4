#include "option_reader.h"
#include "bq/jobs/job.h"
#include <stdexcept>

namespace bq::quant::methods {

OptionReader::OptionReader(std::string method, const std::vector<OptionSpec>& schema, const nlohmann::json& options)
    : m_method(std::move(method)), m_merged(mergeOptions(m_method, schema, options))
{
}

void OptionReader::fail(const char* name, const std::string& expected) const
{
    throw std::invalid_argument(m_method + ": option '" + name + "' = " + value(name).dump() + ", expected " +
                                expected);
}

const nlohmann::json& OptionReader::value(const char* name) const
{
    const auto it = m_merged.find(name);
    if (it == m_merged.end()) throw std::logic_error(m_method + ": option '" + name + "' is not in its schema");
    return *it;
}

int OptionReader::integer(const char* name) const { return value(name).get<int>(); }

double OptionReader::number(const char* name) const { return value(name).get<double>(); }

bool OptionReader::flag(const char* name) const { return value(name).get<bool>(); }

std::string OptionReader::choice(const char* name) const { return value(name).get<std::string>(); }

int OptionReader::group(const char* name) const
{
    const auto& v = value(name);
    if (v.is_string()) return v.get<std::string>() == "tensor" ? -1 : 0;
    return v.get<int>();
}

OptionSpec groupOption(nlohmann::json defaultValue, std::string help, bool allowTensor)
{
    std::vector<std::string> words{"row"};
    if (allowTensor) words.push_back("tensor");
    return intOption("group", std::move(defaultValue), 1, 1 << 24, std::move(words), std::move(help));
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
