// Whether a run file can be resumed by the run about to start: it must exist, be a run file, not be complete,
// and carry the same model, calibration and recipe fingerprints as the new run's (quant/run/fingerprint.h —
// the same comparison the pipeline makes before it resumes). The message names every differing field.
// Reads the run file's header (HDF5): never call it while a quantization writes that file.
#pragma once
#include <QMetaType>
#include <QString>
#include <filesystem>
#include <string>

namespace studio {

struct ResumeCheck {
    enum class State { Unchecked, NoRunFile, Resumable, Complete, Mismatch, Unreadable };
    State state = State::Unchecked;
    QString message;         // for the user: what can be resumed, or which field differs
    int finishedBlocks = 0, blockCount = 0;
    bool canResume() const { return state == State::Resumable; }
};

struct RunFingerprintsNow {
    std::string model, calibration, recipe;
};

ResumeCheck checkResume(const std::filesystem::path& runPath, const RunFingerprintsNow& now);

} // namespace studio

Q_DECLARE_METATYPE(studio::ResumeCheck)
