package dev.vhostd.daemon.guest;

import java.util.List;
import java.util.concurrent.TimeUnit;

/** Stops a child process and everything it started (run.sh starts timeout, which starts QEMU). */
final class Processes {
    private Processes() {}

    static void destroyTree(Process process) {
        List<ProcessHandle> children = process.descendants().toList();
        process.destroy();
        children.forEach(ProcessHandle::destroy);
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        children.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }
}
