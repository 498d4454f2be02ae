package dev.vhostd.daemon.metrics;

import io.prometheus.client.Collector;
import io.prometheus.client.GaugeMetricFamily;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The families whose series Micrometer cannot express cheaply: the request latency histograms,
 * folded from the queues' non-cumulative bucket counters at scrape time, and the negotiated-features
 * info metric, whose label values change with every connection.
 *
 * <p>A histogram series appears for a (device, queue, type) once that type has completed at least one
 * request: most guests never send discard or get-id, and 19 empty series per type and queue would
 * only cost Prometheus memory.
 */
final class ScrapeTimeCollector extends Collector implements Collector.Describable {
    static final String DURATION = "vhostd_request_duration_seconds";
    static final String FEATURES = "vhostd_negotiated_features_info";
    static final String BACKEND = "vhostd_backend_latency_seconds";

    private static final List<String> HISTOGRAM_LABELS = List.of("disk", "queue", "type");
    private static final List<String> BUCKET_LABELS = List.of("disk", "queue", "type", "le");

    private final Supplier<List<DeviceMetrics>> devices;

    ScrapeTimeCollector(Supplier<List<DeviceMetrics>> devices) {
        this.devices = devices;
    }

    @Override
    public List<MetricFamilySamples> collect() {
        List<MetricFamilySamples.Sample> histogram = new ArrayList<>();
        List<MetricFamilySamples.Sample> info = new ArrayList<>();
        List<MetricFamilySamples.Sample> backend = new ArrayList<>();
        long[] buckets = new long[LatencyBuckets.COUNT];
        for (DeviceMetrics device : devices.get()) {
            for (QueueMetrics queue : device.queues()) {
                String queueLabel = Integer.toString(queue.index());
                for (RequestType type : RequestType.ALL) {
                    // Sum first, buckets second: a request completing in between then shows up in the
                    // count but not the sum, never the reverse (a sum without its count).
                    long sumNanos = queue.latencySumNanos(type);
                    long count = queue.latencyBuckets(type, buckets);
                    if (count == 0) {
                        continue;
                    }
                    List<String> labels = List.of(device.name(), queueLabel, type.label());
                    long cumulative = 0;
                    for (int b = 0; b < LatencyBuckets.COUNT; b++) {
                        cumulative += buckets[b];
                        histogram.add(new MetricFamilySamples.Sample(DURATION + "_bucket", BUCKET_LABELS,
                                List.of(device.name(), queueLabel, type.label(), LatencyBuckets.leLabel(b)),
                                cumulative));
                    }
                    histogram.add(new MetricFamilySamples.Sample(DURATION + "_count", HISTOGRAM_LABELS, labels, count));
                    histogram.add(new MetricFamilySamples.Sample(DURATION + "_sum", HISTOGRAM_LABELS, labels,
                            sumNanos / 1e9));
                }
            }
            long backendSum = device.backendLatencySumNanos();
            long backendCount = device.backendLatencyBuckets(buckets);
            if (backendCount > 0) {
                long cumulative = 0;
                for (int b = 0; b < LatencyBuckets.COUNT; b++) {
                    cumulative += buckets[b];
                    backend.add(new MetricFamilySamples.Sample(BACKEND + "_bucket", List.of("disk", "le"),
                            List.of(device.name(), LatencyBuckets.leLabel(b)), cumulative));
                }
                backend.add(new MetricFamilySamples.Sample(BACKEND + "_count", List.of("disk"),
                        List.of(device.name()), backendCount));
                backend.add(new MetricFamilySamples.Sample(BACKEND + "_sum", List.of("disk"),
                        List.of(device.name()), backendSum / 1e9));
            }
            DeviceMetrics.Features f = device.features();
            if (f != null) {
                info.add(new MetricFamilySamples.Sample(FEATURES,
                        List.of("disk", "features", "protocol_features"),
                        List.of(device.name(), hex(f.features()), hex(f.protocolFeatures())), 1));
            }
        }
        return List.of(
                new MetricFamilySamples(DURATION, Type.HISTOGRAM,
                        "Time from popping a virtio-blk request to completing it", histogram),
                new MetricFamilySamples(BACKEND, Type.HISTOGRAM,
                        "The storage's own latency below vhostd: for rbd:, from handing a request to librbd until"
                                + " the cluster's completion is polled", backend),
                new MetricFamilySamples(FEATURES, Type.GAUGE,
                        "Feature bits negotiated with the connected front-end (virtio and vhost-user protocol)",
                        info));
    }

    @Override
    public List<MetricFamilySamples> describe() {
        return List.of(
                new GaugeMetricFamily(FEATURES, "negotiated features", List.of()),
                new MetricFamilySamples(DURATION, Type.HISTOGRAM, "request duration", List.of()),
                new MetricFamilySamples(BACKEND, Type.HISTOGRAM, "backend latency", List.of()));
    }

    private static String hex(long bits) {
        return "0x" + String.format("%016x", bits);
    }
}
