package dev.vhostd.protocol.frontend;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A qemu-storage-daemon exporting one vhost-user-blk device, the reference back-end the front-end is
 * proven against. Started per test, killed on close; its output goes to a log file in the directory.
 */
public final class QsdProcess implements AutoCloseable {
    private final Process process;
    private final Path socket;
    private final Path log;

    private QsdProcess(Process process, Path socket, Path log) {
        this.process = process;
        this.socket = socket;
        this.log = log;
    }

    /** A null-co disk of {@code size} bytes that reads zeroes and discards writes. */
    public static QsdProcess nullDisk(Path dir, long size, int queues) throws IOException, InterruptedException {
        return start(dir, "driver=null-co,node-name=disk0,size=" + size + ",read-zeroes=on", queues);
    }

    /** A disk backed by the regular file {@code image}. */
    public static QsdProcess fileDisk(Path dir, Path image, int queues) throws IOException, InterruptedException {
        return start(dir, "driver=file,node-name=disk0,filename=" + image + ",cache.direct=off", queues);
    }

    private static QsdProcess start(Path dir, String blockdev, int queues) throws IOException, InterruptedException {
        Path socket = dir.resolve("qsd.sock");
        Path log = dir.resolve("qsd.log");
        List<String> cmd = new ArrayList<>(List.of("qemu-storage-daemon", "--blockdev", blockdev, "--export",
                "type=vhost-user-blk,id=export0,node-name=disk0,addr.type=unix,addr.path=" + socket
                        + ",writable=on,num-queues=" + queues));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(socket)) {
            if (!p.isAlive()) {
                throw new IOException("qemu-storage-daemon exited with " + p.exitValue() + ": " + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException("qemu-storage-daemon did not create " + socket + " within 10 s: " + Files.readString(log));
            }
            Thread.sleep(10);
        }
        return new QsdProcess(p, socket, log);
    }

    public Path socket() {
        return socket;
    }

    public long pid() {
        return process.pid();
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
