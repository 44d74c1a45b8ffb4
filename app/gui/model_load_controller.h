// Loads models off the GUI thread: a worker QObject lives on a QThread owned by the controller (GPT4All
// chatllm pattern). load() returns at once; loaded()/failed() arrive on the GUI thread. bq::loadModel cannot
// be interrupted, so a newer load() supersedes an older one: the older result is dropped when it arrives.
// Destruction waits for a running load to finish (quit() then wait()).
#pragma once
#include "gui/meta_types.h"
#include "bq/model/model.h"
#include "bq/quant/quantized_model.h"
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QThread>
#include <memory>

namespace studio {

struct ModelLoadRequest {
    QString path;          // file, HF directory or run file (.h5); ignored when demo
    QString tokenizerPath; // optional tokenizer override (llama2.c checkpoints)
    bool demo = false;     // build the built-in demo model instead
    QString description() const;
};

// Runs on the controller's thread. Never throws: every error becomes failed().
class ModelLoadWorker : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    void load(quint64 id, const ModelLoadRequest& request);

signals:
    void loaded(quint64 id, std::shared_ptr<const bq::Model> model, double seconds);
    void runOpened(quint64 id, std::shared_ptr<const bq::quant::QuantizedModel> run); // before loaded()
    void failed(quint64 id, const QString& message);
};

class ModelLoadController : public QObject {
    Q_OBJECT
public:
    explicit ModelLoadController(QObject* parent = nullptr);
    ~ModelLoadController() override;

    // Starts a load; returns its id. Emits started() immediately.
    quint64 load(const ModelLoadRequest& request);
    bool isLoading() const { return m_pending > 0; }

signals:
    void started(const QString& description);
    // A run file was opened: its quantized model (finished blocks), emitted right before loaded(run->base).
    void runOpened(std::shared_ptr<const bq::quant::QuantizedModel> run);
    void loaded(std::shared_ptr<const bq::Model> model, double seconds);
    void failed(const QString& message);

private:
    void onLoaded(quint64 id, std::shared_ptr<const bq::Model> model, double seconds);
    void onFailed(quint64 id, const QString& message);

    QThread m_thread;
    ModelLoadWorker* m_worker = nullptr; // owned by m_thread's finished() → deleteLater
    quint64 m_latest = 0;
    int m_pending = 0;
    std::shared_ptr<const bq::quant::QuantizedModel> m_run; // of the latest load, until its loaded() goes out
};

} // namespace studio
