// Opens a closed run file (finished, cancelled or failed) on its own worker thread and hands back what the Run
// page shows: the header, every stored layer result (RunFileReader::layers(), put in model order) and the
// per-block residual-stream metrics. HDF5 reads take long on big runs, so never on the GUI thread; and never
// while a quantization writes the same file (the page refuses it). GUI thread.
#pragma once
#include "bq/jobs/events.h"
#include "bq/quant/run/run_file.h"
#include "gui/job_controller.h"
#include "widgets/run_view.h"
#include <QObject>
#include <QString>
#include <memory>
#include <vector>

namespace studio {

struct RunFileContents {
    QString path;
    bq::quant::RunHeader header;
    std::int32_t finishedBlocks = 0;
    std::vector<bq::LayerResult> layers; // model order
    BlockMetrics blocks;
    std::string analysis;                // the recipe's analysis level, "full" or "light"
};

class RunFileController : public QObject {
    Q_OBJECT
public:
    explicit RunFileController(QObject* parent = nullptr);

    bool open(const QString& path); // false while another file is being opened
    bool isRunning() const { return m_job.isRunning(); }

signals:
    void opened(std::shared_ptr<const studio::RunFileContents> contents);
    void failed(const QString& message);

private:
    JobController m_job;
    std::shared_ptr<RunFileContents> m_loading;
};

} // namespace studio

Q_DECLARE_METATYPE(std::shared_ptr<const studio::RunFileContents>)
