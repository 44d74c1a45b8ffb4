// The live estimate of the Layers page (quant/recipe/recipe.h Estimate): output size, full bits per weight over
// the quantized matrices and overall, peak memory of the run and its parts, the recipe's warnings, or the
// reason the recipe does not apply. Every figure has a tooltip saying what it counts. GUI thread.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include <QWidget>
#include <vector>

class QLabel;
class QPlainTextEdit;

namespace studio {

class EstimatePanel : public QWidget {
    Q_OBJECT
public:
    explicit EstimatePanel(QWidget* parent = nullptr);

    void setEstimate(const bq::quant::Estimate& estimate, const std::vector<std::string>& warnings,
                     int quantizedMatrices, int keptMatrices);
    void setError(const QString& message); // the recipe does not resolve: shown instead of the figures
    void setPending();                     // an estimate is being computed
    void clear();

    QString sizeText() const;       // for tests and the status bar
    QString bitsText() const;
    QString peakText() const;

private:
    QLabel* m_size = nullptr;
    QLabel* m_bits = nullptr;
    QLabel* m_peak = nullptr;
    QLabel* m_parts = nullptr;
    QLabel* m_matrices = nullptr;
    QPlainTextEdit* m_messages = nullptr;
};

// "12.3 MiB", "1.02 GiB": binary units with three significant digits.
QString formatBytes(double bytes);

} // namespace studio
