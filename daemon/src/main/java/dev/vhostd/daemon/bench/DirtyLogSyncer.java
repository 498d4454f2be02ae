package dev.vhostd.daemon.bench;

import java.util.concurrent.atomic.AtomicLong;

import dev.vhostd.protocol.frontend.DirtyLogArea;

/** Takes and clears the dirty log every 100 ms on a daemon thread, as QEMU's migration thread does. */
final class DirtyLogSyncer implements AutoCloseable {
    private final Thread thread;
    private final AtomicLong pages = new AtomicLong();
    private volatile boolean running = true;

    DirtyLogSyncer(DirtyLogArea log) {
        thread = Thread.ofPlatform().daemon(true).name("dirty-log-sync").start(() -> {
            while (running) {
                pages.addAndGet(log.takeAll());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    long pages() {
        return pages.get();
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.interrupt();
        thread.join();
    }
}
