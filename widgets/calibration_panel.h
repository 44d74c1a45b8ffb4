// The calibration set of a quantization run: text sources (files, or the built-in demo text offered under the
// name ":demo text"), the blank-line separated document range taken from each, the number of windows
// (samples) and their length, the sampling seed and mode (concat | documents). The page's calibration
// controller builds the set from these settings on its thread and hands back what it found (setSummary):
// documents, tokens and windows. Emits changed() on every edit. GUI thread.
#pragma once
#include <QString>
#include <QStringList>
#include <QWidget>

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;
class QSpinBox;

namespace studio {

struct CalibrationSettings {
    static constexpr const char* kDemoText = ":demo text"; // the source name of the built-in demo text
    QStringList sources{QString::fromLatin1(kDemoText)};   // file paths or kDemoText
    int docBegin = 0, docEnd = -1;                         // [begin, end) of every source; end -1 = all
    int samples = 128, seqLen = 2048;
    quint64 seed = 0; // the panel edits 0 … 2^31 − 1
    QString sampling = QStringLiteral("concat"); // "concat" | "documents"
    bool operator==(const CalibrationSettings&) const = default;
};

// What a build of the settings found.
struct CalibrationSummary {
    int documents = 0;   // documents selected over all sources
    qint64 tokens = 0;   // calibration tokens: windows × window length
    int windows = 0, windowLength = 0;
    QString description; // provenance (sources, ranges, mode, seed)
};

class CalibrationPanel : public QWidget {
    Q_OBJECT
public:
    explicit CalibrationPanel(QWidget* parent = nullptr);

    CalibrationSettings settings() const;
    void setSettings(const CalibrationSettings& settings); // emits changed() once when it differs

    // What the page shows under the settings.
    void setBuilding();                                  // "building…"
    void setSummary(const CalibrationSummary& summary);
    void setError(const QString& message);
    QString statusText() const;

    void addSources(const QStringList& paths); // emits changed()
    QListWidget* sourceList() const { return m_sources; }
    QSpinBox* samplesBox() const { return m_samples; }
    QSpinBox* lengthBox() const { return m_length; }

signals:
    void changed();

private:
    void chooseFiles();
    void removeSelected();
    void addDemoText();
    void updateButtons();

    QListWidget* m_sources = nullptr;
    QPushButton* m_add = nullptr;
    QPushButton* m_addDemo = nullptr;
    QPushButton* m_remove = nullptr;
    QSpinBox* m_docBegin = nullptr;
    QSpinBox* m_docEnd = nullptr;
    QSpinBox* m_samples = nullptr;
    QSpinBox* m_length = nullptr;
    QSpinBox* m_seed = nullptr;
    QComboBox* m_sampling = nullptr;
    QLabel* m_status = nullptr;
    bool m_loading = false; // setSettings in progress: no changed() per field
};

} // namespace studio
