// One job, several listeners: a job takes one EventSink, the studio wants its plots, the log and the status bar
// to hear it. Forwards every event to each sink, in the order they were added, on the job thread.
#pragma once
#include "bq/jobs/job.h"
#include <initializer_list>
#include <vector>

namespace bq {

class FanoutSink final : public EventSink {
public:
    FanoutSink() = default;
    FanoutSink(std::initializer_list<EventSink*> sinks) : m_sinks(sinks) {}
    void add(EventSink& sink) { m_sinks.push_back(&sink); }

    void progress(const ProgressEvent& e) override
    {
        for (EventSink* s : m_sinks)
            s->progress(e);
    }
    void layerDone(const LayerResult& r) override
    {
        for (EventSink* s : m_sinks)
            s->layerDone(r);
    }
    void blockDone(const BlockResult& r) override
    {
        for (EventSink* s : m_sinks)
            s->blockDone(r);
    }
    void log(LogLevel level, std::string_view text) override
    {
        for (EventSink* s : m_sinks)
            s->log(level, text);
    }

private:
    std::vector<EventSink*> m_sinks; // not owned
};

} // namespace bq
