package dev.vhostd.daemon.metrics;

/**
 * What /healthz reports about the daemon as a whole; per-device connection state comes from
 * {@link DeviceMetrics#isConnected()}. Called on the HTTP server's threads, so it must be cheap and
 * thread-safe (reading a volatile field is the intended implementation).
 */
@FunctionalInterface
public interface HealthState {
    /**
     * True from the moment every device socket is listening until shutdown begins. A device
     * waiting for its front-end is still serving: a daemon with no VM attached is healthy.
     */
    boolean serving();

    /** Null when healthy, otherwise why not, for the /healthz body. */
    default String problem() {
        return serving() ? null : "not serving";
    }
}
