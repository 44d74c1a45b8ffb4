#include "gui/model_load_controller.h"
#include "bq/demo/demo_model.h"
#include "bq/workflow/open_model.h"
#include "bq/model/model.h"
#include <QElapsedTimer>
#include <QFileInfo>
#include <exception>

namespace studio {

using namespace bq;

QString ModelLoadRequest::description() const
{
    if (demo)
        return QObject::tr("the built-in demo model");
    QString d = QFileInfo(path).fileName().isEmpty() ? path : QFileInfo(path).fileName();
    if (!tokenizerPath.isEmpty())
        d += QObject::tr(" (tokenizer %1)").arg(QFileInfo(tokenizerPath).fileName());
    return d;
}

void ModelLoadWorker::load(quint64 id, const ModelLoadRequest& request)
{
    QElapsedTimer timer;
    timer.start();
    try {
        std::shared_ptr<const Model> model;
        if (request.demo) {
            model = makeDemoModel();
        } else {
            bq::workflow::OpenOptions options;
            options.tokenizer = request.tokenizerPath.toStdString();
            options.requireTokenizer = false; // a model without one still shows; text features say why not
            const std::string spec = request.path.toStdString();
            if (bq::workflow::isRunFileSpec(spec)) {
                // A run file: its base model, and the quantized layers of its finished blocks.
                auto run = std::make_shared<const bq::quant::QuantizedModel>(bq::workflow::openRunFile(spec, options));
                model = run->base;
                emit runOpened(id, std::move(run));
            } else {
                model = bq::workflow::openModel(spec, options);
            }
        }
        if (!model)
            throw std::runtime_error("the loader returned no model");
        emit loaded(id, std::move(model), double(timer.nsecsElapsed()) * 1e-9);
    } catch (const std::exception& e) {
        emit failed(id, QString::fromUtf8(e.what()));
    } catch (...) {
        emit failed(id, tr("unknown error while loading %1").arg(request.description()));
    }
}

ModelLoadController::ModelLoadController(QObject* parent) : QObject(parent)
{
    qRegisterMetaType<std::shared_ptr<const bq::Model>>();
    qRegisterMetaType<std::shared_ptr<const bq::quant::QuantizedModel>>();
    m_thread.setObjectName(QStringLiteral("model-loader"));
    m_worker = new ModelLoadWorker;
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker, &ModelLoadWorker::loaded, this, &ModelLoadController::onLoaded, Qt::QueuedConnection);
    connect(m_worker, &ModelLoadWorker::failed, this, &ModelLoadController::onFailed, Qt::QueuedConnection);
    connect(
        m_worker, &ModelLoadWorker::runOpened, this,
        [this](quint64 id, std::shared_ptr<const bq::quant::QuantizedModel> run) {
            if (id == m_latest)
                m_run = std::move(run);
        },
        Qt::QueuedConnection);
    m_thread.start();
}

ModelLoadController::~ModelLoadController()
{
    m_thread.quit();
    m_thread.wait();
}

quint64 ModelLoadController::load(const ModelLoadRequest& request)
{
    const quint64 id = ++m_latest;
    m_run.reset();
    ++m_pending;
    emit started(request.description());
    ModelLoadWorker* worker = m_worker;
    QMetaObject::invokeMethod(worker, [worker, id, request] { worker->load(id, request); }, Qt::QueuedConnection);
    return id;
}

void ModelLoadController::onLoaded(quint64 id, std::shared_ptr<const bq::Model> model, double seconds)
{
    --m_pending;
    if (id != m_latest)
        return; // superseded by a newer load()
    if (m_run)
        emit runOpened(std::exchange(m_run, nullptr));
    emit loaded(std::move(model), seconds);
}

void ModelLoadController::onFailed(quint64 id, const QString& message)
{
    --m_pending;
    if (id != m_latest)
        return;
    emit failed(message);
}

} // namespace studio
