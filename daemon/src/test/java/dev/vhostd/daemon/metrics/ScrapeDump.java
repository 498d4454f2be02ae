package dev.vhostd.daemon.metrics;

/** Prints one exposition of a small recorded workload, for eyeballing names. */
public final class ScrapeDump {
    public static void main(String[] args) {
        try (VhostdMetrics m = VhostdMetrics.enabled()) {
            DeviceMetrics d = m.device("vda");
            d.connected(0x1_3000_0044L, 0x3aL);
            d.capacityBytes(1L << 30);
            QueueMetrics q = d.queue(0);
            q.requestStarted();
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 30_000);
            System.out.print(m.scrape());
        }
    }
}
