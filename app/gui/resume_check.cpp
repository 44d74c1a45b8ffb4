#include "gui/resume_check.h"

namespace studio {

ResumeCheck toResumeCheck(const bq::workflow::ResumeStatus& status)
{
    using S = bq::workflow::ResumeStatus::State;
    ResumeCheck check;
    switch (status.state) {
    case S::NoRunFile: check.state = ResumeCheck::State::NoRunFile; break;
    case S::Resumable: check.state = ResumeCheck::State::Resumable; break;
    case S::Complete: check.state = ResumeCheck::State::Complete; break;
    case S::Mismatch: check.state = ResumeCheck::State::Mismatch; break;
    case S::Unreadable: check.state = ResumeCheck::State::Unreadable; break;
    }
    QString message = QString::fromStdString(status.message);
    if (!message.isEmpty())
        message[0] = message[0].toUpper();
    check.message = message + QLatin1Char('.');
    check.finishedBlocks = status.finishedBlocks;
    check.blockCount = status.blockCount;
    return check;
}

} // namespace studio
