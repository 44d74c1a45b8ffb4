// The recipe being edited on the Layers page, with undo/redo. Every edit is one QUndoCommand holding the recipe
// before and after (recipes are small), so undo is exact whatever the edit did. Edits become what the CLI reads:
// per-tensor overrides for selected rows, or a rule (glob or regex) appended after the others (the last matching
// rule wins). GUI thread.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include <QObject>
#include <QString>
#include <QStringList>
#include <QUndoStack>
#include <optional>

namespace studio {

class RecipeDocument : public QObject {
    Q_OBJECT
public:
    explicit RecipeDocument(QObject* parent = nullptr);

    const bq::quant::Recipe& recipe() const { return m_recipe; }
    QUndoStack* undoStack() { return &m_undo; }

    // What an edit assigns: a method with options (merged over the method's defaults), or full precision.
    struct Assignment {
        std::optional<std::string> method; // nullopt = keep in full precision
        nlohmann::json options = nlohmann::json::object();
    };
    // Overrides for each tensor (one undo step for the whole selection).
    void assignToTensors(const QStringList& tensors, const Assignment& assignment);
    // A new rule matching `pattern` (glob, or a regex when `regex`), appended last.
    void assignByRule(const QString& pattern, bool regex, const Assignment& assignment);
    void removeRule(int index);             // 0-based
    void moveRule(int from, int to);        // 0-based; later rules win
    void clearOverrides(const QStringList& tensors);
    // Replaces the whole recipe (a preset, a loaded file); `what` names the step in the undo history.
    void replace(const bq::quant::Recipe& recipe, const QString& what);
    // Calibration fields the calibration panel owns (samples, length, seed, sampling): no undo step of their own.
    void setCalibrationFields(int samples, int seqLen, std::uint64_t seed, const std::string& sampling);

    // Recipe JSON files (the format bitstudio-cli --recipe reads). Errors name the file and every problem.
    bool load(const QString& path, QString* error);
    bool save(const QString& path, QString* error) const;

signals:
    void changed();

private:
    friend class RecipeEditCommand;
    void apply(const bq::quant::Recipe& recipe); // no undo step; emits changed()
    void push(const bq::quant::Recipe& after, const QString& what);

    bq::quant::Recipe m_recipe;
    QUndoStack m_undo;
};

} // namespace studio
