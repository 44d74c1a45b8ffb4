#include "widgets/metadata_tree.h"
#include <QHeaderView>
#include <algorithm>
#include <map>

namespace studio {



namespace {
constexpr int kFullKeyRole = Qt::UserRole;
constexpr int kMaxShownChars = 200; // long values (chat templates, token lists) stay readable in the tooltip
}

MetadataTree::MetadataTree(QWidget* parent) : QTreeWidget(parent)
{
    setColumnCount(2);
    setHeaderLabels({tr("Key"), tr("Value")});
    setRootIsDecorated(true);
    setUniformRowHeights(true);
    setAlternatingRowColors(true);
    header()->setStretchLastSection(true);
    header()->setSectionResizeMode(0, QHeaderView::Interactive);
}

void MetadataTree::setMetadata(const std::vector<std::pair<std::string, std::string>>& metadata,
                               const std::string& arch)
{
    clear();
    // Group order: general, the architecture, tokenizer, then others as first seen.
    std::vector<std::string> order = {"general", arch, "tokenizer"};
    std::map<std::string, std::vector<const std::pair<std::string, std::string>*>> groups;
    for (const auto& kv : metadata) {
        const auto dot = kv.first.find('.');
        const std::string group = dot == std::string::npos ? std::string("other") : kv.first.substr(0, dot);
        if (std::find(order.begin(), order.end(), group) == order.end())
            order.push_back(group);
        groups[group].push_back(&kv);
    }
    for (const std::string& group : order) {
        auto it = groups.find(group);
        if (it == groups.end())
            continue;
        auto* top = new QTreeWidgetItem(this, {QString::fromStdString(group) + QStringLiteral(".*"),
                                               tr("%n key(s)", nullptr, int(it->second.size()))});
        QFont bold = top->font(0);
        bold.setBold(true);
        top->setFont(0, bold);
        top->setFirstColumnSpanned(false);
        for (const auto* kv : it->second) {
            const QString full = QString::fromStdString(kv->first);
            const QString shortKey = group == "other" ? full : full.mid(int(group.size()) + 1);
            const QString value = QString::fromStdString(kv->second);
            QString shown = value;
            shown.replace(QLatin1Char('\n'), QStringLiteral(" ⏎ "));
            if (shown.size() > kMaxShownChars)
                shown = shown.left(kMaxShownChars) + QStringLiteral(" …");
            auto* item = new QTreeWidgetItem(top, {shortKey, shown});
            item->setData(0, kFullKeyRole, full);
            item->setToolTip(0, full);
            item->setToolTip(1, value.size() > 2000 ? value.left(2000) + QStringLiteral(" …") : value);
        }
    }
    expandAll();
    resizeColumnToContents(0);
}

QStringList MetadataTree::groupNames() const
{
    QStringList names;
    for (int i = 0; i < topLevelItemCount(); ++i)
        names << topLevelItem(i)->text(0).chopped(2);
    return names;
}

QString MetadataTree::value(const QString& key) const
{
    for (int i = 0; i < topLevelItemCount(); ++i) {
        const QTreeWidgetItem* top = topLevelItem(i);
        for (int j = 0; j < top->childCount(); ++j)
            if (top->child(j)->data(0, kFullKeyRole).toString() == key)
                return top->child(j)->text(1);
    }
    return {};
}

} // namespace studio
