// studio::JobController: jobs on a worker thread, events as queued signals, cancel, destruction mid-job.
#include "gui/event_loop_probe.h"
#include "gui/job_controller.h"
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <thread>

using namespace studio;

TEST_CASE("a job runs off the GUI thread and its events arrive on it, in order, finished last", "[gui][jobs]")
{
    JobController controller(QStringLiteral("test-job"));
    QThread* gui = QThread::currentThread();
    std::atomic<QThread*> jobThread{nullptr};
    std::vector<int> steps;
    bool finishedLast = false;
    QObject::connect(&controller, &JobController::progress, [&](const bq::ProgressEvent& e) {
        CHECK(QThread::currentThread() == gui);
        steps.push_back(e.step);
    });
    QObject::connect(&controller, &JobController::finished, [&](const bq::JobResult& r) {
        finishedLast = steps.size() == 3;
        CHECK(r.status == bq::JobStatus::Completed);
        CHECK(r.message == "done");
    });
    QSignalSpy finished(&controller, &JobController::finished);
    REQUIRE(controller.start([&](bq::EventSink& sink, const bq::CancelToken&) {
        jobThread = QThread::currentThread();
        for (int i = 1; i <= 3; ++i)
            sink.progress({bq::Stage::Quantize, i, 3, 0, 0, 0, -1, 0});
        sink.log(bq::LogLevel::Info, "log line");
        return bq::JobResult{bq::JobStatus::Completed, "done", {}};
    }));
    CHECK_FALSE(controller.start([](bq::EventSink&, const bq::CancelToken&) { return bq::JobResult{}; }));
    REQUIRE(finished.wait(5000));
    CHECK(jobThread.load() != gui);
    CHECK(steps == std::vector<int>{1, 2, 3});
    CHECK(finishedLast);
    CHECK_FALSE(controller.isRunning());
}

TEST_CASE("cancel reaches a running job at once, and a throwing job is reported as failed", "[gui][jobs]")
{
    JobController controller(QStringLiteral("test-cancel"));
    QSignalSpy finished(&controller, &JobController::finished);
    EventLoopProbe probe;
    probe.start();
    controller.start([](bq::EventSink&, const bq::CancelToken& cancel) {
        while (!cancel.requested())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return bq::JobResult{bq::JobStatus::Cancelled, "cancelled", {}};
    });
    QTest::qWait(50);
    const auto t0 = std::chrono::steady_clock::now();
    controller.cancel();
    REQUIRE(finished.wait(2000));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
    CHECK(finished.at(0).at(0).value<bq::JobResult>().status == bq::JobStatus::Cancelled);
    probe.stop();
    CHECK(probe.samples() > 0); // the event loop kept turning while the job ran
    CHECK(probe.maxBusyMs() < 250); // GUI-thread work; a loaded machine may still delay ticks (maxStallMs)

    controller.start([](bq::EventSink&, const bq::CancelToken&) -> bq::JobResult {
        throw std::runtime_error("broken job");
    });
    REQUIRE(finished.wait(2000));
    const auto r = finished.at(1).at(0).value<bq::JobResult>();
    CHECK(r.status == bq::JobStatus::Failed);
    CHECK(r.message == "broken job");
}

TEST_CASE("destroying a controller mid-job cancels it and waits for it", "[gui][jobs]")
{
    std::atomic<bool> stopped{false};
    {
        JobController controller(QStringLiteral("test-destroy"));
        controller.start([&](bq::EventSink&, const bq::CancelToken& cancel) {
            while (!cancel.requested())
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            stopped = true;
            return bq::JobResult{bq::JobStatus::Cancelled, "cancelled", {}};
        });
        QTest::qWait(20);
    }
    CHECK(stopped.load());
}
