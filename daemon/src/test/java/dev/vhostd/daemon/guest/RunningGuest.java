package dev.vhostd.daemon.guest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** A guest booted by {@link GuestVm#start}; {@link #close()} kills it if it is still running. */
public final class RunningGuest implements AutoCloseable {
    /** run.sh kills QEMU itself at the timeout; this is only the margin for it to do so and clean up. */
    private static final Duration RUNNER_GRACE = Duration.ofSeconds(30);

    private final Process process;
    private final Path dir;
    private final Path console;
    private final Path runnerLog;
    private final Duration timeout;

    RunningGuest(Process process, Path dir, Path console, Path runnerLog, Duration timeout) {
        this.process = process;
        this.dir = dir;
        this.console = console;
        this.runnerLog = runnerLog;
        this.timeout = timeout;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The guest console so far (QEMU writes it live), carriage returns removed. */
    public String consoleSoFar() {
        return readOrEmpty(console).replace("\r", "");
    }

    /**
     * Waits until the guest prints a console line starting with {@code prefix} (a script's way of saying
     * "ready" to the host); fails with the console when the guest ends first or {@code limit} passes.
     */
    public void awaitConsoleLine(String prefix, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        try {
            while (consoleSoFar().lines().noneMatch(l -> l.startsWith(prefix))) {
                if (!process.isAlive()) {
                    throw new AssertionError("the guest ended before printing '" + prefix + "'\n"
                            + GuestResult.of(process.exitValue(), readOrEmpty(console), readOrEmpty(runnerLog)).describe());
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the guest did not print '" + prefix + "' within " + limit
                            + "\n--- guest console ---\n" + consoleSoFar());
                }
                Thread.sleep(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the guest", e);
        }
    }

    /** Waits for the guest to power off (or the timeout) and returns what it reported. */
    public GuestResult await() {
        try {
            if (!process.waitFor(timeout.plus(RUNNER_GRACE).toMillis(), TimeUnit.MILLISECONDS)) {
                Processes.destroyTree(process);
                return GuestResult.of(GuestResult.TIMED_OUT, readOrEmpty(console),
                        readOrEmpty(runnerLog) + "\nrun.sh itself did not exit; killed it");
            }
            return GuestResult.of(process.exitValue(), readOrEmpty(console), readOrEmpty(runnerLog));
        } catch (InterruptedException e) {
            Processes.destroyTree(process);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the guest", e);
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            Processes.destroyTree(process);
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }

    private static String readOrEmpty(Path file) {
        try {
            // The console is written by QEMU and can carry any bytes; decode leniently.
            return Files.exists(file) ? new String(Files.readAllBytes(file), StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
