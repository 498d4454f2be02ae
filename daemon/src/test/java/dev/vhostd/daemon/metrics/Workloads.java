package dev.vhostd.daemon.metrics;

/** Recorded workloads shared by the exposition, dashboard and Prometheus tests. */
final class Workloads {
    private Workloads() {}

    /** Touches every recording method once, so that every family has at least one series. */
    static void touchEverything(DeviceMetrics device) {
        device.connected(0x1_3000_0044L, 0x3aL);
        device.capacityBytes(1L << 30);
        device.guestMemoryMapped(() -> 256L << 20);
        device.invalidFrontendMessage();
        QueueMetrics q = device.queue(0);
        for (RequestType type : RequestType.values()) {
            q.setInFlight(1);
            q.requestCompleted(type, RequestStatus.OK, 4096, 25_000);
            q.setInFlight(0);
        }
        q.kicksReceived(3);
        q.notificationSent();
        q.notificationSuppressed();
        q.pollIteration(true);
        q.pollIteration(false);
        q.busyNanos(1_000);
        q.blockedNanos(2_000);
        for (InvalidKind kind : InvalidKind.values()) {
            q.invalidInput(kind);
        }
        q.backendError();
    }

    /** One fully exercised device in an enabled registry, scraped. */
    static Exposition scrapeOfEverything() {
        try (VhostdMetrics metrics = VhostdMetrics.enabled();
                dev.vhostd.protocol.poll.PollerGroup pollers = new dev.vhostd.protocol.poll.PollerGroup("m", 1, 50)) {
            touchEverything(metrics.device("vda"));
            metrics.pollers(pollers.pollers());
            return new Exposition(metrics.scrape());
        }
    }
}
