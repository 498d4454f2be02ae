package dev.vhostd.daemon.guest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * qemu-storage-daemon exporting one block node as a vhost-user-blk socket: the reference back end that
 * vhostd is compared against, and the peer that proves the guest harness itself works.
 */
public final class QemuStorageDaemon implements AutoCloseable {
    private static final long SOCKET_WAIT_MILLIS = 10_000;

    /** What qemu-storage-daemon serves. */
    public sealed interface Backend {
        String blockdev();

        /** A raw image file, through the host page cache, with a thread pool for I/O. */
        record File(Path image) implements Backend {
            @Override
            public String blockdev() {
                return "driver=file,node-name=disk,filename=" + noComma(image.toAbsolutePath())
                        + ",cache.direct=off,aio=threads";
            }
        }

        /**
         * A raw image file that another process serves at the same time (a live migration's
         * destination): like {@link File}, without QEMU's image locking, which would refuse the second.
         */
        record SharedFile(Path image) implements Backend {
            @Override
            public String blockdev() {
                return new File(image).blockdev() + ",locking=off";
            }
        }

        /** No storage at all (reads return zeroes): measures the transport, not a disk. */
        record NullCo(long sizeBytes) implements Backend {
            public NullCo {
                if (sizeBytes <= 0 || sizeBytes % 512 != 0) {
                    throw new IllegalArgumentException("size must be a positive multiple of 512, got " + sizeBytes);
                }
            }

            @Override
            public String blockdev() {
                return "driver=null-co,node-name=disk,size=" + sizeBytes + ",read-zeroes=on";
            }
        }
    }

    private final Process process;
    private final Path socket;
    private final Path log;

    private QemuStorageDaemon(Process process, Path socket, Path log) {
        this.process = process;
        this.socket = socket;
        this.log = log;
    }

    /** Starts the daemon with {@code queues} request queues and waits until its socket is listening. */
    public static QemuStorageDaemon start(Path socket, Backend backend, int queues) {
        return start(socket, backend, queues, 0);
    }

    /** As {@link #start(Path, Backend, int)}, with a logical block size (512..32768, 0 for the default 512). */
    public static QemuStorageDaemon start(Path socket, Backend backend, int queues, int logicalBlockSize) {
        return start("qemu-storage-daemon", socket, backend, queues, logicalBlockSize);
    }

    /** As {@link #start(Path, Backend, int, int)}, running the qemu-storage-daemon binary {@code binary}. */
    public static QemuStorageDaemon start(String binary, Path socket, Backend backend, int queues,
            int logicalBlockSize) {
        if (queues < 1 || queues > 64) {
            throw new IllegalArgumentException("queues must be 1..64, got " + queues);
        }
        String export = "type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path="
                + noComma(socket.toAbsolutePath()) + ",writable=on,num-queues=" + queues
                + (logicalBlockSize != 0 ? ",logical-block-size=" + logicalBlockSize : "");
        List<String> cmd = List.of(binary, "--blockdev", backend.blockdev(), "--export", export);
        try {
            Files.deleteIfExists(socket);
            Path log = Files.createTempFile("qemu-storage-daemon", ".log");
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            } catch (IOException e) {
                Files.deleteIfExists(log);
                throw new IllegalStateException("cannot run qemu-storage-daemon (package qemu-system-common);"
                        + " run scripts/install-test-deps.sh as root", e);
            }
            p.getOutputStream().close();
            QemuStorageDaemon qsd = new QemuStorageDaemon(p, socket, log);
            qsd.awaitSocket(cmd);
            return qsd;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start qemu-storage-daemon", e);
        }
    }

    public Path socket() {
        return socket;
    }

    /** What the daemon printed so far. */
    public String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + log, e);
        }
    }

    private void awaitSocket(List<String> cmd) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SOCKET_WAIT_MILLIS);
        try {
            while (!Files.exists(socket)) {
                if (!process.isAlive()) {
                    String out = output();
                    close();
                    throw new IllegalStateException("qemu-storage-daemon exited with " + process.exitValue()
                            + " before listening on " + socket + "\ncommand: " + String.join(" ", cmd) + "\n" + out);
                }
                if (System.nanoTime() > deadline) {
                    String out = output();
                    close();
                    throw new IllegalStateException("qemu-storage-daemon did not create " + socket + " within "
                            + SOCKET_WAIT_MILLIS + " ms\ncommand: " + String.join(" ", cmd) + "\n" + out);
                }
                Thread.sleep(20);
            }
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for qemu-storage-daemon", e);
        }
    }

    @Override
    public void close() {
        Processes.destroyTree(process);
        try {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(log);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean up after qemu-storage-daemon", e);
        }
    }

    // qemu's option parser takes ',' as a separator (',,' escapes it); refuse rather than mis-parse.
    private static String noComma(Path path) {
        String s = path.toString();
        if (s.indexOf(',') >= 0) {
            throw new IllegalArgumentException("path must not contain a comma: " + s);
        }
        return s;
    }
}
