#include "widgets/layer_plot.h"

namespace studio {

void LayerPlot::setLayer(const bq::LayerResult& result)
{
    m_layer = result;
    markDirty();
}

void LayerPlot::clearLayer()
{
    m_layer.reset();
    markDirty();
}

void LayerPlot::setAnalysisNote(const QString& note)
{
    m_note = note;
    markDirty();
}

const std::vector<double>* LayerPlot::array(const char* key) const
{
    if (!m_layer || !m_layer->arrays)
        return nullptr;
    const auto it = m_layer->arrays->values.find(key);
    return it == m_layer->arrays->values.end() || it->second.empty() ? nullptr : &it->second;
}

double LayerPlot::metric(const char* key, double fallback) const
{
    if (!m_layer)
        return fallback;
    const auto it = m_layer->metrics.find(key);
    return it == m_layer->metrics.end() ? fallback : it->second;
}

QString LayerPlot::tensorName() const
{
    return m_layer ? QString::fromStdString(m_layer->tensor) : QString();
}

QString LayerPlot::missingText() const
{
    if (!m_layer)
        return tr("select a layer in the table");
    if (m_layer->method == "fp")
        return tr("%1\nkept in full precision").arg(tensorName());
    if (!m_note.isEmpty())
        return tr("%1\nnot computed: %2").arg(tensorName(), m_note);
    return tr("%1\nnot computed for this layer").arg(tensorName());
}

} // namespace studio
