package dev.vhostd.protocol.connection;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A VhostUserServer serving on its own thread, with one fresh RecordingHandler per front-end. */
final class ServerFixture implements AutoCloseable {
    final VhostUserServer server;
    final Path path;
    private final Thread thread;
    private final BlockingQueue<RecordingHandler> handlers = new LinkedBlockingQueue<>();
    private final List<RecordingHandler> all = new CopyOnWriteArrayList<>();
    volatile Consumer<RecordingHandler> setup = h -> {};
    volatile Throwable escaped;

    ServerFixture(VhostUserServer server) {
        this.server = server;
        this.path = server.socketPath();
        this.thread = Thread.ofPlatform().name("vhost-user-server-test").start(() -> {
            try {
                server.serve(() -> {
                    RecordingHandler h = new RecordingHandler();
                    setup.accept(h);
                    all.add(h);
                    handlers.add(h);
                    return h;
                });
            } catch (Throwable t) {
                escaped = t;
            }
        });
    }

    static ServerFixture bind(Path path) throws IOException {
        return new ServerFixture(VhostUserServer.bind(path));
    }

    /** The handler of the next accepted front-end. */
    RecordingHandler nextHandler() throws InterruptedException {
        RecordingHandler h = handlers.poll(10, TimeUnit.SECONDS);
        if (h == null) {
            throw new AssertionError("no front-end was accepted within 10 s");
        }
        return h;
    }

    boolean serverThreadAlive() {
        return thread.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        server.close();
        thread.join(10_000);
        all.forEach(RecordingHandler::closeAll);
        if (thread.isAlive()) {
            throw new AssertionError("serve() did not return after close()");
        }
        if (escaped != null) {
            throw new AssertionError("serve() threw", escaped);
        }
    }
}
