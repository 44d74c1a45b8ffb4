#include "bq/quant/run/run_file.h"
#include "run_file_common.h"
#include <stdexcept>

namespace bq::quant {

using h5::Handle;

void writeEvalGroup(const h5::Ctx& c, hid_t file, const nlohmann::json& eval)
{
    h5::removeLink(c, file, "eval");
    Handle g = h5::createGroup(c, file, "eval");
    if (eval.is_object()) {
        for (const auto& [key, value] : eval.items()) {
            if (value.is_number_integer()) h5::writeAttrInt(c, g.get(), key, value.get<std::int64_t>(), true);
            else if (value.is_number()) h5::writeAttr(c, g.get(), key, value.get<double>());
            else if (value.is_string()) h5::writeAttr(c, g.get(), key, value.get<std::string>());
            else if (value.is_boolean()) h5::writeAttrInt(c, g.get(), key, value.get<bool>(), false);
        }
    }
    h5::writeStringDataset(c, g.get(), "json", eval.dump(2));
}

void writeRunEval(const std::filesystem::path& run, const nlohmann::json& eval)
{
    h5::silence();
    const h5::Ctx c{run.string()};
    Handle file = openRunFile(c, true);
    const std::string status = h5::readAttrString(c, file.get(), "status");
    if (status == runStatusName(RunStatus::Running))
        throw std::runtime_error(c.file + ": the run's status is \"running\" (a job may be writing it, or it was "
                                          "interrupted: resume it first); the evaluation is not stored");
    writeEvalGroup(c, file.get(), eval);
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) c.writeFail("file", "flush");
    if (H5Fclose(file.release()) < 0) c.writeFail("file", "close");
}

} // namespace bq::quant
