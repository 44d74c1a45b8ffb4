#include "gui/resume_check.h"
#include "bq/quant/run/run_file.h"
#include <QObject>
#include <exception>
#include <vector>

namespace studio {

namespace q = bq::quant;

ResumeCheck checkResume(const std::filesystem::path& runPath, const RunFingerprintsNow& now)
{
    ResumeCheck check;
    const QString file = QString::fromStdString(runPath.filename().string());
    std::error_code ec;
    if (runPath.empty() || !std::filesystem::exists(runPath, ec)) {
        check.state = ResumeCheck::State::NoRunFile;
        check.message = QObject::tr("No run file yet: Start creates %1.").arg(file);
        return check;
    }
    try {
        const q::RunFileReader reader(runPath);
        const q::RunHeader& h = reader.header();
        check.finishedBlocks = reader.finishedBlocks();
        check.blockCount = h.blockCount;
        const QString status = QString::fromLatin1(q::runStatusName(h.status));
        if (h.status == q::RunStatus::Completed) {
            check.state = ResumeCheck::State::Complete;
            check.message = QObject::tr("%1 holds a completed run (%2 of %3 blocks); Start replaces it.")
                                .arg(file)
                                .arg(check.finishedBlocks)
                                .arg(check.blockCount);
            return check;
        }
        const struct {
            const char* field;
            const std::string& stored;
            const std::string& current;
        } fields[] = {{"model", h.modelFingerprint, now.model},
                      {"calibration", h.calibrationFingerprint, now.calibration},
                      {"recipe", h.recipeFingerprint, now.recipe}};
        QStringList differs;
        for (const auto& f : fields)
            if (f.stored != f.current)
                differs << QObject::tr("%1 fingerprint differs (run file %2, now %3)")
                               .arg(QString::fromLatin1(f.field), QString::fromStdString(f.stored),
                                    QString::fromStdString(f.current));
        if (!differs.isEmpty()) {
            check.state = ResumeCheck::State::Mismatch;
            check.message = QObject::tr("Cannot resume %1 (%2, %3 of %4 blocks): %5. Start replaces it.")
                                .arg(file, status)
                                .arg(check.finishedBlocks)
                                .arg(check.blockCount)
                                .arg(differs.join(QStringLiteral("; ")));
            return check;
        }
        check.state = ResumeCheck::State::Resumable;
        check.message = QObject::tr("%1 is %2 after %3 of %4 blocks with the same model, calibration and recipe: "
                                    "Resume continues it, Start replaces it.")
                            .arg(file, status)
                            .arg(check.finishedBlocks)
                            .arg(check.blockCount);
    } catch (const std::exception& e) {
        check.state = ResumeCheck::State::Unreadable;
        check.message = QObject::tr("%1 is not a readable run file (%2); Start replaces it.")
                            .arg(file, QString::fromUtf8(e.what()));
    }
    return check;
}

} // namespace studio
