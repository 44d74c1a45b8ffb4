#include "widgets/estimate_panel.h"
#include <QFormLayout>
#include <QLabel>
#include <QLocale>
#include <QPlainTextEdit>
#include <QVBoxLayout>

namespace studio {

QString formatBytes(double bytes)
{
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        ++u;
    }
    const int decimals = u == 0 ? 0 : bytes < 10 ? 2 : bytes < 100 ? 1 : 0;
    return QStringLiteral("%1 %2").arg(QLocale().toString(bytes, 'f', decimals), QString::fromLatin1(units[u]));
}

EstimatePanel::EstimatePanel(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* form = new QFormLayout;
    m_size = new QLabel(this);
    m_bits = new QLabel(this);
    m_peak = new QLabel(this);
    m_parts = new QLabel(this);
    m_matrices = new QLabel(this);
    for (QLabel* l : {m_size, m_bits, m_peak, m_parts, m_matrices})
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_parts->setWordWrap(true);
    auto addRow = [&](const QString& name, QLabel* value, const QString& tip) {
        auto* label = new QLabel(name, this);
        label->setToolTip(tip);
        value->setToolTip(tip);
        form->addRow(label, value);
    };
    addRow(tr("Output size"), m_size,
           tr("Bytes of the quantized model: every quantized matrix at its full bit count (signs, scales, means, "
              "masks, codes), kept matrices as F16, norms and biases as F32. The export format's own layout may "
              "differ; the Export page shows the exact file size."));
    addRow(tr("Bits per weight"), m_bits,
           tr("Full bits per weight over the quantized matrices (every bitmap, scale and mean counted), and over "
              "all parameters of the model (kept matrices at 16 bits, norms at 32)."));
    addRow(tr("Peak memory"), m_peak,
           tr("Estimated peak resident memory of the quantization run (within +5–10 % of the measured peak on "
              "the benchmark shapes): the sum of the parts below."));
    addRow(tr("Parts"), m_parts,
           tr("model: the loaded model and fp32 copies of the current block; stream: hidden states of every "
              "calibration token; gram: the block's float64 Grams; scratch: per-worker forward buffers; method: "
              "working memory of the layers quantized at once; result: every finished layer's parameters; base: "
              "the process and HDF5 caches."));
    addRow(tr("Matrices"), m_matrices, tr("Weight matrices quantized and kept in full precision."));
    layout->addLayout(form);
    m_messages = new QPlainTextEdit(this);
    m_messages->setReadOnly(true);
    m_messages->setMaximumHeight(80);
    m_messages->setPlaceholderText(tr("No warnings."));
    layout->addWidget(m_messages);
    clear();
}

void EstimatePanel::setEstimate(const bq::quant::Estimate& e, const std::vector<std::string>& warnings,
                                int quantizedMatrices, int keptMatrices)
{
    const QLocale locale;
    m_size->setText(formatBytes(e.outputBytes));
    m_bits->setText(tr("%1 over quantized matrices, %2 overall")
                        .arg(locale.toString(e.bitsPerWeightQuantized, 'f', 3),
                             locale.toString(e.bitsPerWeightOverall, 'f', 3)));
    m_peak->setText(formatBytes(e.peakBytes) + (e.streams == 2 ? tr(" (two streams)") : tr(" (one stream)")));
    m_parts->setText(tr("model %1 · stream %2 · gram %3 · scratch %4 · method %5 · result %6 · base %7")
                         .arg(formatBytes(e.modelBytes), formatBytes(e.streamBytes), formatBytes(e.gramBytes),
                              formatBytes(e.scratchBytes), formatBytes(e.methodBytes), formatBytes(e.resultBytes),
                              formatBytes(e.baseBytes)));
    m_matrices->setText(tr("%1 quantized, %2 kept").arg(quantizedMatrices).arg(keptMatrices));
    QStringList lines;
    for (const std::string& w : warnings)
        lines << QStringLiteral("⚠ ") + QString::fromStdString(w);
    m_messages->setPlainText(lines.join(QLatin1Char('\n')));
    m_messages->setStyleSheet({});
}

void EstimatePanel::setError(const QString& message)
{
    for (QLabel* l : {m_size, m_bits, m_peak, m_parts, m_matrices})
        l->setText(QStringLiteral("—"));
    m_messages->setPlainText(message);
    m_messages->setStyleSheet(QStringLiteral("color: #b00020;"));
}

void EstimatePanel::setPending()
{
    m_size->setText(tr("estimating…"));
}

void EstimatePanel::clear()
{
    for (QLabel* l : {m_size, m_bits, m_peak, m_parts, m_matrices})
        l->setText(QStringLiteral("—"));
    m_messages->clear();
    m_messages->setStyleSheet({});
}

QString EstimatePanel::sizeText() const { return m_size->text(); }
QString EstimatePanel::bitsText() const { return m_bits->text(); }
QString EstimatePanel::peakText() const { return m_peak->text(); }

} // namespace studio
