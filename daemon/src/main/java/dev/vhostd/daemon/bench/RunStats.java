package dev.vhostd.daemon.bench;

import java.util.ArrayList;
import java.util.List;

/** Counters of one measured interval, shared by the queues of one driving thread. */
final class RunStats {
    static final int MAX_REPORTED_MISMATCHES = 10;

    final LatencyHistogram latency = new LatencyHistogram();
    long reads;
    long writes;
    long bytes;
    long errors;
    long mismatches;
    long calls;
    final List<String> mismatchReports = new ArrayList<>();

    long ops() {
        return reads + writes;
    }

    /** Counts a mismatch; the report is built only for the first few, so a bad disk does not flood memory. */
    void mismatch(java.util.function.Supplier<String> report) {
        mismatches++;
        if (mismatchReports.size() < MAX_REPORTED_MISMATCHES) {
            mismatchReports.add(report.get());
        }
    }

    /** Starts a new interval; verify failures are kept, they are never forgiven by a reset. */
    void reset() {
        latency.reset();
        reads = 0;
        writes = 0;
        bytes = 0;
        errors = 0;
        calls = 0;
    }
}
