#include "gui/recipe_document.h"
#include "bq/util/atomic_file.h"
#include <QUndoCommand>
#include <algorithm>

namespace studio {

using bq::quant::Recipe;

class RecipeEditCommand final : public QUndoCommand {
public:
    RecipeEditCommand(RecipeDocument& doc, Recipe before, Recipe after, const QString& text)
        : QUndoCommand(text), m_doc(doc), m_before(std::move(before)), m_after(std::move(after))
    {
    }
    void redo() override { m_doc.apply(m_after); }
    void undo() override { m_doc.apply(m_before); }

private:
    RecipeDocument& m_doc;
    Recipe m_before, m_after;
};

RecipeDocument::RecipeDocument(QObject* parent) : QObject(parent), m_recipe(bq::quant::builtinRecipe("arb-rc")) {}

void RecipeDocument::apply(const Recipe& recipe)
{
    m_recipe = recipe;
    emit changed();
}

void RecipeDocument::push(const Recipe& after, const QString& what)
{
    m_undo.push(new RecipeEditCommand(*this, m_recipe, after, what)); // push() runs redo()
}

void RecipeDocument::assignToTensors(const QStringList& tensors, const Assignment& a)
{
    if (tensors.isEmpty())
        return;
    Recipe r = m_recipe;
    for (const QString& name : tensors) {
        bq::quant::RecipeOverride o;
        if (a.method) {
            o.method = *a.method;
            o.options = a.options;
            o.keepFp = false;
        } else {
            o.keepFp = true;
        }
        r.overrides[name.toStdString()] = o;
    }
    const QString what = a.method ? tr("%1 on %n tensor(s)", nullptr, int(tensors.size())).arg(QString::fromStdString(*a.method))
                                  : tr("keep %n tensor(s) in full precision", nullptr, int(tensors.size()));
    push(r, what);
}

void RecipeDocument::assignByRule(const QString& pattern, bool regex, const Assignment& a)
{
    Recipe r = m_recipe;
    bq::quant::RecipeRule rule;
    rule.pattern = pattern.toStdString();
    rule.regex = regex;
    if (a.method) {
        rule.method = *a.method;
        rule.options = a.options;
        rule.keepFp = false;
    } else {
        rule.keepFp = true;
    }
    r.rules.push_back(rule);
    push(r, tr("rule %1").arg(pattern));
}

void RecipeDocument::removeRule(int index)
{
    if (index < 0 || index >= int(m_recipe.rules.size()))
        return;
    Recipe r = m_recipe;
    const QString label = QString::fromStdString(r.rules[std::size_t(index)].label());
    r.rules.erase(r.rules.begin() + index);
    push(r, tr("remove rule %1").arg(label));
}

void RecipeDocument::moveRule(int from, int to)
{
    const int n = int(m_recipe.rules.size());
    if (from < 0 || from >= n || to < 0 || to >= n || from == to)
        return;
    Recipe r = m_recipe;
    auto rule = r.rules[std::size_t(from)];
    r.rules.erase(r.rules.begin() + from);
    r.rules.insert(r.rules.begin() + to, rule);
    push(r, tr("move rule %1").arg(QString::fromStdString(rule.label())));
}

void RecipeDocument::clearOverrides(const QStringList& tensors)
{
    Recipe r = m_recipe;
    int removed = 0;
    for (const QString& name : tensors)
        removed += int(r.overrides.erase(name.toStdString()));
    if (removed > 0)
        push(r, tr("clear %n override(s)", nullptr, removed));
}

void RecipeDocument::replace(const Recipe& recipe, const QString& what) { push(recipe, what); }

void RecipeDocument::setCalibrationFields(int samples, int seqLen, std::uint64_t seed, const std::string& sampling)
{
    if (m_recipe.samples == samples && m_recipe.seqLen == seqLen && m_recipe.seed == seed &&
        m_recipe.sampling == sampling)
        return;
    Recipe r = m_recipe;
    r.samples = samples;
    r.seqLen = seqLen;
    r.seed = seed;
    r.sampling = sampling;
    apply(r);
}

bool RecipeDocument::load(const QString& path, QString* error)
{
    try {
        replace(bq::quant::loadRecipeFile(path.toStdString()), tr("load %1").arg(path));
        return true;
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
}

bool RecipeDocument::save(const QString& path, QString* error) const
{
    try {
        bq::writeFileAtomically(path.toStdString(), m_recipe.toJson().dump(2) + "\n");
        return true;
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
}

} // namespace studio
