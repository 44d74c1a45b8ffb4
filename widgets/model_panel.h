// The "bq::Model" dock: a summary of the loaded model, its metadata grouped by namespace and a filterable tensor
// table. View only: MainWindow hands it a loaded model. GUI thread.
#pragma once
#include <QWidget>
#include <memory>

class QFormLayout;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTabWidget;
class QTableView;

namespace bq {
struct Model;
}

namespace studio {

class MetadataTree;
class TensorTableModel;

class ModelPanel : public QWidget {
    Q_OBJECT
public:
    explicit ModelPanel(QWidget* parent = nullptr);

    void setModel(std::shared_ptr<const bq::Model> model); // nullptr shows the empty state

    // The summary value shown for a label ("Layers", "Vocabulary", ...), empty if absent.
    QString summaryValue(const QString& label) const;
    TensorTableModel* tensorModel() const { return m_tensorModel; }
    QSortFilterProxyModel* tensorProxy() const { return m_tensorProxy; }
    QTableView* tensorView() const { return m_tensorView; }
    QLineEdit* tensorFilter() const { return m_filter; }
    MetadataTree* metadataTree() const { return m_metadata; }

private:
    void applyFilter(const QString& text);

    QLabel* m_title = nullptr;
    QWidget* m_summaryBox = nullptr;
    QFormLayout* m_summary = nullptr;
    QTabWidget* m_tabs = nullptr;
    MetadataTree* m_metadata = nullptr;
    QLineEdit* m_filter = nullptr;
    QLabel* m_filterCount = nullptr;
    QTableView* m_tensorView = nullptr;
    TensorTableModel* m_tensorModel = nullptr;
    QSortFilterProxyModel* m_tensorProxy = nullptr;
};

} // namespace studio
