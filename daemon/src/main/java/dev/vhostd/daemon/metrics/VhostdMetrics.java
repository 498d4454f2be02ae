package dev.vhostd.daemon.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.prometheus.client.CollectorRegistry;

import com.sun.management.OperatingSystemMXBean;

import dev.vhostd.daemon.Version;
import dev.vhostd.protocol.poll.Poller;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * The daemon's metrics: one per process. Create it with {@link #enabled()} when {@code --metrics} is
 * given and {@link #disabled()} otherwise; in both cases devices get real {@link QueueMetrics}
 * (recording costs a few nanoseconds and stays free of mode checks), but only the enabled instance
 * registers anything or can be scraped.
 *
 * <p>Everything is read at scrape time: Micrometer function counters and gauges read the queue
 * fields, and {@link ScrapeTimeCollector} folds the latency buckets into Prometheus histograms. The
 * JVM and process binders are likewise read on scrape (the GC binder listens to GC notifications,
 * which costs per collection, not per request).
 */
@SuppressWarnings("deprecation") // the simpleclient registry is the Prometheus flavour this project pins
public final class VhostdMetrics implements AutoCloseable {
    private static final double NANOS_PER_SECOND = 1e9;
    /** The label naming the disk on every per-disk series. */
    static final String DEVICE_LABEL = "disk";

    private final PrometheusMeterRegistry registry;
    private final boolean recording;
    private final JvmGcMetrics gcMetrics;
    private final Map<String, DeviceMetrics> devices = new ConcurrentHashMap<>();

    private VhostdMetrics(PrometheusMeterRegistry registry, boolean recording) {
        this.registry = registry;
        this.recording = recording;
        if (registry == null) {
            gcMetrics = null;
            return;
        }
        // ProcessorMetrics also reports process.cpu.time in nanoseconds, which would surface as the
        // oddly named process_cpu_time_ns_total; the conventional process_cpu_seconds_total replaces it.
        registry.config().meterFilter(MeterFilter.denyNameStartsWith("process.cpu.time"));
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics = new JvmGcMetrics();
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        if (ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os) {
            FunctionCounter.builder("process.cpu", os, x -> x.getProcessCpuTime() / NANOS_PER_SECOND)
                    .description("CPU time used by the vhostd process").baseUnit("seconds").register(registry);
        }
        new UptimeMetrics().bindTo(registry);
        // What runs, for dashboards and for alerts joined on version: always 1.
        Gauge.builder("vhostd.build.info", () -> 1).description("vhostd version and Java runtime; always 1")
                .tags(Tags.of("version", Version.get(), "java_version", Runtime.version().toString()))
                .register(registry);
        // vhostd receives fds from the front-end (memory regions, eventfds): a leak shows here first.
        new FileDescriptorMetrics().bindTo(registry);
        registry.getPrometheusRegistry().register(new ScrapeTimeCollector(this::devices));
    }

    /** Metrics recorded and exposed through {@link #collectorRegistry()}. */
    public static VhostdMetrics enabled() {
        return new VhostdMetrics(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), true);
    }

    /** Metrics recorded (so callers need no checks) but never registered or exposed. */
    public static VhostdMetrics disabled() {
        return new VhostdMetrics(null, true);
    }

    /**
     * Metrics neither recorded nor exposed: devices get queues whose recording methods are empty.
     * For measuring what recording costs ({@code vhostd serve --metrics-recording off}); the
     * control API's in-flight counts then read 0.
     */
    public static VhostdMetrics notRecording() {
        return new VhostdMetrics(null, false);
    }

    public boolean isEnabled() {
        return registry != null;
    }

    /**
     * Per-poller gauges: the adaptive poll window now (0 when polling does not pay and the poller
     * sleeps as soon as its rings are idle), its ceiling (--poll-us), and how often contention for
     * its CPU switched polling off.
     */
    public void pollers(List<Poller> pollers) {
        if (!isEnabled()) {
            return;
        }
        for (Poller p : pollers) {
            Gauge.builder("vhostd.poller.poll.window", p, x -> x.pollWindowNanos() / 1e9)
                    .description("How long the poller busy-polls idle rings before they wait for a kick;"
                            + " adapts to what polling finds, up to --poll-us")
                    .baseUnit("seconds").tag("poller", p.name()).register(registry);
            Gauge.builder("vhostd.poller.poll.window.max", p, x -> x.pollCeilingNanos() / 1e9)
                    .description("The ceiling of the poll window (--poll-us)")
                    .baseUnit("seconds").tag("poller", p.name()).register(registry);
            FunctionCounter.builder("vhostd.poller.contended", p, Poller::contendedSpells)
                    .description("Times the poller stopped polling because it was preempted while polling:"
                            + " other threads (guest vCPUs, other pollers) wanted its CPU")
                    .tag("poller", p.name()).register(registry);
        }
    }

    /**
     * Creates the metrics of a device. Call once per export at startup.
     *
     * @param name the export name or socket file name, used as the {@code device} label
     * @throws IllegalArgumentException if the name is invalid or already taken
     */
    public DeviceMetrics device(String name) {
        DeviceMetrics device = new DeviceMetrics(name, isEnabled() ? this::registerQueue : (d, q) -> {}, recording);
        if (devices.putIfAbsent(name, device) != null) {
            throw new IllegalArgumentException("two devices are named \"" + name
                    + "\"; give each export a distinct name so their metrics can be told apart");
        }
        if (isEnabled()) {
            registerDevice(device);
        }
        return device;
    }

    /**
     * Forgets a device whose disk was removed: its series disappear from /metrics and /healthz, and
     * its name may be used again.
     */
    public void remove(DeviceMetrics device) {
        if (!devices.remove(device.name(), device)) {
            return;
        }
        if (isEnabled()) {
            for (io.micrometer.core.instrument.Meter m : registry.getMeters()) {
                if (device.name().equals(m.getId().getTag(DEVICE_LABEL))) {
                    registry.remove(m);
                }
            }
        }
    }

    /** The devices created so far, in no particular order. */
    public List<DeviceMetrics> devices() {
        return List.copyOf(devices.values());
    }

    /** The registry to expose over HTTP. */
    public CollectorRegistry collectorRegistry() {
        return requireEnabled().getPrometheusRegistry();
    }

    /** The whole exposition in Prometheus text format 0.0.4, as served on /metrics. */
    public String scrape() {
        return requireEnabled().scrape();
    }

    private PrometheusMeterRegistry requireEnabled() {
        if (registry == null) {
            throw new IllegalStateException("metrics are disabled (start vhostd with --metrics HOST:PORT)");
        }
        return registry;
    }

    private void registerDevice(DeviceMetrics d) {
        Tags tags = Tags.of(DEVICE_LABEL, d.name());
        counter("vhostd.connections", "Front-end connections and disconnections", null,
                tags.and("event", "connect"), d, DeviceMetrics::connects);
        counter("vhostd.connections", "Front-end connections and disconnections", null,
                tags.and("event", "disconnect"), d, DeviceMetrics::disconnects);
        gauge("vhostd.connected", "1 while a front-end is connected to the device, else 0", null,
                tags, d, x -> x.isConnected() ? 1 : 0);
        gauge("vhostd.capacity", "Size of the exported block device", "bytes",
                tags, d, DeviceMetrics::capacityBytes);
        gauge("vhostd.guest.memory.mapped", "Guest memory currently mapped for the device", "bytes",
                tags, d, DeviceMetrics::guestMemoryMappedBytes);
        counter("vhostd.dirty.pages.marked",
                "Guest pages newly marked in the front-end's dirty log while it migrates the VM", null,
                tags, d, DeviceMetrics::dirtyPagesMarked);
        counter("vhostd.dirty.log.changes", "Dirty logs (SET_LOG_BASE) accepted from the front-end", null,
                tags, d, DeviceMetrics::dirtyLogChanges);
        gauge("vhostd.dirty.logging", "1 while the front-end has dirty-page logging on (live migration), else 0",
                null, tags, d, x -> x.isDirtyLogging() ? 1 : 0);
        counter("vhostd.invalid.frontend.messages",
                "vhost-user messages from the front-end that were rejected", null,
                tags, d, DeviceMetrics::invalidFrontendMessages);
    }

    private void registerQueue(DeviceMetrics d, QueueMetrics q) {
        Tags tags = Tags.of(DEVICE_LABEL, d.name(), "queue", Integer.toString(q.index()));
        for (RequestType type : RequestType.ALL) {
            for (RequestStatus status : RequestStatus.ALL) {
                counter("vhostd.requests", "Completed virtio-blk requests by type and status", null,
                        tags.and("type", type.label(), "status", status.label()), q, x -> x.requests(type, status));
            }
        }
        counter("vhostd.read", "Bytes read by successful read requests", "bytes", tags, q, QueueMetrics::readBytes);
        counter("vhostd.written", "Bytes written by successful write requests", "bytes",
                tags, q, QueueMetrics::writtenBytes);
        gauge("vhostd.requests.in.flight", "Requests popped from the avail ring and not yet completed", null,
                tags, q, QueueMetrics::inFlight);
        counter("vhostd.kicks", "Available-buffer notifications (kicks) received from the guest", null,
                tags, q, QueueMetrics::kicks);
        counter("vhostd.guest.notifications", "Used-buffer notifications (interrupts) sent to the guest", null,
                tags, q, QueueMetrics::notificationsSent);
        counter("vhostd.guest.notifications.suppressed",
                "Used-buffer notifications the guest asked not to receive (EVENT_IDX)", null,
                tags, q, QueueMetrics::notificationsSuppressed);
        counter("vhostd.poll.iterations", "Poller loop iterations by whether they found requests", null,
                tags.and("result", "work"), q, x -> x.pollIterations(true));
        counter("vhostd.poll.iterations", "Poller loop iterations by whether they found requests", null,
                tags.and("result", "idle"), q, x -> x.pollIterations(false));
        counter("vhostd.poller.busy", "Time the poller ran (spinning or processing) for the queue", "seconds",
                tags, q, x -> x.busyNanos() / NANOS_PER_SECOND);
        counter("vhostd.poller.blocked", "Time the poller slept waiting for a kick", "seconds",
                tags, q, x -> x.blockedNanos() / NANOS_PER_SECOND);
        counter("vhostd.queue.held.back", "Time the queue's requests were left in the avail ring because the disk"
                + " was over its I/O limit", "seconds", tags, q, x -> x.heldBackNanos() / NANOS_PER_SECOND);
        for (InvalidKind kind : InvalidKind.ALL) {
            counter("vhostd.invalid.guest.input", "Invalid descriptor chains or requests from the guest", null,
                    tags.and("kind", kind.label()), q, x -> x.invalidInputs(kind));
        }
        counter("vhostd.backend.errors", "Storage backend operations that failed", null,
                tags, q, QueueMetrics::backendErrors);
    }

    // Function meters hold their object weakly (a collected one reads as NaN); the objects here
    // live as long as this instance, which keeps every device and through it every queue.
    private <T> void counter(String name, String help, String unit, Tags tags, T obj, ToDoubleFunction<T> f) {
        FunctionCounter.builder(name, obj, f).description(help).baseUnit(unit).tags(tags).register(registry);
    }

    private <T> void gauge(String name, String help, String unit, Tags tags, T obj, ToDoubleFunction<T> f) {
        Gauge.builder(name, obj, f).description(help).baseUnit(unit).tags(tags)
                .strongReference(true).register(registry);
    }

    @Override
    public void close() {
        if (registry != null) {
            gcMetrics.close();
            registry.close();
        }
    }
}
