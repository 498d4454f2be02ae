package dev.vhostd.backend;

/**
 * Receives a backend's own latency samples (see {@link BlockBackend#recordsLatency}). Called on the
 * poller threads for every request, so implementations must not allocate or block.
 */
@FunctionalInterface
public interface LatencyRecorder {
    LatencyRecorder NONE = nanos -> { };

    void record(long nanos);
}
