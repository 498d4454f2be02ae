package dev.vhostd.daemon.guest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Boots a real Linux guest under QEMU (TCG) with one vhost-user-blk-pci disk on a back end's socket and
 * runs a shell script in it, through scripts/guest/prepare.sh and run.sh.
 *
 * <p>The script runs under busybox sh as /test.sh; the disk is /dev/vda; fio (libaio works) and util-linux
 * blkdiscard are there. Busybox prefers its own applets, so call util-linux's as /usr/sbin/blkdiscard
 * (busybox's lacks -z). Report values as {@code RESULT key=value} lines. Exit codes 124 and 125 are taken
 * by the runner (timeout, no result). A boot costs about 7 s of emulated CPU before the script starts.
 */
public final class GuestVm {

    /**
     * @param queues    virtio-blk request queues (the back end must offer at least as many)
     * @param queueSize descriptors per queue, 0 for QEMU's default (128)
     * @param reconnect QEMU waits for the socket and reconnects when the back end restarts
     * @param memMiB    guest RAM, shared with the back end through a memfd
     * @param timeout   QEMU is killed after this long
     * @param qemu      which QEMU boots the guest (default: {@link QemuVersion#primary()})
     */
    public record Options(int queues, int queueSize, boolean reconnect, int memMiB, Duration timeout, QemuVersion qemu) {
        public Options {
            if (queues < 1 || queues > 64) {
                throw new IllegalArgumentException("queues must be 1..64, got " + queues);
            }
            if (queueSize < 0 || queueSize > 1024 || Integer.bitCount(queueSize) > 1) {
                throw new IllegalArgumentException("queueSize must be 0 or a power of two up to 1024, got " + queueSize);
            }
            if (memMiB < 128) {
                throw new IllegalArgumentException("memMiB must be at least 128 (the initramfs alone is ~90 MiB), got " + memMiB);
            }
            if (timeout.toSeconds() < 1) {
                throw new IllegalArgumentException("timeout must be at least a second, got " + timeout);
            }
        }

        public static Options defaults() {
            return new Options(1, 0, false, 512, Duration.ofSeconds(120), QemuVersion.primary());
        }

        public Options withQueues(int n) {
            return new Options(n, queueSize, reconnect, memMiB, timeout, qemu);
        }

        public Options withQueueSize(int n) {
            return new Options(queues, n, reconnect, memMiB, timeout, qemu);
        }

        public Options withReconnect(boolean on) {
            return new Options(queues, queueSize, on, memMiB, timeout, qemu);
        }

        public Options withMemMiB(int mib) {
            return new Options(queues, queueSize, reconnect, mib, timeout, qemu);
        }

        public Options withQemu(QemuVersion q) {
            return new Options(queues, queueSize, reconnect, memMiB, timeout, q);
        }

        public Options withTimeout(Duration t) {
            return new Options(queues, queueSize, reconnect, memMiB, t, qemu);
        }
    }

    private static Path image;

    private GuestVm() {}

    /** Builds the guest image if its inputs changed (cached outside the repo); once per JVM. */
    public static synchronized Path prepare() {
        if (image != null) {
            return image;
        }
        Path prepare = RepoRoot.script("scripts/guest/prepare.sh");
        try {
            Path log = Files.createTempFile("vhostd-guest-prepare", ".log");
            try {
                Process p = new ProcessBuilder(prepare.toString()).redirectErrorStream(false)
                        .redirectOutput(ProcessBuilder.Redirect.PIPE)
                        .redirectError(log.toFile()).start();
                p.getOutputStream().close();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(15, TimeUnit.MINUTES)) {
                    Processes.destroyTree(p);
                    throw new IllegalStateException(prepare + " did not finish in 15 minutes");
                }
                if (p.exitValue() != 0) {
                    throw new IllegalStateException(prepare + " failed (exit " + p.exitValue() + "); run it by hand."
                            + " If packages are missing, run scripts/install-test-deps.sh as root.\n"
                            + Files.readString(log));
                }
                List<String> lines = out.lines().filter(l -> !l.isBlank()).toList();
                if (lines.isEmpty()) {
                    throw new IllegalStateException(prepare + " printed no image directory\n" + Files.readString(log));
                }
                image = Path.of(lines.getLast());
                return image;
            } finally {
                Files.deleteIfExists(log);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + prepare, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while preparing the guest image", e);
        }
    }

    /** Boots a guest against {@code socket}, runs {@code script} as /test.sh, and waits for the result. */
    public static GuestResult run(Path socket, String script, Options options) {
        try (RunningGuest guest = start(socket, script, options)) {
            return guest.await();
        }
    }

    /**
     * Boots a guest and returns at once, for tests that act on the back end while the guest runs
     * (restart it to test reconnection, scrape its metrics). Close the handle to kill the guest.
     */
    public static RunningGuest start(Path socket, String script, Options options) {
        return start(socket, script, options, List.of());
    }

    /**
     * As {@link #start(Path, String, Options)}, with more run.sh arguments: {@code --extra-socket
     * PATH} (another disk), {@code --root-ports N} (q35 with free root ports), {@code --qmp PATH}, {@code
     * --qemu BIN} and {@code --firmware DIR} (another QEMU), {@code --incoming URI} (a migration destination).
     */
    public static RunningGuest start(Path socket, String script, Options options, List<String> moreArgs) {
        Path img = prepare();
        Path run = RepoRoot.script("scripts/guest/run.sh");
        try {
            Path dir = Files.createTempDirectory("vhostd-guest-run");
            Path scriptFile = Files.writeString(dir.resolve("test.sh"), script);
            Path console = dir.resolve("console.log");
            Path runnerLog = dir.resolve("run.log");
            List<String> cmd = new ArrayList<>(List.of(run.toString(),
                    "--image", img.toString(),
                    "--socket", socket.toAbsolutePath().toString(),
                    "--script", scriptFile.toString(),
                    "--queues", Integer.toString(options.queues()),
                    "--mem", options.memMiB() + "M",
                    "--timeout", Long.toString(options.timeout().toSeconds()),
                    "--serial-log", console.toString(),
                    "--qemu", options.qemu().label(),
                    "--quiet"));
            if (options.queueSize() != 0) {
                cmd.addAll(List.of("--queue-size", Integer.toString(options.queueSize())));
            }
            if (options.reconnect()) {
                cmd.add("--reconnect");
            }
            cmd.addAll(moreArgs);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(runnerLog.toFile()).start();
            p.getOutputStream().close();
            return new RunningGuest(p, dir, console, runnerLog, options.timeout());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + run, e);
        }
    }
}
