// The studio's copy of workflow::checkResume's answer (bq/workflow/resume_check.h), as the Run page shows it.
#pragma once
#include "bq/workflow/resume_check.h"
#include <QMetaType>
#include <QString>

namespace studio {

struct ResumeCheck {
    enum class State { Unchecked, NoRunFile, Resumable, Complete, Mismatch, Unreadable };
    State state = State::Unchecked;
    QString message; // for the user: what can be resumed, or which field differs
    int finishedBlocks = 0, blockCount = 0;
    bool canResume() const { return state == State::Resumable; }
};

ResumeCheck toResumeCheck(const bq::workflow::ResumeStatus& status);

} // namespace studio

Q_DECLARE_METATYPE(studio::ResumeCheck)
