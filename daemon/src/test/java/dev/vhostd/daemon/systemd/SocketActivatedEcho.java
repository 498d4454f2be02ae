package dev.vhostd.daemon.systemd;

import org.newsclub.net.unix.AFUNIXSocket;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A socket-activated program run by {@link SocketActivationTest} under systemd-socket-activate: adopts
 * the passed listening socket the way vhostd serve does, reports READY=1, answers one client, and
 * after closing the socket tells the client whether the socket path survived.
 */
public final class SocketActivatedEcho {
    private SocketActivatedEcho() {}

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        ListenFds passed = ListenFds.fromEnvironment();
        ListenFd fd = passed.select("vhostd");
        try (SdNotify notify = SdNotify.fromEnvironment()) {
            InheritedListener server = InheritedListener.adopt(fd);
            notify.ready("adopted fd " + fd.fd());
            try (AFUNIXSocket client = server.accept()) {
                OutputStream out = client.getOutputStream();
                BufferedReader in = new BufferedReader(
                        new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
                out.write(("fd=" + fd.fd() + " name=" + fd.name() + " fds=" + passed.fds().size()
                        + " bound=" + server.address() + "\n").getBytes(StandardCharsets.UTF_8));
                String line = in.readLine();
                out.write(("echo " + line + "\n").getBytes(StandardCharsets.UTF_8));
                server.close();
                out.write(("path-exists-after-close=" + Files.exists(path) + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
            notify.stopping();
        }
    }
}
