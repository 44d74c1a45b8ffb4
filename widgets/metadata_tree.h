// bq::Model metadata as a tree grouped by namespace prefix (general.*, <arch>.*, tokenizer.*, ...), in the model's
// own key order within a group. GUI thread.
#pragma once
#include <QTreeWidget>
#include <string>
#include <utility>
#include <vector>

namespace studio {

class MetadataTree : public QTreeWidget {
    Q_OBJECT
public:
    explicit MetadataTree(QWidget* parent = nullptr);

    // arch orders its group right after general.*; clears when metadata is empty.
    void setMetadata(const std::vector<std::pair<std::string, std::string>>& metadata, const std::string& arch);
    // The top-level group names in display order (for tests and the overview).
    QStringList groupNames() const;
    // Display value of a full key ("llama.block_count"), empty if absent.
    QString value(const QString& key) const;
};

} // namespace studio
