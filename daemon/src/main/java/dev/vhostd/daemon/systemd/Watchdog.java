package dev.vhostd.daemon.systemd;

import dev.vhostd.sys.Libc;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Pings the service manager's watchdog (WatchdogSec=, sd_watchdog_enabled(3)) from a daemon thread
 * every half interval, as sd_notify(3) recommends, but only while {@code healthy} says the daemon is
 * doing its job. A stuck accept loop then stops the pings and systemd restarts the service
 * (Restart=on-failure) instead of leaving QEMU waiting on a dead backend forever.
 */
public final class Watchdog implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Watchdog.class.getName());

    private final SdNotify notify;
    private final BooleanSupplier healthy;
    private final Duration period;
    private final Thread thread;
    private final AtomicLong pings = new AtomicLong();
    private volatile boolean running = true;

    private Watchdog(SdNotify notify, BooleanSupplier healthy, Duration period) {
        this.notify = notify;
        this.healthy = healthy;
        this.period = period;
        this.thread = Thread.ofPlatform().daemon().name("vhostd-watchdog").unstarted(this::run);
    }

    /** The watchdog interval systemd expects pings within, if enabled for this process. */
    public static Optional<Duration> interval(Map<String, String> env, long ourPid) {
        String usec = env.get("WATCHDOG_USEC");
        if (usec == null) {
            return Optional.empty();
        }
        long micros = parsePositive(usec);
        if (micros <= 0) {
            LOG.log(System.Logger.Level.WARNING, "WATCHDOG_USEC='" + usec + "' is not a positive number of "
                    + "microseconds: not pinging the watchdog (systemd may then kill vhostd; check WatchdogSec=)");
            return Optional.empty();
        }
        String pid = env.get("WATCHDOG_PID");
        // Unset means "this process"; set to another pid means the watchdog belongs to a parent.
        if (pid != null && parsePositive(pid) != ourPid) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofNanos(TimeUnit.MICROSECONDS.toNanos(micros)));
    }

    /** Starts pinging if this process's environment enables the watchdog. */
    public static Optional<Watchdog> startFromEnvironment(SdNotify notify, BooleanSupplier healthy) {
        return start(System.getenv(), Libc.getpid(), notify, healthy);
    }

    /** Starts pinging if {@code env} enables the watchdog for {@code ourPid}. */
    public static Optional<Watchdog> start(Map<String, String> env, long ourPid, SdNotify notify,
                                           BooleanSupplier healthy) {
        Objects.requireNonNull(notify, "notify");
        Objects.requireNonNull(healthy, "healthy");
        if (!notify.isEnabled()) {
            return Optional.empty();
        }
        return interval(env, ourPid).map(i -> {
            Watchdog w = new Watchdog(notify, healthy, i.dividedBy(2));
            w.thread.start();
            return w;
        });
    }

    /** How often a ping is attempted: half the watchdog interval. */
    public Duration period() {
        return period;
    }

    /** Pings sent so far. */
    public long pings() {
        return pings.get();
    }

    private void run() {
        long periodNanos = Math.max(1, period.toNanos());
        long next = System.nanoTime();
        boolean wasHealthy = true;
        while (running) {
            boolean ok;
            try {
                ok = healthy.getAsBoolean();
            } catch (RuntimeException e) {
                if (wasHealthy) {
                    LOG.log(System.Logger.Level.ERROR, "watchdog health check threw; treating as unhealthy", e);
                }
                ok = false;
            }
            if (ok) {
                if (notify.watchdog()) {
                    pings.incrementAndGet();
                }
                if (!wasHealthy) {
                    LOG.log(System.Logger.Level.INFO, "health check passes again; watchdog pings resumed");
                }
            } else if (wasHealthy) {
                LOG.log(System.Logger.Level.ERROR, "health check failed: withholding watchdog pings so the "
                        + "service manager restarts vhostd");
            }
            wasHealthy = ok;
            next += periodNanos;
            long wait;
            while (running && (wait = next - System.nanoTime()) > 0) {
                LockSupport.parkNanos(this, wait);
            }
        }
    }

    /** Stops pinging (call before STOPPING=1 and shutdown) and waits for the thread to end. */
    @Override
    public void close() {
        running = false;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static long parsePositive(String s) {
        return EnvDecimal.parse(s, 18);
    }
}
