#include "gui/model_descriptions.h"
#include "bq/model/model.h"
#include <QFileInfo>
#include <QObject>
#include <set>

namespace studio {

QString describeQuantizedModel(const bq::quant::QuantizedModel& model)
{
    std::set<std::string> methods;
    for (const auto& [name, layer] : model.layers)
        methods.insert(layer.method);
    QStringList list;
    for (const std::string& m : methods)
        list << QString::fromStdString(m);
    const QString base = model.base ? QString::fromStdString(model.base->sourcePath) : QObject::tr("no base model");
    QString text = QObject::tr("%1 quantized layers of %2 (%3)")
                       .arg(model.layers.size())
                       .arg(base, list.join(QStringLiteral(", ")));
    if (!model.runPath.empty())
        text += QObject::tr(", run %1").arg(QFileInfo(QString::fromStdString(model.runPath)).fileName());
    return text;
}

} // namespace studio
