package dev.vhostd.daemon.disk;

import dev.vhostd.daemon.metrics.DeviceMetrics;
import dev.vhostd.daemon.metrics.QueueMetrics;
import dev.vhostd.protocol.engine.VhostUserEngine;
import dev.vhostd.protocol.poll.PollerStats;
import dev.vhostd.protocol.wire.VhostUserException;

/** Feeds one device's session and poller events into its metrics. */
public final class DeviceTelemetry implements VhostUserEngine.SessionListener, VhostUserEngine.StatsFactory {
    private final DeviceMetrics metrics;

    public DeviceTelemetry(DeviceMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public PollerStats forQueue(int queueIndex) {
        QueueMetrics q = metrics.queue(queueIndex);
        return new PollerStats() {
            @Override
            public void kicks(long count) {
                q.kicksReceived(count);
            }

            @Override
            public void pollerTime(long busyNanos, long blockedNanos) {
                q.busyNanos(busyNanos);
                q.blockedNanos(blockedNanos);
            }

            @Override
            public void notificationSent() {
                q.notificationSent();
            }

            @Override
            public void notificationSuppressed() {
                q.notificationSuppressed();
            }

            @Override
            public void pollIteration(boolean foundWork) {
                q.pollIteration(foundWork);
            }
        };
    }

    @Override
    public void featuresNegotiated(long features, long protocolFeatures) {
        metrics.connected(features, protocolFeatures);
    }

    @Override
    public void invalidRing(int queueIndex, RuntimeException cause) {
        metrics.queue(queueIndex).invalidInput(dev.vhostd.daemon.metrics.InvalidKind.BAD_CHAIN);
    }

    @Override
    public void invalidMessage(VhostUserException reason) {
        metrics.invalidFrontendMessage();
    }

    @Override
    public void ended() {
        metrics.dirtyLogging(false);
        metrics.disconnected();
    }

    @Override
    public void dirtyLogChanged(long bytes) {
        metrics.dirtyLogChanged();
    }

    @Override
    public void dirtyLogging(boolean on) {
        metrics.dirtyLogging(on);
    }

    @Override
    public void dirtyPagesMarked(long pages) {
        metrics.dirtyPagesMarked(pages);
    }
}
